#include "server/app/config.h"

#include <pwd.h>
#include <unistd.h>
#include <algorithm>

#include <cstdlib>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "server/common/host_port.h"
#include "server/db/conninfo.h"

namespace chatgenius {
namespace {

// Reads settings through a lookup, remembering the first error so every
// field parse stays a one-liner.
class Reader {
 public:
  // Records every value it returns, by variable, into `read` (secrets
  // masked).
  Reader(const ConfigLookup& lookup, std::map<std::string, std::string>* read)
      : lookup_(lookup), read_(read) {}

  std::string String(const char* env, const std::string& fallback) {
    std::optional<std::string> v = lookup_(env);
    std::string out = v.has_value() && !v->empty() ? *v : fallback;
    Record(env, out);
    return out;
  }

  bool IsSet(const char* env) {
    std::optional<std::string> v = lookup_(env);
    return v.has_value() && !v->empty();
  }

  int Int(const char* env, int fallback, int min, int max) {
    return static_cast<int>(Int64(env, fallback, min, max));
  }

  // Millis bounds are int64: 30 days of milliseconds do not fit an int.
  absl::Duration Millis(const char* env, absl::Duration fallback, int64_t min_ms, int64_t max_ms) {
    return absl::Milliseconds(Int64(env, absl::ToInt64Milliseconds(fallback), min_ms, max_ms));
  }

  int64_t Int64(const char* env, int64_t fallback, int64_t min, int64_t max) {
    std::optional<std::string> v = lookup_(env);
    int64_t out = fallback;
    if (v.has_value() && !v->empty() && (!absl::SimpleAtoi(*v, &out) || out < min || out > max)) {
      Fail(absl::StrCat(env, ": must be an integer between ", min, " and ", max, ", got '", *v,
                        "'"));
      out = fallback;
    }
    Record(env, absl::StrCat(out));
    return out;
  }

  bool Bool(const char* env, bool fallback) {
    std::optional<std::string> v = lookup_(env);
    bool out = fallback;
    if (v.has_value() && !v->empty()) {
      const std::string lower = absl::AsciiStrToLower(*v);
      if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") {
        out = true;
      } else if (lower == "false" || lower == "0" || lower == "no" || lower == "off") {
        out = false;
      } else {
        Fail(absl::StrCat(env, ": must be true or false, got '", *v, "'"));
      }
    }
    Record(env, out ? "true" : "false");
    return out;
  }

  void Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }

  const std::string& error() const { return error_; }

 private:
  void Record(const char* env, const std::string& value) {
    static const auto* secret = [] {
      auto* names = new std::set<std::string>();
      for (const ConfigSetting& s : ConfigSettings()) {
        if (s.secret) names->insert(s.env_name);
      }
      return names;
    }();
    (*read_)[env] = secret->count(env) && !value.empty() ? "***" : value;
  }

  const ConfigLookup& lookup_;
  std::map<std::string, std::string>* const read_;
  std::string error_;
};

// ExpandHome replaces a leading "~/" with $HOME (or the passwd entry's home).
std::string ExpandHome(const std::string& path) {
  if (path != "~" && path.rfind("~/", 0) != 0) return path;
  const char* home = std::getenv("HOME");
  std::string dir;
  if (home != nullptr && *home != '\0') {
    dir = home;
  } else if (passwd* pw = getpwuid(geteuid())) {
    dir = pw->pw_dir;
  }
  return dir + path.substr(1);
}

std::string CurrentUser() {
  if (passwd* pw = getpwuid(geteuid())) return pw->pw_name;
  const char* user = std::getenv("USER");
  return user != nullptr ? user : "root";
}

// ParamsVia: the serving role's session at host:port.
ConnParams ParamsVia(const Config& c, const std::string& host, int port) {
  ConnParams p;
  p.host = host;
  p.port = port;
  p.dbname = c.postgres_db;
  p.user = c.postgres_user;
  p.password = c.postgres_password;
  p.sslmode = c.postgres_sslmode;
  p.connect_timeout = c.postgres_connect_timeout;
  p.tcp_timeout = c.postgres_tcp_timeout;
  p.lock_timeout = c.postgres_lock_timeout;
  p.idle_in_transaction_timeout = c.postgres_idle_in_transaction_timeout;
  p.statement_timeout = c.statement_timeout;
  p.target_session_attrs =
      c.postgres_target_session_attrs == "any" ? "" : c.postgres_target_session_attrs;
  return p;
}

// PrimaryHosts: POSTGRES_HOST's entries as libpq host and port lists (a
// bare entry takes POSTGRES_PORT); a single host stays as given.
// INVALID_ARGUMENT for an entry that is not host or host:port.
absl::Status PrimaryHosts(const Config& c, ConnParams* p) {
  p->host = c.postgres_host;
  p->port = c.postgres_port;
  if (c.postgres_host.find(',') == std::string::npos) return absl::OkStatus();
  std::vector<std::string> hosts;
  std::vector<std::string> ports;
  for (absl::string_view entry : absl::StrSplit(c.postgres_host, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    HostPort host{std::string(entry), c.postgres_port};
    // A socket directory may hold no ':'; anything else with one is host:port.
    if (!entry.empty() && entry[0] != '/' && entry.find(':') != absl::string_view::npos) {
      absl::StatusOr<HostPort> parsed = SplitHostPort(entry);
      if (!parsed.ok() || parsed->port == 0) host.host.clear();
      if (parsed.ok()) host = *parsed;
    }
    if (host.host.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "POSTGRES_HOST: each entry of a list must be host or host:port, got '", entry, "'"));
    }
    hosts.push_back(host.host);
    ports.push_back(absl::StrCat(host.port));
  }
  p->host = absl::StrJoin(hosts, ",");
  p->ports = absl::StrJoin(ports, ",");
  return absl::OkStatus();
}

// PrimaryParams: the serving role's session on the primary.
ConnParams PrimaryParams(const Config& c) {
  ConnParams p = ParamsVia(c, c.postgres_host, c.postgres_port);
  PrimaryHosts(c, &p).IgnoreError();  // LoadConfig refused a bad list
  return p;
}

// AsMigrationRole: `p` as the role that applies migrations.
ConnParams AsMigrationRole(const Config& c, ConnParams p) {
  if (!c.postgres_migration_user.empty()) {  // else one role for both
    p.user = c.postgres_migration_user;
    p.password = c.postgres_migration_password;
  }
  p.statement_timeout = absl::ZeroDuration();  // a migration's DDL may take long
  return p;
}

// IsLoopback reports whether host:port names a loopback host.
bool IsLoopback(const std::string& address) {
  absl::StatusOr<HostPort> parsed = SplitHostPort(address);
  return parsed.ok() && IsLoopbackHost(parsed->host);
}

}  // namespace

std::string Config::ConnInfo() const { return BuildConnInfo(PrimaryParams(*this)); }

std::string Config::MigrationConnInfo() const {
  return BuildConnInfo(AsMigrationRole(*this, PrimaryParams(*this)));
}

std::string Config::ConnInfoVia(const std::string& host, int port) const {
  return BuildConnInfo(ParamsVia(*this, host, port));
}

std::string Config::MigrationConnInfoVia(const std::string& host, int port) const {
  return BuildConnInfo(AsMigrationRole(*this, ParamsVia(*this, host, port)));
}

std::string Config::ReplicaConnInfoVia(const std::string& host, int port) const {
  ConnParams p = ParamsVia(*this, host, port);
  p.target_session_attrs.clear();  // a standby is what it should be
  return BuildConnInfo(p);
}

std::string Config::RedactedConnInfo() const {
  if (ssh_enabled()) {
    return absl::StrCat(BuildConnInfo(ParamsVia(*this, "(ssh tunnel)", postgres_port), true),
                        " via ", ssh_user, "@", ssh_host, ":", ssh_port, " to ",
                        postgres_remote_host, ":", postgres_remote_port);
  }
  return BuildConnInfo(PrimaryParams(*this), /*redact_password=*/true);
}

std::vector<std::string> Config::Describe() const {
  auto ms = [](absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d)); };
  const char* mode = migrate_mode == MigrateMode::kAuto    ? "auto"
                     : migrate_mode == MigrateMode::kCheck ? "check"
                                                           : "off";
  return {
      absl::StrCat("LISTEN_ADDRESS=", listen_address),
      absl::StrCat("REFLECTION=", reflection ? "true" : "false"),
      absl::StrCat("database=", RedactedConnInfo()),
      absl::StrCat("POOL_MAX_SIZE=", pool_max_size),
      absl::StrCat("POOL_ACQUIRE_TIMEOUT_MS=", ms(pool_acquire_timeout)),
      absl::StrCat("POOL_IDLE_CHECK_MS=", ms(pool_idle_check_after)),
      absl::StrCat("POOL_MAX_LIFETIME_MS=", ms(pool_max_lifetime)),
      absl::StrCat("STATEMENT_TIMEOUT_MS=", ms(statement_timeout)),
      absl::StrCat("MIGRATE_MODE=", mode),
      absl::StrCat("HEALTH_PROBE_INTERVAL_MS=", ms(health_probe_interval)),
      absl::StrCat("HEALTH_FAILURE_THRESHOLD=", health_failure_threshold),
      absl::StrCat("PAGE_TOKEN_KEY=", page_token_key.empty() ? "(random per process)" : "***"),
      absl::StrCat("SSH_HOST=", ssh_enabled() ? ssh_host : "(unset: direct connection)"),
      absl::StrCat("POSTGRES_REPLICA_HOSTS=",
                   postgres_replica_hosts.empty()
                       ? "(none: every read on the primary)"
                       : absl::StrJoin(postgres_replica_hosts, ",",
                                       [](std::string* out, const HostPort& h) {
                                         absl::StrAppend(out, h.host, ":", h.port);
                                       })),
      absl::StrCat("TLS=", tls_enabled() ? (tls_client_ca_file.empty() ? "on" : "mutual") : "off"),
      absl::StrCat("AUTH_TOKENS_FILE=",
                   auth_tokens_file.empty() ? "(unset: no caller auth)" : auth_tokens_file),
      absl::StrCat("END_USER_JWT=", end_user_jwt.enabled()
                                        ? absl::StrCat("on (iss ", end_user_jwt.issuer, ")")
                                        : "off"),
      absl::StrCat("METRICS_ADDRESS=", metrics_address.empty() ? "(off)" : metrics_address),
  };
}

namespace {

// LISTEN_ADDRESS and REFLECTION.
void LoadListen(Reader& r, Config& c) {
  c.listen_address = r.String("LISTEN_ADDRESS", c.listen_address);
  if (absl::StatusOr<HostPort> listen = SplitHostPort(c.listen_address); !listen.ok()) {
    r.Fail(absl::StrCat("LISTEN_ADDRESS: ", listen.status().message()));
  }
  // Reflection lists every method to anyone who can connect: on by default
  // only where that is the developer.
  c.reflection = r.Bool("REFLECTION", IsLoopback(c.listen_address));
}

// POSTGRES_* (the serving and the migration role), TEST_POSTGRES_* with USE_TEST_DATABASE.
void LoadPostgres(Reader& r, Config& c) {
  c.use_test_database = r.Bool("USE_TEST_DATABASE", false);
  c.postgres_host = r.String("POSTGRES_HOST", c.postgres_host);
  c.postgres_port = r.Int("POSTGRES_PORT", c.postgres_port, 1, 65535);
  c.postgres_db = r.String("POSTGRES_DB", c.postgres_db);
  c.postgres_user = r.String("POSTGRES_USER", c.postgres_user);
  c.postgres_password = r.String("POSTGRES_PASSWORD", "");
  if (c.use_test_database) {
    // The seed's TEST_POSTGRES_* select a separate database for tests; host
    // and port fall back to the main ones, like the old module.
    c.postgres_host = r.String("TEST_POSTGRES_HOST", c.postgres_host);
    c.postgres_port = r.Int("TEST_POSTGRES_PORT", c.postgres_port, 1, 65535);
    c.postgres_db = r.String("TEST_POSTGRES_DB", "chatgenius_test");
    c.postgres_user = r.String("TEST_POSTGRES_USER", c.postgres_user);
    c.postgres_password = r.String("TEST_POSTGRES_PASSWORD", c.postgres_password);
  }
  c.postgres_sslmode = r.String("POSTGRES_SSLMODE", c.postgres_sslmode);
  static const char* const kSslModes[] = {"disable", "allow",     "prefer",
                                          "require", "verify-ca", "verify-full"};
  if (std::find(std::begin(kSslModes), std::end(kSslModes), c.postgres_sslmode) ==
      std::end(kSslModes)) {
    r.Fail(
        absl::StrCat("POSTGRES_SSLMODE: must be one of disable, allow, prefer, require, "
                     "verify-ca, verify-full, got '",
                     c.postgres_sslmode, "'"));
  }
  c.postgres_connect_timeout =
      r.Millis("POSTGRES_CONNECT_TIMEOUT_MS", c.postgres_connect_timeout, 1000, 600000);
  c.postgres_lock_timeout =
      r.Millis("POSTGRES_LOCK_TIMEOUT_MS", c.postgres_lock_timeout, 0, 3600000);
  c.postgres_idle_in_transaction_timeout =
      r.Millis("POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_MS", c.postgres_idle_in_transaction_timeout, 0,
               86400000);
  c.postgres_tcp_timeout =
      r.Millis("POSTGRES_TCP_TIMEOUT_MS", c.postgres_tcp_timeout, 1000, 600000);
  c.postgres_cancel_grace =
      r.Millis("POSTGRES_CANCEL_GRACE_MS", c.postgres_cancel_grace, 50, 600000);
  if (c.postgres_db.empty() || c.postgres_user.empty()) {
    r.Fail("POSTGRES_DB and POSTGRES_USER: must not be empty");
  }
  ConnParams hosts;
  if (absl::Status s = PrimaryHosts(c, &hosts); !s.ok()) r.Fail(std::string(s.message()));
  c.postgres_target_session_attrs =
      r.String("POSTGRES_TARGET_SESSION_ATTRS", c.postgres_target_session_attrs);
  if (c.postgres_target_session_attrs != "read-write" &&
      c.postgres_target_session_attrs != "primary" && c.postgres_target_session_attrs != "any") {
    r.Fail(absl::StrCat("POSTGRES_TARGET_SESSION_ATTRS: must be read-write, primary or any, got '",
                        c.postgres_target_session_attrs, "'"));
  }

  c.postgres_migration_user = r.String("POSTGRES_MIGRATION_USER", c.postgres_user);
  c.postgres_migration_password = r.String(
      "POSTGRES_MIGRATION_PASSWORD", r.IsSet("POSTGRES_MIGRATION_USER") ? "" : c.postgres_password);
}

// POOL_* and STATEMENT_TIMEOUT_MS.
void LoadPool(Reader& r, Config& c) {
  c.pool_max_size = r.Int("POOL_MAX_SIZE", c.pool_max_size, 1, 1000);
  c.pool_acquire_timeout = r.Millis("POOL_ACQUIRE_TIMEOUT_MS", c.pool_acquire_timeout, 1, 600000);
  c.pool_idle_check_after = r.Millis("POOL_IDLE_CHECK_MS", c.pool_idle_check_after, 0, 86400000);
  c.pool_max_lifetime = r.Millis("POOL_MAX_LIFETIME_MS", c.pool_max_lifetime, 1000, 604800000);
  c.statement_timeout = r.Millis("STATEMENT_TIMEOUT_MS", c.statement_timeout, 1, 86400000);
}

// MIGRATE_MODE, HEALTH_*, PAGE_TOKEN_KEY, SHUTDOWN_*.
void LoadLifecycle(Reader& r, Config& c) {
  std::string mode = absl::AsciiStrToLower(r.String("MIGRATE_MODE", "auto"));
  if (mode == "auto") {
    c.migrate_mode = MigrateMode::kAuto;
  } else if (mode == "check") {
    c.migrate_mode = MigrateMode::kCheck;
  } else if (mode == "off") {
    c.migrate_mode = MigrateMode::kOff;
  } else {
    r.Fail(absl::StrCat("MIGRATE_MODE: must be auto, check or off, got '", mode, "'"));
  }

  c.health_probe_interval =
      r.Millis("HEALTH_PROBE_INTERVAL_MS", c.health_probe_interval, 10, 3600000);
  c.health_failure_threshold =
      r.Int("HEALTH_FAILURE_THRESHOLD", c.health_failure_threshold, 1, 1000);
  c.page_token_key = r.String("PAGE_TOKEN_KEY", "");
  if (!c.page_token_key.empty() && c.page_token_key.size() < 16) {
    r.Fail("PAGE_TOKEN_KEY: must be at least 16 characters (or unset for a random key)");
  } else if (absl::StrContains(absl::AsciiStrToLower(c.page_token_key), "change-me") ||
             absl::StrContains(absl::AsciiStrToLower(c.page_token_key), "changeme")) {
    // A placeholder from an example file would let anyone forge page tokens.
    r.Fail("PAGE_TOKEN_KEY: is a placeholder; set a random secret (openssl rand -hex 32)");
  }

  c.shutdown_drain = r.Millis("SHUTDOWN_DRAIN_MS", c.shutdown_drain, 0, 600000);
  c.shutdown_grace = r.Millis("SHUTDOWN_GRACE_MS", c.shutdown_grace, 0, 600000);
}

// EVENT_* and MAX_EVENT_STREAMS*.
void LoadEvents(Reader& r, Config& c) {
  c.event_sequencer_poll =
      r.Millis("EVENT_SEQUENCER_POLL_MS", c.event_sequencer_poll, 1, 10000);
  c.event_retention = absl::Hours(r.Int(
      "EVENT_RETENTION_HOURS", static_cast<int>(absl::ToInt64Hours(c.event_retention)), 1, 87600));
  c.event_stream_queue = r.Int("EVENT_STREAM_QUEUE", c.event_stream_queue, 1, 1000000);
  c.event_stream_queue_bytes =
      r.Int("EVENT_STREAM_QUEUE_BYTES", c.event_stream_queue_bytes, 65536, 1 << 30);
  c.event_stream_write_timeout =
      r.Millis("EVENT_STREAM_WRITE_TIMEOUT_MS", c.event_stream_write_timeout, 100, 3600000);
  c.event_fanout_threads = r.Int("EVENT_FANOUT_THREADS", c.event_fanout_threads, 1, 64);
  c.max_event_streams = r.Int("MAX_EVENT_STREAMS", c.max_event_streams, 1, 10000000);
  c.max_event_streams_per_caller =
      r.Int("MAX_EVENT_STREAMS_PER_CALLER", c.max_event_streams_per_caller, 1, 10000000);
}

// TLS_* and ALLOW_PLAINTEXT_NON_LOOPBACK (after LoadListen).
void LoadTls(Reader& r, Config& c) {
  c.tls_cert_file = r.String("TLS_CERT_FILE", "");
  c.tls_key_file = r.String("TLS_KEY_FILE", "");
  c.tls_client_ca_file = r.String("TLS_CLIENT_CA_FILE", "");
  c.allow_plaintext_non_loopback = r.Bool("ALLOW_PLAINTEXT_NON_LOOPBACK", false);
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    r.Fail("TLS_CERT_FILE: set together with TLS_KEY_FILE (both or neither)");
  }
  if (!c.tls_client_ca_file.empty() && !c.tls_enabled()) {
    r.Fail("TLS_CLIENT_CA_FILE: mTLS needs TLS_CERT_FILE and TLS_KEY_FILE too");
  }
  if (!c.tls_enabled() && !c.allow_plaintext_non_loopback && !IsLoopback(c.listen_address)) {
    r.Fail(absl::StrCat("LISTEN_ADDRESS: ", c.listen_address,
                        " is not a loopback address; serve TLS (TLS_CERT_FILE, TLS_KEY_FILE) or "
                        "set ALLOW_PLAINTEXT_NON_LOOPBACK=true"));
  }
}

// GRPC_*.
void LoadGrpc(Reader& r, Config& c) {
  c.grpc_max_threads = r.Int("GRPC_MAX_THREADS", c.grpc_max_threads, 4, 100000);
  c.grpc_max_concurrent_streams =
      r.Int("GRPC_MAX_CONCURRENT_STREAMS", c.grpc_max_concurrent_streams, 1, 100000);
  c.grpc_max_connection_age =
      r.Millis("GRPC_MAX_CONNECTION_AGE_MS", c.grpc_max_connection_age, 0, 86400000 * 30LL);
  c.grpc_max_connection_age_grace =
      r.Millis("GRPC_MAX_CONNECTION_AGE_GRACE_MS", c.grpc_max_connection_age_grace, 0, 86400000);
  c.grpc_keepalive_min_interval =
      r.Millis("GRPC_KEEPALIVE_MIN_INTERVAL_MS", c.grpc_keepalive_min_interval, 1000, 86400000);
}

// AUTH_* and END_USER_JWT_* (after LoadTls).
void LoadAuth(Reader& r, Config& c) {
  c.auth_tokens_file = r.String("AUTH_TOKENS_FILE", "");
  const std::string exempt = r.String("AUTH_EXEMPT", absl::StrJoin(c.auth_exempt, ","));
  c.auth_exempt.clear();
  for (absl::string_view service : absl::StrSplit(exempt, ',', absl::SkipEmpty())) {
    c.auth_exempt.insert(std::string(absl::StripAsciiWhitespace(service)));
  }
  JwtSettings& jwt = c.end_user_jwt;
  jwt.hs256_secret_file = r.String("END_USER_JWT_HS256_SECRET_FILE", "");
  for (absl::string_view f :
       absl::StrSplit(r.String("END_USER_JWT_PUBLIC_KEY_FILES", ""), ',', absl::SkipEmpty())) {
    jwt.public_key_files.push_back(std::string(absl::StripAsciiWhitespace(f)));
  }
  jwt.jwks_file = r.String("END_USER_JWT_JWKS_FILE", "");
  jwt.issuer = r.String("END_USER_JWT_ISSUER", "");
  jwt.audience = r.String("END_USER_JWT_AUDIENCE", "");
  jwt.leeway = absl::Seconds(r.Int("END_USER_JWT_LEEWAY_S", 60, 0, 600));
  if (jwt.enabled()) {
    if (jwt.issuer.empty() || jwt.audience.empty()) {
      r.Fail("END_USER_JWT_ISSUER and END_USER_JWT_AUDIENCE: required with end-user tokens");
    }
    if (c.auth_tokens_file.empty()) {
      r.Fail(
          "END_USER_JWT_*: needs AUTH_TOKENS_FILE (the gateway that forwards end-user tokens "
          "authenticates itself, and only admin callers may act without one)");
    }
  }
  if (!c.auth_tokens_file.empty() && !c.tls_enabled() && !IsLoopback(c.listen_address)) {
    r.Fail(absl::StrCat("AUTH_TOKENS_FILE: bearer tokens would cross the network in clear on ",
                        c.listen_address, "; serve TLS (TLS_CERT_FILE, TLS_KEY_FILE)"));
  }
}

// STORAGE_URL_SCHEMES and the content limits.
void LoadContent(Reader& r, Config& c) {
  c.storage_url_schemes.clear();
  for (absl::string_view scheme :
       absl::StrSplit(r.String("STORAGE_URL_SCHEMES", "https,s3,gs"), ',', absl::SkipEmpty())) {
    c.storage_url_schemes.insert(absl::AsciiStrToLower(absl::StripAsciiWhitespace(scheme)));
  }
  if (c.storage_url_schemes.empty()) r.Fail("STORAGE_URL_SCHEMES: name at least one scheme");
  c.content_limits.max_response_bytes =
      r.Int("MAX_RESPONSE_BYTES", c.content_limits.max_response_bytes, 256 << 10, 1 << 30);
  c.content_limits.search_max_candidates =
      r.Int("SEARCH_MAX_CANDIDATES", c.content_limits.search_max_candidates, 100, 10000000);
  c.content_limits.max_attachments_per_message =
      r.Int("MAX_ATTACHMENTS_PER_MESSAGE", c.content_limits.max_attachments_per_message, 1, 1000);
  c.content_limits.max_emoji_per_message =
      r.Int("MAX_EMOJI_PER_MESSAGE", c.content_limits.max_emoji_per_message, 1, 1000);
  c.content_limits.max_reactions_per_user_per_message =
      r.Int("MAX_REACTIONS_PER_USER_PER_MESSAGE",
            c.content_limits.max_reactions_per_user_per_message, 1, 1000);
}

// METRICS_ADDRESS and LOG_*.
void LoadObservability(Reader& r, Config& c) {
  c.metrics_address = r.String("METRICS_ADDRESS", "");
  if (absl::StatusOr<HostPort> metrics = SplitHostPort(c.metrics_address);
      !c.metrics_address.empty() && !metrics.ok()) {
    r.Fail(absl::StrCat("METRICS_ADDRESS: ", metrics.status().message()));
  }
  c.log_format = r.String("LOG_FORMAT", c.log_format);
  if (c.log_format != "text" && c.log_format != "json") {
    r.Fail(absl::StrCat("LOG_FORMAT: must be text or json, got '", c.log_format, "'"));
  }
  c.log_level = r.String("LOG_LEVEL", c.log_level);
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error") {
    r.Fail(absl::StrCat("LOG_LEVEL: must be debug, info, warn or error, got '", c.log_level, "'"));
  }
}

// POSTGRES_REPLICA_* (after LoadPostgres).
void LoadReplicas(Reader& r, Config& c) {
  for (absl::string_view entry :
       absl::StrSplit(r.String("POSTGRES_REPLICA_HOSTS", ""), ',', absl::SkipEmpty())) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty()) continue;
    // A bare host takes POSTGRES_PORT.
    std::string address(entry);
    if (address.find(':') == std::string::npos) absl::StrAppend(&address, ":", c.postgres_port);
    absl::StatusOr<HostPort> host = SplitHostPort(address);
    if (!host.ok() || host->host.empty() || host->port == 0) {
      r.Fail(absl::StrCat("POSTGRES_REPLICA_HOSTS: each entry must be host or host:port, got '",
                          entry, "'"));
      continue;
    }
    c.postgres_replica_hosts.push_back(*host);
  }
  c.postgres_replica_max_lag =
      r.Millis("POSTGRES_REPLICA_MAX_LAG_MS", c.postgres_replica_max_lag, 10, 3600000);
  c.postgres_replica_wait = r.Millis("POSTGRES_REPLICA_WAIT_MS", c.postgres_replica_wait, 0, 10000);
  c.postgres_replica_check =
      r.Millis("POSTGRES_REPLICA_CHECK_MS", c.postgres_replica_check, 10, 60000);
  if (c.postgres_replica_check > c.postgres_replica_max_lag) {
    r.Fail(
        "POSTGRES_REPLICA_CHECK_MS: must not exceed POSTGRES_REPLICA_MAX_LAG_MS (a replica could "
        "never prove it is fresh enough)");
  }
}

// SSH_* and POSTGRES_REMOTE_* (after LoadPool).
void LoadSsh(Reader& r, Config& c) {
  c.ssh_host = r.String("SSH_HOST", "");
  if (c.ssh_enabled()) {
    c.ssh_port = r.Int("SSH_PORT", c.ssh_port, 1, 65535);
    c.ssh_user = r.String("SSH_USER", CurrentUser());
    c.ssh_key_path = ExpandHome(r.String("SSH_KEY_PATH", "~/.ssh/id_ed25519"));
    c.ssh_key_passphrase = r.String("SSH_KEY_PASSPHRASE", "");
    c.ssh_known_hosts = ExpandHome(r.String("SSH_KNOWN_HOSTS", "~/.ssh/known_hosts"));
    c.ssh_accept_new_host_key = r.Bool("SSH_ACCEPT_NEW_HOST_KEY", false);
    c.ssh_max_retries = r.Int("SSH_MAX_RETRIES", c.ssh_max_retries, 1, 1000);
    c.ssh_retry_delay = r.Millis("SSH_RETRY_DELAY", c.ssh_retry_delay, 10, 3600000);
    c.ssh_retry_max_delay = r.Millis("SSH_RETRY_MAX_DELAY", c.ssh_retry_max_delay, 10, 3600000);
    c.ssh_health_check_interval =
        r.Millis("SSH_HEALTH_CHECK_INTERVAL", c.ssh_health_check_interval, 100, 3600000);
    c.ssh_max_channels = r.Int("SSH_MAX_CHANNELS", c.ssh_max_channels, 1, 10000);
    std::string endpoint = absl::AsciiStrToLower(r.String("SSH_LOCAL_ENDPOINT", "unix"));
    if (endpoint != "unix" && endpoint != "tcp") {
      r.Fail(absl::StrCat("SSH_LOCAL_ENDPOINT: must be unix or tcp, got '", endpoint, "'"));
    }
    c.ssh_local_tcp = endpoint == "tcp";
    c.postgres_remote_host = r.String("POSTGRES_REMOTE_HOST", c.postgres_remote_host);
    c.postgres_remote_port = r.Int("POSTGRES_REMOTE_PORT", c.postgres_remote_port, 1, 65535);
    if (c.ssh_retry_max_delay < c.ssh_retry_delay) {
      r.Fail("SSH_RETRY_MAX_DELAY: must not be below SSH_RETRY_DELAY");
    }
    if (c.ssh_max_channels < c.pool_max_size) {
      r.Fail(absl::StrCat("SSH_MAX_CHANNELS: must be at least POOL_MAX_SIZE (", c.pool_max_size,
                          ") or the pool cannot open all its connections"));
    }
  }
}

}  // namespace

absl::StatusOr<Config> LoadConfig(const ConfigLookup& lookup) {
  Config c;
  Reader r(lookup, &c.read_settings);
  // In this order: later sections check against earlier ones.
  for (void (*load)(Reader&, Config&) :
       {LoadListen, LoadPostgres, LoadReplicas, LoadPool, LoadLifecycle, LoadEvents, LoadTls,
        LoadGrpc, LoadAuth, LoadContent, LoadObservability, LoadSsh}) {
    load(r, c);
  }
  if (!r.error().empty()) return absl::InvalidArgumentError(r.error());
  return c;
}

}  // namespace chatgenius
