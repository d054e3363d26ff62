// config_settings.cc: the settings table behind config.h's ConfigSettings
// and FlagsThenEnvironment (LoadConfig, in config.cc, reads these names;
// config_test holds the two to each other).
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/app/config.h"

// The one table of settings: flag name, variable, default, help, secret.
// It defines the flags and feeds ConfigSettings(), so the two cannot drift.
#define CG_CONFIG_SETTINGS(X)                                                                      \
  X(listen_address, "LISTEN_ADDRESS", "127.0.0.1:50051",                                           \
    "gRPC listen address host:port (port 0 picks a free port)", false)                             \
  X(reflection, "REFLECTION", "true on a loopback LISTEN_ADDRESS, else false",                     \
    "serve gRPC server reflection (true/false)", false)                                            \
  X(postgres_host, "POSTGRES_HOST", "localhost", "PostgreSQL host name, IP, or socket directory",  \
    false)                                                                                         \
  X(postgres_port, "POSTGRES_PORT", "5432", "PostgreSQL port", false)                              \
  X(postgres_target_session_attrs, "POSTGRES_TARGET_SESSION_ATTRS", "read-write",                  \
    "read-write or primary: connect only to a host that can write (an HA list); any", false)       \
  X(postgres_db, "POSTGRES_DB", "chatgenius", "database name", false)                              \
  X(postgres_user, "POSTGRES_USER", "postgres", "database user", false)                            \
  X(postgres_password, "POSTGRES_PASSWORD", "", "database password (never logged)", true)          \
  X(postgres_sslmode, "POSTGRES_SSLMODE", "prefer",                                                \
    "libpq sslmode: disable, allow, prefer, require, verify-ca, verify-full", false)               \
  X(postgres_connect_timeout_ms, "POSTGRES_CONNECT_TIMEOUT_MS", "5000",                            \
    "timeout for opening one database connection", false)                                          \
  X(postgres_lock_timeout_ms, "POSTGRES_LOCK_TIMEOUT_MS", "10000",                                 \
    "longest wait of one statement for a lock (session lock_timeout; 0 = none)", false)            \
  X(postgres_idle_in_transaction_timeout_ms, "POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_MS", "30000",   \
    "a session idle inside a transaction this long is ended, releasing its locks", false)          \
  X(postgres_tcp_timeout_ms, "POSTGRES_TCP_TIMEOUT_MS", "30000",                                   \
    "a TCP connection whose peer stays silent this long is dropped (keepalives, "                  \
    "tcp_user_timeout)",                                                                           \
    false)                                                                                         \
  X(postgres_cancel_grace_ms, "POSTGRES_CANCEL_GRACE_MS", "1000",                                  \
    "after a call gives up, how long its statement may run before its connection is cut", false)   \
  X(use_test_database, "USE_TEST_DATABASE", "false",                                               \
    "use TEST_POSTGRES_DB/USER/PASSWORD (and TEST_POSTGRES_HOST/PORT if set)", false)              \
  X(test_postgres_host, "TEST_POSTGRES_HOST", "", "test database host (default: POSTGRES_HOST)",   \
    false)                                                                                         \
  X(test_postgres_port, "TEST_POSTGRES_PORT", "", "test database port (default: POSTGRES_PORT)",   \
    false)                                                                                         \
  X(test_postgres_db, "TEST_POSTGRES_DB", "chatgenius_test", "test database name", false)          \
  X(test_postgres_user, "TEST_POSTGRES_USER", "", "test database user (default: POSTGRES_USER)",   \
    false)                                                                                         \
  X(test_postgres_password, "TEST_POSTGRES_PASSWORD", "",                                          \
    "test database password (default: POSTGRES_PASSWORD; never logged)", true)                     \
  X(pool_max_size, "POOL_MAX_SIZE", "10", "maximum database connections (1..1000)", false)         \
  X(pool_acquire_timeout_ms, "POOL_ACQUIRE_TIMEOUT_MS", "5000",                                    \
    "longest wait for a free connection before UNAVAILABLE", false)                                \
  X(pool_idle_check_ms, "POOL_IDLE_CHECK_MS", "5000",                                              \
    "probe a connection idle longer than this before reusing it", false)                           \
  X(pool_max_lifetime_ms, "POOL_MAX_LIFETIME_MS", "3600000",                                       \
    "close connections older than this when they are released", false)                             \
  X(statement_timeout_ms, "STATEMENT_TIMEOUT_MS", "30000",                                         \
    "statement timeout when the caller sets no shorter gRPC deadline", false)                      \
  X(migrate_mode, "MIGRATE_MODE", "auto",                                                          \
    "auto (apply pending), check (not ready while pending), off", false)                           \
  X(health_probe_interval_ms, "HEALTH_PROBE_INTERVAL_MS", "1000",                                  \
    "interval of the readiness probe", false)                                                      \
  X(health_failure_threshold, "HEALTH_FAILURE_THRESHOLD", "2",                                     \
    "consecutive failed probes before NOT_SERVING", false)                                         \
  X(page_token_key, "PAGE_TOKEN_KEY", "",                                                          \
    "HMAC key for page tokens; share it between replicas (never logged)", true)                    \
  X(ssh_host, "SSH_HOST", "", "SSH bastion host; set to reach PostgreSQL through a tunnel", false) \
  X(ssh_port, "SSH_PORT", "22", "SSH port", false)                                                 \
  X(ssh_user, "SSH_USER", "", "SSH user (default: the current user)", false)                       \
  X(ssh_key_path, "SSH_KEY_PATH", "~/.ssh/id_ed25519", "private key file (~ expanded)", false)     \
  X(ssh_key_passphrase, "SSH_KEY_PASSPHRASE", "", "passphrase of the key (never logged)", true)    \
  X(ssh_known_hosts, "SSH_KNOWN_HOSTS", "~/.ssh/known_hosts",                                      \
    "known_hosts file for strict host-key checking", false)                                        \
  X(ssh_accept_new_host_key, "SSH_ACCEPT_NEW_HOST_KEY", "false",                                   \
    "record an unknown host key on first connect (like accept-new); never a changed one", false)   \
  X(ssh_max_retries, "SSH_MAX_RETRIES", "3",                                                       \
    "failed attempts in a row before maxRetriesExceeded (retrying continues)", false)              \
  X(ssh_retry_delay, "SSH_RETRY_DELAY", "1000", "reconnect backoff base, ms", false)               \
  X(ssh_retry_max_delay, "SSH_RETRY_MAX_DELAY", "30000", "reconnect backoff cap, ms", false)       \
  X(ssh_health_check_interval, "SSH_HEALTH_CHECK_INTERVAL", "30000",                               \
    "keepalive interval, ms; a hung server is detected within two", false)                         \
  X(ssh_max_channels, "SSH_MAX_CHANNELS", "32",                                                    \
    "concurrent forwarded connections (at least POOL_MAX_SIZE)", false)                            \
  X(ssh_local_endpoint, "SSH_LOCAL_ENDPOINT", "unix",                                              \
    "unix (socket in a private 0700 directory) or tcp (127.0.0.1:POSTGRES_PORT)", false)           \
  X(postgres_remote_host, "POSTGRES_REMOTE_HOST", "localhost",                                     \
    "PostgreSQL host as seen from the SSH host", false)                                            \
  X(postgres_remote_port, "POSTGRES_REMOTE_PORT", "5432",                                          \
    "PostgreSQL port as seen from the SSH host", false)                                            \
  X(postgres_replica_hosts, "POSTGRES_REPLICA_HOSTS", "",                                          \
    "read replicas, comma-separated host:port (with SSH_HOST: as seen from the SSH host)", false)  \
  X(postgres_replica_max_lag_ms, "POSTGRES_REPLICA_MAX_LAG_MS", "1000",                            \
    "a replica serves reads only while provably at most this far behind the primary", false)       \
  X(postgres_replica_wait_ms, "POSTGRES_REPLICA_WAIT_MS", "20",                                    \
    "a read carrying chatgenius-min-lsn waits this long for a replica, then reads the primary",    \
    false)                                                                                         \
  X(postgres_replica_check_ms, "POSTGRES_REPLICA_CHECK_MS", "100",                                 \
    "interval of the replicas' health and lag checks", false)                                      \
  X(event_sequencer_poll_ms, "EVENT_SEQUENCER_POLL_MS", "10",                                      \
    "the sequencer leader looks for other replicas' committed events this often", false)           \
  X(event_retention_hours, "EVENT_RETENTION_HOURS", "168",                                         \
    "events older than this are pruned; older resume cursors get OUT_OF_RANGE", false)             \
  X(event_stream_queue, "EVENT_STREAM_QUEUE", "1000",                                              \
    "undelivered events one Subscribe stream may queue before RESOURCE_EXHAUSTED", false)          \
  X(event_stream_queue_bytes, "EVENT_STREAM_QUEUE_BYTES", "4194304",                               \
    "undelivered bytes one Subscribe stream may queue before RESOURCE_EXHAUSTED", false)           \
  X(event_stream_write_timeout_ms, "EVENT_STREAM_WRITE_TIMEOUT_MS", "30000",                       \
    "a stream whose client has not taken the last event for this long is cut off", false)          \
  X(event_fanout_threads, "EVENT_FANOUT_THREADS", "2",                                             \
    "threads writing live events to Subscribe streams (the gRPC writes of a fan-out)", false)      \
  X(max_event_streams, "MAX_EVENT_STREAMS", "20000", "Subscribe streams the process holds", false) \
  X(max_event_streams_per_caller, "MAX_EVENT_STREAMS_PER_CALLER", "10000",                         \
    "Subscribe streams one caller (bearer token, or peer host without auth) may hold", false)      \
  X(postgres_migration_user, "POSTGRES_MIGRATION_USER", "",                                        \
    "role that applies migrations (default: POSTGRES_USER)", false)                                \
  X(postgres_migration_password, "POSTGRES_MIGRATION_PASSWORD", "",                                \
    "its password (default: POSTGRES_PASSWORD; never logged)", true)                               \
  X(tls_cert_file, "TLS_CERT_FILE", "",                                                            \
    "server certificate chain (PEM); set with TLS_KEY_FILE to serve TLS", false)                   \
  X(tls_key_file, "TLS_KEY_FILE", "", "server private key (PEM)", false)                           \
  X(tls_client_ca_file, "TLS_CLIENT_CA_FILE", "",                                                  \
    "CA (PEM) that must sign client certificates (mTLS)", false)                                   \
  X(allow_plaintext_non_loopback, "ALLOW_PLAINTEXT_NON_LOOPBACK", "false",                         \
    "serve plaintext on a non-loopback LISTEN_ADDRESS", false)                                     \
  X(shutdown_drain_ms, "SHUTDOWN_DRAIN_MS", "3000",                                                \
    "after SIGTERM: NOT_SERVING but still serving for this long", false)                           \
  X(shutdown_grace_ms, "SHUTDOWN_GRACE_MS", "10000", "then: longest wait for calls in flight",     \
    false)                                                                                         \
  X(grpc_max_threads, "GRPC_MAX_THREADS", "200",                                                   \
    "threads serving unary calls; a call finding none free gets RESOURCE_EXHAUSTED at once",       \
    false)                                                                                         \
  X(grpc_max_concurrent_streams, "GRPC_MAX_CONCURRENT_STREAMS", "10000",                           \
    "calls and streams one client connection may have open at once", false)                        \
  X(grpc_max_connection_age_ms, "GRPC_MAX_CONNECTION_AGE_MS", "1800000",                           \
    "connections are closed (GOAWAY) after this long, so clients rebalance; 0 = never", false)     \
  X(grpc_max_connection_age_grace_ms, "GRPC_MAX_CONNECTION_AGE_GRACE_MS", "30000",                 \
    "calls still running on an aged connection get this long before it closes", false)             \
  X(grpc_keepalive_min_interval_ms, "GRPC_KEEPALIVE_MIN_INTERVAL_MS", "10000",                     \
    "clients pinging more often than this are disconnected (keepalive enforcement)", false)        \
  X(auth_tokens_file, "AUTH_TOKENS_FILE", "",                                                      \
    "file of SHA-256 hashes of accepted bearer tokens; set = every call needs a token", false)     \
  X(auth_exempt, "AUTH_EXEMPT", "grpc.health.v1.Health",                                           \
    "comma-separated services callable without a token", false)                                    \
  X(end_user_jwt_hs256_secret_file, "END_USER_JWT_HS256_SECRET_FILE", "",                          \
    "end-user tokens: file holding the HS256 secret (at least 32 bytes)", false)                   \
  X(end_user_jwt_public_key_files, "END_USER_JWT_PUBLIC_KEY_FILES", "",                            \
    "end-user tokens: comma-separated PEM public keys (RSA: RS256, EC P-256: ES256)", false)       \
  X(end_user_jwt_jwks_file, "END_USER_JWT_JWKS_FILE", "",                                          \
    "end-user tokens: a JWKS file, re-read when it changes", false)                                \
  X(end_user_jwt_issuer, "END_USER_JWT_ISSUER", "", "end-user tokens: the required iss", false)    \
  X(end_user_jwt_audience, "END_USER_JWT_AUDIENCE", "",                                            \
    "end-user tokens: the audience aud must contain", false)                                       \
  X(end_user_jwt_leeway_s, "END_USER_JWT_LEEWAY_S", "60",                                          \
    "end-user tokens: clock skew allowed on exp and nbf, seconds", false)                          \
  X(storage_url_schemes, "STORAGE_URL_SCHEMES", "https,s3,gs",                                     \
    "URL schemes an attachment's storage_url may use", false)                                      \
  X(search_max_candidates, "SEARCH_MAX_CANDIDATES", "10000",                                       \
    "SearchMessages ranks only the newest this many matches (bounds the work per query)", false)   \
  X(max_response_bytes, "MAX_RESPONSE_BYTES", "3145728",                                           \
    "a page of messages ends early, with a next page token, past this many bytes", false)          \
  X(max_attachments_per_message, "MAX_ATTACHMENTS_PER_MESSAGE", "10",                              \
    "attachments one message may hold", false)                                                     \
  X(max_emoji_per_message, "MAX_EMOJI_PER_MESSAGE", "50",                                          \
    "distinct reaction emoji one message may hold", false)                                         \
  X(max_reactions_per_user_per_message, "MAX_REACTIONS_PER_USER_PER_MESSAGE", "20",                \
    "reactions one user may add to one message", false)                                            \
  X(metrics_address, "METRICS_ADDRESS", "",                                                        \
    "host:port of the Prometheus /metrics HTTP endpoint (empty = off)", false)                     \
  X(log_format, "LOG_FORMAT", "text", "text or json (one JSON object per line)", false)            \
  X(log_level, "LOG_LEVEL", "info", "debug, info, warn or error", false)

#define CG_DEFINE_FLAG(flag, env, def, help, secret) \
  ABSL_FLAG(std::string, flag, "", absl::StrCat(help, " [env ", env, ", default '", def, "']"));
CG_CONFIG_SETTINGS(CG_DEFINE_FLAG)
#undef CG_DEFINE_FLAG

namespace chatgenius {

const std::vector<ConfigSetting>& ConfigSettings() {
  static const auto* settings = new std::vector<ConfigSetting>{
#define CG_SETTING_ROW(flag, env, def, help, secret) {env, def, help, secret},
      CG_CONFIG_SETTINGS(CG_SETTING_ROW)
#undef CG_SETTING_ROW
  };
  return *settings;
}

ConfigLookup FlagsThenEnvironment() {
  return [](absl::string_view env_name) -> std::optional<std::string> {
    std::string flag_name = absl::AsciiStrToLower(env_name);
    if (absl::CommandLineFlag* flag = absl::FindCommandLineFlag(flag_name)) {
      std::string value = flag->CurrentValue();
      if (!value.empty()) return value;
    }
    const char* env = std::getenv(std::string(env_name).c_str());
    if (env == nullptr) return std::nullopt;
    return std::string(env);
  };
}

}  // namespace chatgenius
