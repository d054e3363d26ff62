// config.h
//
// Config: every setting of the server in one struct, filled in one place from
// command-line flags and the environment (a flag that is given wins over the
// variable), and validated once at start-up. Each setting has one environment
// variable name (the seed's names where the old module had one) and a flag
// spelled as the lower-case variable name: POSTGRES_HOST <-> --postgres_host.
//
// Example:
//   absl::StatusOr<Config> config = LoadConfig(FlagsThenEnvironment());
//   if (!config.ok()) { std::cerr << config.status().message(); return 2; }
#ifndef CHATGENIUS_SERVER_APP_CONFIG_H_
#define CHATGENIUS_SERVER_APP_CONFIG_H_

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/auth/end_user_jwt.h"
#include "server/common/host_port.h"
#include "server/db/cancel_watcher.h"
#include "server/db/connection_pool.h"
#include "server/db/database.h"
#include "server/store/content_limits.h"
#include "server/tunnel/tunnel_settings.h"

namespace chatgenius {

// MigrateMode says what the server does with pending migrations at start-up.
enum class MigrateMode {
  kAuto,   // apply pending migrations (under an advisory lock)
  kCheck,  // apply nothing; stay NOT_SERVING while anything is pending or mismatched
  kOff,    // apply nothing and check nothing at start-up
};

// Config is the validated configuration. Field comments give the variable
// and default; see ConfigSettings() for the full table.
struct Config {
  std::string listen_address = "127.0.0.1:50051";  // LISTEN_ADDRESS
  bool reflection = true;                          // REFLECTION (default: loopback only)

  // POSTGRES_HOST: a name, address or socket directory; or, for a primary
  // that can move (an HA pair), a comma-separated list of host[:port]
  // tried in order for a session that can write (libpq multi-host).
  std::string postgres_host = "localhost";
  int postgres_port = 5432;  // POSTGRES_PORT (and the port of list entries without one)
  // libpq target_session_attrs of every primary session: read-write skips
  // hosts that are standbys or read-only (so after a failover new sessions
  // find the new primary); any connects to whatever answers.
  std::string postgres_target_session_attrs = "read-write";  // POSTGRES_TARGET_SESSION_ATTRS
  std::string postgres_db = "chatgenius";   // POSTGRES_DB
  std::string postgres_user = "postgres";   // POSTGRES_USER
  std::string postgres_password;            // POSTGRES_PASSWORD (secret)
  // Role that applies migrations (owns the schema); empty: POSTGRES_USER.
  // Serving with a DML-only POSTGRES_USER is docs/LEAST_PRIVILEGE.md.
  std::string postgres_migration_user;      // POSTGRES_MIGRATION_USER
  std::string postgres_migration_password;  // POSTGRES_MIGRATION_PASSWORD (secret)
  std::string postgres_sslmode = "prefer";  // POSTGRES_SSLMODE
  absl::Duration postgres_connect_timeout = absl::Seconds(5);  // POSTGRES_CONNECT_TIMEOUT_MS
  // Session limits on every connection (libpq options) and TCP liveness.
  absl::Duration postgres_lock_timeout = absl::Seconds(10);  // POSTGRES_LOCK_TIMEOUT_MS
  absl::Duration postgres_idle_in_transaction_timeout =
      absl::Seconds(30);  // POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_MS
  absl::Duration postgres_tcp_timeout = absl::Seconds(30);  // POSTGRES_TCP_TIMEOUT_MS
  // A call that gave up (deadline or cancel) has its statement cancelled;
  // still running this long after, its connection is cut.
  absl::Duration postgres_cancel_grace =
      CancelSettings().cut_off_after;                       // POSTGRES_CANCEL_GRACE_MS
  bool use_test_database = false;                           // USE_TEST_DATABASE -> TEST_POSTGRES_*

  // The pool's own defaults (server/db/connection_pool.h).
  int pool_max_size = PoolSettings().max_size;                           // POOL_MAX_SIZE
  absl::Duration pool_acquire_timeout = PoolSettings().acquire_timeout;  // POOL_ACQUIRE_TIMEOUT_MS
  absl::Duration pool_idle_check_after = PoolSettings().idle_check_after;  // POOL_IDLE_CHECK_MS
  absl::Duration pool_max_lifetime = PoolSettings().max_lifetime;          // POOL_MAX_LIFETIME_MS
  absl::Duration statement_timeout = absl::Seconds(30);     // STATEMENT_TIMEOUT_MS

  MigrateMode migrate_mode = MigrateMode::kAuto;  // MIGRATE_MODE

  absl::Duration health_probe_interval = absl::Seconds(1);  // HEALTH_PROBE_INTERVAL_MS
  int health_failure_threshold = 2;                         // HEALTH_FAILURE_THRESHOLD

  // PAGE_TOKEN_KEY (secret). Empty: a random key per process, so page
  // tokens do not survive a restart or cross replicas.
  std::string page_token_key;

  // SSH tunnel, enabled when SSH_HOST is set. The pool then connects to the
  // tunnel's local endpoint and POSTGRES_HOST is not used; POSTGRES_PORT
  // names the local endpoint (socket name or loopback TCP port).
  std::string ssh_host;                                    // SSH_HOST
  // The tunnel's own defaults (server/tunnel/tunnel_settings.h).
  int ssh_port = TunnelSettings().ssh_port;                // SSH_PORT
  std::string ssh_user;                                    // SSH_USER (default: the current user)
  std::string ssh_key_path;                                // SSH_KEY_PATH (~ expanded)
  std::string ssh_key_passphrase;                          // SSH_KEY_PASSPHRASE (secret)
  std::string ssh_known_hosts;                             // SSH_KNOWN_HOSTS (~ expanded)
  bool ssh_accept_new_host_key = false;                    // SSH_ACCEPT_NEW_HOST_KEY
  int ssh_max_retries = TunnelSettings().max_retries;      // SSH_MAX_RETRIES
  absl::Duration ssh_retry_delay = TunnelSettings().retry_delay;  // SSH_RETRY_DELAY (ms)
  absl::Duration ssh_retry_max_delay =
      TunnelSettings().max_retry_delay;  // SSH_RETRY_MAX_DELAY (ms)
  absl::Duration ssh_health_check_interval =
      TunnelSettings().health_check_interval;            // SSH_HEALTH_CHECK_INTERVAL
  int ssh_max_channels = TunnelSettings().max_channels;  // SSH_MAX_CHANNELS
  bool ssh_local_tcp = false;                      // SSH_LOCAL_ENDPOINT=tcp (default unix)
  std::string postgres_remote_host = TunnelSettings().remote_host;  // POSTGRES_REMOTE_HOST
  int postgres_remote_port = TunnelSettings().remote_port;          // POSTGRES_REMOTE_PORT

  bool ssh_enabled() const { return !ssh_host.empty(); }

  // Read replicas (server/db/database.h): autocommit reads go to them while
  // they are provably fresh; writes and transactions stay on the primary.
  // With SSH_HOST each gets its own tunnel to host:port from the SSH host.
  std::vector<HostPort> postgres_replica_hosts;  // POSTGRES_REPLICA_HOSTS
  absl::Duration postgres_replica_max_lag =
      ReplicaRouting().max_staleness;                                // POSTGRES_REPLICA_MAX_LAG_MS
  absl::Duration postgres_replica_wait = ReplicaRouting().lsn_wait;  // POSTGRES_REPLICA_WAIT_MS
  absl::Duration postgres_replica_check =
      ReplicaRouting().check_interval;  // POSTGRES_REPLICA_CHECK_MS

  // TLS: both files set = TLS on; with a client CA, clients must present a
  // certificate it signed (mTLS). Plaintext is allowed on loopback only,
  // unless ALLOW_PLAINTEXT_NON_LOOPBACK says otherwise.
  std::string tls_cert_file;                  // TLS_CERT_FILE (PEM chain)
  std::string tls_key_file;                   // TLS_KEY_FILE (PEM)
  std::string tls_client_ca_file;             // TLS_CLIENT_CA_FILE (PEM)
  bool allow_plaintext_non_loopback = false;  // ALLOW_PLAINTEXT_NON_LOOPBACK
  bool tls_enabled() const { return !tls_cert_file.empty(); }

  // Graceful shutdown on SIGTERM/SIGINT: NOT_SERVING at once, keep serving
  // for the drain delay so load balancers notice, then wait up to the grace
  // period for calls in flight.
  absl::Duration shutdown_drain = absl::Seconds(3);   // SHUTDOWN_DRAIN_MS
  absl::Duration shutdown_grace = absl::Seconds(10);  // SHUTDOWN_GRACE_MS

  // gRPC server limits per client connection. Streams: high enough for a
  // gateway that multiplexes its users' streams over one connection.
  // Threads of the sync (unary) services, gRPC's pollers included; event
  // streams and health checks use the callback API and need none.
  int grpc_max_threads = 200;  // GRPC_MAX_THREADS
  int grpc_max_concurrent_streams = 10000;  // GRPC_MAX_CONCURRENT_STREAMS
  absl::Duration grpc_max_connection_age = absl::Minutes(30);  // GRPC_MAX_CONNECTION_AGE_MS
  absl::Duration grpc_max_connection_age_grace =
      absl::Seconds(30);  // GRPC_MAX_CONNECTION_AGE_GRACE_MS
  absl::Duration grpc_keepalive_min_interval = absl::Seconds(10);  // GRPC_KEEPALIVE_MIN_INTERVAL_MS

  // Caller auth: with a tokens file every call needs "authorization: Bearer
  // <token>" whose SHA-256 is in the file, except calls to exempt services.
  std::string auth_tokens_file;                                   // AUTH_TOKENS_FILE
  std::set<std::string> auth_exempt = {"grpc.health.v1.Health"};  // AUTH_EXEMPT
  bool auth_enabled() const { return !auth_tokens_file.empty(); }

  // End-user tokens (END_USER_JWT_*): off unless a key source is set; then
  // acting users must match the verified x-end-user-token.
  JwtSettings end_user_jwt;

  // What may accumulate on one message (server/store/content_limits.h), and
  // the URL schemes attachments may point at.
  ContentLimits content_limits;
  std::set<std::string> storage_url_schemes = {"https", "s3", "gs"};  // STORAGE_URL_SCHEMES

  std::string metrics_address;      // METRICS_ADDRESS (empty = no metrics endpoint)
  std::string log_format = "text";  // LOG_FORMAT: text | json
  std::string log_level = "info";   // LOG_LEVEL: debug | info | warn | error

  absl::Duration event_retention = absl::Hours(24 * 7);           // EVENT_RETENTION_HOURS
  // Local commits wake the sequencer; other replicas' are found this often.
  absl::Duration event_sequencer_poll = absl::Milliseconds(10);  // EVENT_SEQUENCER_POLL_MS
  int event_stream_queue = 1000;                                  // EVENT_STREAM_QUEUE
  int event_stream_queue_bytes = 4 << 20;                         // EVENT_STREAM_QUEUE_BYTES
  absl::Duration event_stream_write_timeout = absl::Seconds(30);  // EVENT_STREAM_WRITE_TIMEOUT_MS
  // Threads that write live events to streams (one stream's gRPC write is
  // ~20 us, so a fan-out to 10,000 streams needs more than one core).
  int event_fanout_threads = 2;                                   // EVENT_FANOUT_THREADS
  int max_event_streams = 20000;                                  // MAX_EVENT_STREAMS
  int max_event_streams_per_caller = 10000;                       // MAX_EVENT_STREAMS_PER_CALLER

  // ConnInfo returns the libpq connection string of the primary (every
  // POSTGRES_HOST entry), password included. Never log it; use
  // RedactedConnInfo().
  std::string ConnInfo() const;
  // MigrationConnInfo is ConnInfo as the migration role.
  std::string MigrationConnInfo() const;
  // ConnInfoVia is ConnInfo with another host and port (the tunnel's local
  // endpoint).
  std::string ConnInfoVia(const std::string& host, int port) const;
  // MigrationConnInfoVia is ConnInfoVia as the migration role.
  std::string MigrationConnInfoVia(const std::string& host, int port) const;
  // ReplicaConnInfoVia: a read replica at host:port (no
  // target_session_attrs: it is a standby).
  std::string ReplicaConnInfoVia(const std::string& host, int port) const;
  // RedactedConnInfo is ConnInfo with the password replaced by "***".
  std::string RedactedConnInfo() const;
  // Describe returns "NAME=value" lines of the main settings, secrets
  // masked: the start-up log's summary.
  std::vector<std::string> Describe() const;

  // read_settings: every variable LoadConfig read, with the value it used
  // (the default when unset; as given, before ~ expansion; secrets "***").
  // Empty for a Config not made by LoadConfig.
  std::map<std::string, std::string> read_settings;
};

// ConfigSetting documents one setting: its variable, default and meaning.
struct ConfigSetting {
  const char* env_name;
  const char* default_value;
  const char* help;
  bool secret;
};

// ConfigSettings lists every setting LoadConfig reads, in README order.
const std::vector<ConfigSetting>& ConfigSettings();

// ConfigLookup returns the raw value of a setting by variable name, or
// nullopt when it is not set.
using ConfigLookup = std::function<std::optional<std::string>(absl::string_view env_name)>;

// LoadConfig reads every setting through `lookup`, applies defaults and
// validates. On error returns INVALID_ARGUMENT whose message names the
// variable and the accepted values, e.g.
// "POOL_MAX_SIZE: must be an integer between 1 and 1000, got 'ten'".
[[nodiscard]] absl::StatusOr<Config> LoadConfig(const ConfigLookup& lookup);

// FlagsThenEnvironment returns a lookup that prefers the command-line flag
// (--postgres_host) when it was given and otherwise reads the environment
// variable. Call after absl::ParseCommandLine.
ConfigLookup FlagsThenEnvironment();

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_APP_CONFIG_H_
