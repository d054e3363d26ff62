// chatgenius-db: the operator CLI of the ChatGenius database service.
//
//   chatgenius-db [--target=HOST:PORT] [--json] <command> [flags]
//
// Service commands (over gRPC, like any client):
//   health [--service=NAME]         exit 0 only when SERVING (container HEALTHCHECK)
//   migrate status|up|validate      schema status; apply pending; non-zero unless current
//   pool stats | tunnel status | server info
//   the model commands (cli_model.h): create-user, set-status, create-channel,
//   list-channels, archive-channel, unarchive-channel, add-member,
//   remove-member, post-message, list-messages, get-message,
//   search-messages, react, mark-read
//   tail-events (--channel=C[,C...] --viewer=U | --user=U) [--after=N] [--count=N]
// Database commands (the seed's scripts; connect directly, through the SSH
// tunnel when SSH_HOST is set, with the server's settings and variables):
//   setup [--test]                  create the database if missing and migrate
//   verify                          connect and print server version and tables
//   import-legacy --from=URL        copy a database of the old TypeScript module
//                                   (cli_import.h)
//
// Errors print "error: CODE: message" and exit 1; usage errors exit 2.
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli_import.h"
#include "client/cli_model.h"
#include "client/client.h"
#include "server/app/component_settings.h"
#include "server/app/config.h"
#include "server/migrate/migrator.h"
#include "server/tunnel/ssh_tunnel.h"

ABSL_FLAG(std::string, target, "",
          "service address (env CHATGENIUS_DB_TARGET, default 127.0.0.1:50051)");
ABSL_FLAG(bool, json, false, "print JSON instead of tables");
ABSL_FLAG(bool, tls, false, "connect with TLS (env CHATGENIUS_DB_TLS=true; implied by a CA file)");
ABSL_FLAG(std::string, ca_file, "", "CA (PEM) to verify the server (env CHATGENIUS_DB_CA_FILE)");
ABSL_FLAG(std::string, cert_file, "",
          "client certificate (PEM) for mTLS (env CHATGENIUS_DB_CERT_FILE)");
ABSL_FLAG(std::string, key_file, "", "client key (PEM) for mTLS (env CHATGENIUS_DB_KEY_FILE)");
ABSL_FLAG(std::string, server_name, "",
          "name to check in the server certificate (env CHATGENIUS_DB_SERVER_NAME)");
ABSL_FLAG(int, timeout_ms, 5000, "deadline of each call");
ABSL_FLAG(std::string, service, "", "health: service name ('' = readiness, or 'liveness')");
ABSL_FLAG(std::string, channel, "", "channel id (tail-events: comma-separated ids)");
ABSL_FLAG(std::string, viewer, "",
          "list-messages, tail-events --channel: the user reading (the access rule applies)");
ABSL_FLAG(std::string, user, "", "tail-events: follow this user's channels");
ABSL_FLAG(int64_t, after, 0, "tail-events: resume after this event id (0 = live only)");
ABSL_FLAG(int, count, 0, "tail-events: stop after this many events (0 = run until killed)");
ABSL_FLAG(bool, test, false, "setup: use TEST_POSTGRES_* (the seed's setup:test)");

namespace {

namespace v1 = ::chatgenius::db::v1;
using chatgenius::client::Client;

int Usage(const std::string& why) {
  std::cerr << "usage error: " << why << "\nrun 'chatgenius-db --help' for the commands\n";
  return 2;
}

// FlagOrEnv is the flag's value, else the environment variable's (so a
// container's HEALTHCHECK follows the image's environment), else "".
std::string FlagOrEnv(const absl::Flag<std::string>& flag, const char* env) {
  std::string value = absl::GetFlag(flag);
  if (value.empty()) {
    const char* v = std::getenv(env);
    if (v != nullptr) value = v;
  }
  return value;
}

std::unique_ptr<Client> Connect() {
  chatgenius::client::ClientOptions options;
  options.target = FlagOrEnv(FLAGS_target, "CHATGENIUS_DB_TARGET");
  if (options.target.empty()) options.target = "127.0.0.1:50051";
  options.default_deadline = absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms));
  const char* token = std::getenv("CHATGENIUS_DB_TOKEN");
  if (token != nullptr) options.bearer_token = token;
  auto read_pem = [](const char* what, const std::string& path) {
    absl::StatusOr<std::string> pem = chatgenius::ReadPem(what, path);
    if (!pem.ok()) {
      Fail(pem.status());
      std::exit(2);
    }
    return *pem;
  };
  const std::string ca_file = FlagOrEnv(FLAGS_ca_file, "CHATGENIUS_DB_CA_FILE");
  const std::string cert_file = FlagOrEnv(FLAGS_cert_file, "CHATGENIUS_DB_CERT_FILE");
  const std::string key_file = FlagOrEnv(FLAGS_key_file, "CHATGENIUS_DB_KEY_FILE");
  const char* tls_env = std::getenv("CHATGENIUS_DB_TLS");
  options.tls = absl::GetFlag(FLAGS_tls) || !ca_file.empty() || !cert_file.empty() ||
                (tls_env != nullptr && std::string(tls_env) == "true");
  if (!ca_file.empty()) options.tls_root_certs_pem = read_pem("--ca_file", ca_file);
  if (!cert_file.empty()) options.tls_client_cert_pem = read_pem("--cert_file", cert_file);
  if (!key_file.empty()) options.tls_client_key_pem = read_pem("--key_file", key_file);
  options.tls_server_name = FlagOrEnv(FLAGS_server_name, "CHATGENIUS_DB_SERVER_NAME");
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
  if (!client.ok()) {
    Fail(client.status());
    std::exit(2);
  }
  return std::move(*client);
}

int Health() {
  auto client = Connect();
  const std::string service = absl::GetFlag(FLAGS_service);
  auto status = client->Check(service);
  if (!status.ok()) return Fail(status.status());
  const std::string name = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(*status);
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << "{\"service\":\"" << service << "\",\"status\":\"" << name << "\"}\n";
  } else {
    std::cout << name << "\n";
  }
  return *status == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

int MigrationTable(const v1::MigrationStatus& s) {
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << Json(s) << "\n";
    return 0;
  }
  std::printf("schema version %d of %d (%s)\n", s.current_version(), s.latest_version(),
              s.up_to_date() ? "up to date" : "NOT up to date");
  std::printf("%-8s %-28s %-18s %s\n", "VERSION", "DESCRIPTION", "STATE", "CHECKSUM");
  for (const v1::Migration& m : s.migrations()) {
    std::string state = v1::MigrationState_Name(m.state()).substr(strlen("MIGRATION_STATE_"));
    std::printf("%-8d %-28s %-18s %.12s\n", m.version(), m.description().c_str(), state.c_str(),
                m.checksum().c_str());
  }
  return 0;
}

int Migrate(const std::string& sub) {
  auto client = Connect();
  if (sub == "status" || sub == "validate") {
    auto s = client->GetMigrationStatus();
    if (!s.ok()) return Fail(s.status());
    MigrationTable(*s);
    if (sub == "validate" && !s->up_to_date()) {
      std::cerr << "error: FAILED_PRECONDITION: migrations are pending, failed or edited\n";
      return 1;
    }
    return 0;
  }
  if (sub == "up") {
    auto s = client->ApplyMigrations();
    if (!s.ok()) return Fail(s.status());
    return MigrationTable(*s);
  }
  return Usage("migrate status|up|validate");
}

// DirectConfig loads the server's configuration (flags and variables).
absl::StatusOr<chatgenius::Config> DirectConfig() {
  return chatgenius::LoadConfig([](absl::string_view name) -> std::optional<std::string> {
    if (name == "USE_TEST_DATABASE" && absl::GetFlag(FLAGS_test)) return "true";
    return chatgenius::FlagsThenEnvironment()(name);
  });
}

// ConnInfoFn returns a connection string to `dbname` (empty: the configured
// database), as the migration role when `migrate` is set.
using ConnInfoFn = std::function<std::string(const std::string& dbname, bool migrate)>;

// WithDatabase opens the tunnel if configured and calls `fn`.
int WithDatabase(const chatgenius::Config& config,
                 const std::function<int(const ConnInfoFn&)>& fn) {
  std::unique_ptr<chatgenius::SshTunnel> tunnel;
  std::string host = config.postgres_host;
  int port = config.postgres_port;
  if (config.ssh_enabled()) {
    tunnel = std::make_unique<chatgenius::SshTunnel>(chatgenius::TunnelSettingsFrom(config));
    if (absl::Status s = tunnel->Start(); !s.ok()) return Fail(s);
    if (!tunnel->WaitForState(chatgenius::TunnelState::kUp, absl::Seconds(15))) {
      return Fail(absl::UnavailableError("ssh tunnel: " + tunnel->status().last_error));
    }
    host = tunnel->local_host();
    port = tunnel->local_port();
  }
  return fn([&](const std::string& dbname, bool migrate) {
    chatgenius::Config c = config;
    if (!dbname.empty()) c.postgres_db = dbname;
    if (tunnel == nullptr) return migrate ? c.MigrationConnInfo() : c.ConnInfo();
    return migrate ? c.MigrationConnInfoVia(host, port) : c.ConnInfoVia(host, port);
  });
}

int Setup() {
  absl::StatusOr<chatgenius::Config> config = DirectConfig();
  if (!config.ok()) return Fail(config.status());
  return WithDatabase(*config, [&](const auto& conninfo) {
    try {
      {
        pqxx::connection admin(conninfo("postgres", true));
        pqxx::nontransaction t(admin);
        if (t.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", config->postgres_db)
                .empty()) {
          t.exec("CREATE DATABASE " + t.quote_name(config->postgres_db));
          std::cout << "created database " << config->postgres_db << "\n";
        } else {
          std::cout << "database " << config->postgres_db << " exists\n";
        }
      }
      absl::StatusOr<std::vector<chatgenius::MigrationFile>> files =
          chatgenius::BuiltinMigrations();
      if (!files.ok()) return Fail(files.status());
      chatgenius::ConnectionPool pool(chatgenius::PoolSettings{conninfo("", true)});
      chatgenius::Migrator migrator(conninfo("", true), &pool, *files);
      absl::StatusOr<chatgenius::MigrationReport> report = migrator.Apply();
      if (!report.ok()) return Fail(report.status());
      std::cout << "schema at version " << report->current_version << " (latest "
                << report->latest_version << ")\n";
      return 0;
    } catch (const std::exception& e) {
      return Fail(absl::UnavailableError(e.what()));
    }
  });
}

int Verify() {
  absl::StatusOr<chatgenius::Config> config = DirectConfig();
  if (!config.ok()) return Fail(config.status());
  std::cout << "connecting to " << config->RedactedConnInfo() << "\n";
  return WithDatabase(*config, [&](const auto& conninfo) {
    try {
      pqxx::connection conn(conninfo("", false));
      pqxx::nontransaction t(conn);
      std::cout << "server version: " << t.exec("SHOW server_version")[0][0].as<std::string>()
                << "\n";
      std::cout << "tables:\n";
      for (const pqxx::row& r :
           t.exec("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")) {
        std::cout << "  " << r[0].as<std::string>() << "\n";
      }
      return 0;
    } catch (const std::exception& e) {
      return Fail(absl::UnavailableError(e.what()));
    }
  });
}

// ImportLegacy imports into the configured database as the migration role.
int ImportLegacy() {
  absl::StatusOr<chatgenius::Config> config = DirectConfig();
  if (!config.ok()) return Fail(config.status());
  return WithDatabase(*config,
                      [&](const auto& conninfo) { return RunImportLegacy(conninfo("", true)); });
}

int TailEvents() {
  auto client = Connect();
  v1::SubscribeRequest request;
  for (absl::string_view c : absl::StrSplit(absl::GetFlag(FLAGS_channel), ',', absl::SkipEmpty())) {
    request.add_channel_ids(std::string(c));
  }
  request.set_user_id(absl::GetFlag(FLAGS_user));
  request.set_viewer_id(absl::GetFlag(FLAGS_viewer));
  request.set_after_event_id(absl::GetFlag(FLAGS_after));
  auto subscription = client->Subscribe(request);
  const int count = absl::GetFlag(FLAGS_count);
  int seen = 0;
  v1::Event event;
  while ((count == 0 || seen < count) && subscription->Next(&event)) {
    ++seen;
    if (absl::GetFlag(FLAGS_json)) {
      std::cout << Json(event) << std::endl;
    } else {
      std::cout << event.id() << " "
                << v1::EventKind_Name(event.kind()).substr(strlen("EVENT_KIND_"))
                << " channel=" << event.channel_id() << " actor=" << event.actor_id() << std::endl;
    }
  }
  if (count > 0 && seen >= count) return 0;
  return subscription->status().ok() ? 0 : Fail(subscription->status());
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "chatgenius-db [--target=HOST:PORT] [--json] <command>\n"
      "commands: health, migrate status|up|validate, pool stats, hosts, tunnel status,\n"
      "  server info, setup [--test], verify, import-legacy --from=URL [--dry_run], tail-events;\n"
      "  create-user, set-status, create-channel, list-channels, archive-channel,\n"
      "  unarchive-channel, add-member, remove-member, post-message, list-messages,\n"
      "  get-message, search-messages, react, mark-read");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) return Usage("no command");
  const std::string command = args[1];
  const std::string sub = args.size() > 2 ? args[2] : "";

  if (command == "health") return Health();
  if (command == "migrate") return Migrate(sub);
  if (command == "setup") return Setup();
  if (command == "verify") return Verify();
  if (command == "import-legacy") return ImportLegacy();
  if (command == "tail-events") return TailEvents();

  auto client = Connect();
  if (command == "pool" && sub == "stats") {
    auto s = client->GetPoolStats();
    if (!s.ok()) return Fail(s.status());
    Print(*s);
    return 0;
  }
  if (command == "tunnel" && sub == "status") {
    auto s = client->GetTunnelStatus();
    if (!s.ok()) return Fail(s.status());
    Print(*s);
    return 0;
  }
  if (command == "hosts") {
    auto s = client->GetDatabaseHosts();
    if (!s.ok()) return Fail(s.status());
    Print(*s);
    return 0;
  }
  if (command == "server" && sub == "info") {
    auto s = client->GetServerInfo();
    if (!s.ok()) return Fail(s.status());
    Print(*s);
    return 0;
  }
  if (std::optional<int> exit_code = RunModelCommand(*client, command)) return *exit_code;
  return Usage("unknown command '" + command + "'");
}
