#include "server/app/server.h"

#include <openssl/rand.h>

#include <algorithm>
#include <csignal>

#include <fstream>
#include <sstream>

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chatgenius/db/v1/event_service.grpc.pb.h"
#include "server/app/rpc_observer.h"
#include "server/auth/bearer_tokens.h"
#include "server/auth/token_auth_processor.h"
#include "server/common/log.h"
#include "server/common/status_macros.h"
#include "server/db/cancel_watcher.h"
#include "server/db/statement.h"
#include "server/metrics/limit_hits.h"
#include "server/metrics/prometheus_text.h"
#include "server/service/admin_service.h"
#include "server/service/channel_service.h"
#include "server/service/event_service.h"
#include "server/service/message_service.h"
#include "server/service/migration_service.h"
#include "server/service/reaction_service.h"
#include "server/service/user_service.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

// Handler threads kept waiting for the next unary call. gRPC's default
// keeps 2: under 16 concurrent callers every finished call then ended its
// thread and the next one started a new thread — ~500 thread creations a
// second at 700 posts/s.
constexpr int kIdleHandlerThreads = 32;

std::string RandomKey() {
  unsigned char bytes[32];
  RAND_bytes(bytes, sizeof bytes);
  return std::string(reinterpret_cast<const char*>(bytes), sizeof bytes);
}

}  // namespace

const std::vector<std::string>& ReadinessServiceNames() {
  static const auto* names = new std::vector<std::string>{
      "",
      v1::UserService::service_full_name(),
      v1::ChannelService::service_full_name(),
      v1::MessageService::service_full_name(),
      v1::ReactionService::service_full_name(),
      v1::EventService::service_full_name(),
      v1::MigrationService::service_full_name(),
      v1::AdminService::service_full_name(),
  };
  return *names;
}

// Drops the pool's idle connections when the tunnel they ran through goes
// down, so callers after the reconnect get fresh connections.
class Server::TunnelWatcher : public TunnelListener {
 public:
  explicit TunnelWatcher(Server* server) : server_(server) {}
  void OnTunnelStateChange(const TunnelStatus& status) override {
    if (status.state != TunnelState::kUp && server_->pool_ != nullptr) {
      server_->pool_->DiscardIdle();
    }
  }

 private:
  Server* const server_;
};

Server::Server(const Config& config) : config_(config) {}

// ServerCredentialsFor returns TLS (or mTLS) credentials when configured,
// plaintext otherwise. With caller auth the token processor is installed;
// gRPC runs processors on secure credentials only, so plaintext with auth
// uses local credentials (plaintext, loopback peers only; LoadConfig refuses
// auth on a plaintext non-loopback address).
// ApplyConnectionLimits bounds the sync handlers' threads, what one client
// connection can hold open and how long it lives: concurrent streams (HTTP/2 SETTINGS), a maximum
// age with a grace period (GOAWAY, so round_robin clients rebalance onto new replicas), and
// keepalive enforcement (a client pinging too often is disconnected); the server itself pings idle
// connections every minute.
void ApplyConnectionLimits(const Config& c, grpc::ServerBuilder* builder) {
  // A bounded thread pool for the sync handlers: past GRPC_MAX_THREADS a
  // call is refused RESOURCE_EXHAUSTED at once instead of adding a thread
  // (each waiting for one of POOL_MAX_SIZE connections).
  grpc::ResourceQuota quota("chatgenius-db");
  quota.SetMaxThreads(c.grpc_max_threads);
  builder->SetResourceQuota(quota);
  builder->SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                               std::min(c.grpc_max_threads, kIdleHandlerThreads));
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, c.grpc_max_concurrent_streams);
  if (c.grpc_max_connection_age > absl::ZeroDuration()) {
    builder->AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_MS,
        static_cast<int>(absl::ToInt64Milliseconds(c.grpc_max_connection_age)));
    builder->AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
        static_cast<int>(absl::ToInt64Milliseconds(c.grpc_max_connection_age_grace)));
  }
  builder->AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      static_cast<int>(absl::ToInt64Milliseconds(c.grpc_keepalive_min_interval)));
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const Config& c, std::shared_ptr<TokenAuthProcessor>* auth) {
  std::shared_ptr<TokenAuthProcessor> processor;
  if (c.auth_enabled()) {
    ASSIGN_OR_RETURN(BearerTokens tokens, BearerTokens::Load(c.auth_tokens_file));
    LogInfo(absl::StrCat("caller auth on: ", tokens.size(), " token(s) from ", c.auth_tokens_file,
                         "; exempt: ", absl::StrJoin(c.auth_exempt, ","),
                         c.end_user_jwt.enabled() ? "; end-user tokens required" : ""));
    processor = std::make_shared<TokenAuthProcessor>(std::move(tokens), c.auth_exempt,
                                                     c.end_user_jwt.enabled());
    *auth = processor;
  }
  if (!c.tls_enabled()) {
    if (processor == nullptr) return grpc::InsecureServerCredentials();
    std::shared_ptr<grpc::ServerCredentials> local =
        grpc::experimental::LocalServerCredentials(LOCAL_TCP);
    local->SetAuthMetadataProcessor(processor);
    return local;
  }
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadPem("TLS_CERT_FILE", c.tls_cert_file));
  ASSIGN_OR_RETURN(pair.private_key, ReadPem("TLS_KEY_FILE", c.tls_key_file));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!c.tls_client_ca_file.empty()) {
    ASSIGN_OR_RETURN(options.pem_root_certs, ReadPem("TLS_CLIENT_CA_FILE", c.tls_client_ca_file));
    // Unknown clients are refused during the handshake.
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  std::shared_ptr<grpc::ServerCredentials> tls = grpc::SslServerCredentials(options);
  if (processor != nullptr) tls->SetAuthMetadataProcessor(processor);
  return tls;
}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const Config& config) {
  // A peer that went away must be an EPIPE, never the death of the
  // process: every socket and pipe write in here (the tunnel, wake-up
  // pipes, libraries) relies on it.
  std::signal(SIGPIPE, SIG_IGN);
  // Two statements under one name would run each other's SQL.
  RETURN_IF_ERROR(CheckStatementCatalog());
  std::unique_ptr<Server> s(new Server(config));
  ASSIGN_OR_RETURN(std::vector<MigrationFile> migrations, BuiltinMigrations());

  std::string conninfo = config.ConnInfo();
  std::string migration_conninfo =
      config.MigrationConnInfoVia(config.postgres_host, config.postgres_port);
  if (config.ssh_enabled()) {
    s->tunnel_ = std::make_unique<SshTunnel>(TunnelSettingsFrom(config));
    s->tunnel_watcher_ = std::make_unique<TunnelWatcher>(s.get());
    s->tunnel_->AddListener(s->tunnel_watcher_.get());
    RETURN_IF_ERROR(s->tunnel_->Start());
    conninfo = config.ConnInfoVia(s->tunnel_->local_host(), s->tunnel_->local_port());
    migration_conninfo =
        config.MigrationConnInfoVia(s->tunnel_->local_host(), s->tunnel_->local_port());
  }

  PoolSettings pool_settings;
  pool_settings.conninfo = conninfo;
  pool_settings.max_size = config.pool_max_size;
  pool_settings.acquire_timeout = config.pool_acquire_timeout;
  pool_settings.idle_check_after = config.pool_idle_check_after;
  pool_settings.max_lifetime = config.pool_max_lifetime;
  CancelSettings cancel_settings;
  cancel_settings.cut_off_after = config.postgres_cancel_grace;
  s->cancel_watcher_ = std::make_unique<CancelWatcher>(cancel_settings);
  pool_settings.cancel_watcher = s->cancel_watcher_.get();
  s->pool_ = std::make_unique<ConnectionPool>(std::move(pool_settings));

  if (config.page_token_key.empty()) {
    LogWarning(
        "PAGE_TOKEN_KEY is not set: page tokens use a random key and stop working "
        "after a restart or on another replica");
  }
  s->tokens_ = std::make_unique<PageTokenCodec>(
      config.page_token_key.empty() ? RandomKey() : config.page_token_key);
  s->migrator_ =
      std::make_unique<Migrator>(migration_conninfo, s->pool_.get(), std::move(migrations));
  s->user_store_ = std::make_unique<UserStore>(s->pool_.get());
  s->channel_store_ = std::make_unique<ChannelStore>(s->pool_.get());
  s->message_store_ = std::make_unique<MessageStore>(s->pool_.get(), config.content_limits);
  s->reaction_store_ = std::make_unique<ReactionStore>(s->pool_.get(), config.content_limits);
  s->info_store_ = std::make_unique<ServerInfoStore>(s->pool_.get());
  s->event_store_ = std::make_unique<EventStore>(s->pool_.get());

  if (config.migrate_mode == MigrateMode::kAuto) {
    absl::StatusOr<MigrationReport> report = s->migrator_->Apply();
    if (report.ok()) {
      LogInfo(absl::StrCat("migrations: schema at version ", report->current_version));
    } else {
      // Not fatal: the database may come up later; the probe retries and
      // the server stays NOT_SERVING meanwhile.
      LogWarning(absl::StrCat("migrations not applied yet: ", report.status().ToString()));
    }
  }

  if (config.end_user_jwt.enabled()) {
    ASSIGN_OR_RETURN(s->jwt_, JwtVerifier::Create(config.end_user_jwt));
    s->end_user_directory_ = std::make_unique<EndUserDirectory>(s->user_store_.get());
    LogInfo(absl::StrCat("end-user tokens on: ", s->jwt_->key_count(), " key(s), issuer ",
                         config.end_user_jwt.issuer));
    EndUserDirectory* directory = s->end_user_directory_.get();
    s->end_users_ = std::make_unique<EndUserAuth>(EndUserAuth{
        s->jwt_.get(),
        [directory](const std::string& subject) { return directory->UserIdOf(subject); }});
  }
  const EndUserAuth* end_users = s->end_users_.get();
  const absl::Duration max_statement = config.statement_timeout;
  s->services_.push_back(std::make_unique<UserServiceImpl>(s->user_store_.get(), s->tokens_.get(),
                                                           max_statement, end_users));
  s->services_.push_back(std::make_unique<MigrationServiceImpl>(s->migrator_.get(), max_statement));
  s->services_.push_back(std::make_unique<AdminServiceImpl>(
      s->pool_.get(), s->info_store_.get(), s->migrator_.get(), s->tunnel_.get(),
      config.RedactedConnInfo(), max_statement));
  s->services_.push_back(std::make_unique<ChannelServiceImpl>(
      s->channel_store_.get(), s->tokens_.get(), max_statement, end_users));
  s->services_.push_back(
      std::make_unique<MessageServiceImpl>(s->message_store_.get(), s->tokens_.get(), max_statement,
                                           end_users, config.storage_url_schemes));
  s->services_.push_back(
      std::make_unique<ReactionServiceImpl>(s->reaction_store_.get(), max_statement, end_users));
  HubSettings hub_settings;
  hub_settings.conninfo = conninfo;
  hub_settings.retention = config.event_retention;
  s->hub_ = std::make_unique<EventHub>(hub_settings, s->event_store_.get());
  s->hub_->Start();
  // One sequencer per process contends for the database's leader lock; the
  // leader stamps every replica's committed events. Local commits wake it,
  // and its rounds wake the local hub.
  SequencerSettings sequencer_settings;
  sequencer_settings.conninfo = conninfo;
  sequencer_settings.poll_interval = config.event_sequencer_poll;
  sequencer_settings.cancel_watcher = s->cancel_watcher_.get();
  EventHub* hub = s->hub_.get();
  s->sequencer_ = std::make_unique<EventSequencer>(sequencer_settings, [hub] { hub->Wake(); });
  EventSequencer* sequencer = s->sequencer_.get();
  s->append_listener_ = EventStore::AddAppendListener([sequencer] { sequencer->Wake(); });
  s->sequencer_->Start();
  // Replays of stored events run here, off gRPC's callback threads.
  s->work_ = std::make_unique<WorkQueue>(2);
  EventStreamLimits stream_limits;
  stream_limits.queue_events = config.event_stream_queue;
  stream_limits.queue_bytes = static_cast<size_t>(config.event_stream_queue_bytes);
  stream_limits.write_timeout = config.event_stream_write_timeout;
  stream_limits.max_streams = config.max_event_streams;
  stream_limits.max_streams_per_caller = config.max_event_streams_per_caller;
  stream_limits.call_timeout = max_statement;
  auto events = std::make_unique<EventServiceImpl>(s->hub_.get(), s->event_store_.get(),
                                                   s->work_.get(), stream_limits, end_users);
  s->events_ = events.get();
  s->services_.push_back(std::move(events));

  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   ServerCredentialsFor(config, &s->auth_));
  grpc::EnableDefaultHealthCheckService(true);
  if (config.reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen_address, credentials, &s->port_);
  ApplyConnectionLimits(config, &builder);
  for (auto& service : s->services_) builder.RegisterService(service.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> observers;
  observers.push_back(std::make_unique<RpcObserverFactory>(&s->rpc_metrics_));
  builder.experimental().SetInterceptorCreators(std::move(observers));
  s->grpc_server_ = builder.BuildAndStart();
  if (s->grpc_server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("LISTEN_ADDRESS: cannot listen on ", config.listen_address));
  }

  grpc::HealthCheckServiceInterface* health = s->grpc_server_->GetHealthCheckService();
  health->SetServingStatus(kLivenessService, true);
  for (const std::string& name : ReadinessServiceNames()) health->SetServingStatus(name, false);

  Server* raw = s.get();
  s->monitor_ = std::make_unique<HealthMonitor>(
      [raw](absl::Time deadline) { return raw->ProbeReadiness(deadline); },
      [health](bool serving) {
        for (const std::string& name : ReadinessServiceNames()) {
          health->SetServingStatus(name, serving);
        }
      },
      config.health_probe_interval, config.health_failure_threshold);
  s->monitor_->Start();
  if (!config.metrics_address.empty()) {
    ASSIGN_OR_RETURN(s->metrics_, MetricsEndpoint::Start(config.metrics_address,
                                                         [raw] { return raw->RenderMetrics(); }));
    LogInfo(absl::StrCat("metrics on http://",
                         config.metrics_address.substr(0, config.metrics_address.rfind(':')), ":",
                         s->metrics_->port(), "/metrics"));
  }
  LogInfo(absl::StrCat("serving gRPC on ", config.listen_address, " (port ", s->port_, ")"));
  return s;
}

absl::Status Server::ProbeReadiness(absl::Time deadline) {
  if (tunnel_ != nullptr && !tunnel_->IsUp()) {
    TunnelStatus t = tunnel_->status();
    return absl::UnavailableError(absl::StrCat("ssh tunnel ", TunnelStateName(t.state),
                                               t.last_error.empty() ? "" : ": ", t.last_error));
  }
  // One pooled round trip proves the pool can reach PostgreSQL; the report
  // proves the schema this binary expects is there.
  absl::StatusOr<MigrationReport> report = migrator_->Status(deadline);
  if (!report.ok()) return report.status();
  schema_version_.store(report->current_version);
  if (report->up_to_date) return absl::OkStatus();
  if (config_.migrate_mode == MigrateMode::kAuto) {
    absl::StatusOr<MigrationReport> applied = migrator_->Apply();
    if (!applied.ok()) return applied.status();
    if (applied->up_to_date) {
      LogInfo(absl::StrCat("migrations: schema at version ", applied->current_version));
      schema_version_.store(applied->current_version);
      return absl::OkStatus();
    }
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "schema not current: database at version ", report->current_version, ", binary expects ",
      report->latest_version, " (pending, failed or edited migrations; see GetMigrationStatus)"));
}

void Server::Wait() {
  if (grpc_server_ != nullptr) grpc_server_->Wait();
}

void Server::BeginShutdown() {
  if (monitor_ != nullptr) monitor_->Stop();
  if (grpc_server_ == nullptr) return;
  grpc::HealthCheckServiceInterface* health = grpc_server_->GetHealthCheckService();
  for (const std::string& name : ReadinessServiceNames()) health->SetServingStatus(name, false);
  LogInfo("shutting down: readiness NOT_SERVING, still serving while load balancers notice");
}

void Server::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (monitor_ != nullptr) monitor_->Stop();
  metrics_.reset();
  if (grpc_server_ != nullptr) {
    // Marks every health name NOT_SERVING and ignores later updates.
    grpc_server_->GetHealthCheckService()->Shutdown();
  }
  // The sequencer goes first (it wakes the hub); another replica's leader,
  // or this one's next start, stamps what commits from here on. Event
  // streams end with UNAVAILABLE (and the resume id) before the server
  // waits for calls to finish.
  if (sequencer_ != nullptr) {
    EventStore::RemoveAppendListener(append_listener_);
    sequencer_->Stop();
  }
  if (hub_ != nullptr) hub_->Stop();
  if (grpc_server_ != nullptr) grpc_server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  work_.reset();  // finishes queued replays of streams that already ended
  // The tunnel stops first: its last state change still reaches a live
  // pool (TunnelWatcher), and the backends see their channels close.
  if (tunnel_ != nullptr) tunnel_->Stop();
  pool_.reset();
}

}  // namespace chatgenius

namespace chatgenius {

std::string Server::RenderMetrics() const {
  std::string out;
  rpc_metrics_.AppendTo(&out);
  AppendPoolMetrics(pool_->Stats(), &out);
  LimitHits::AppendTo(&out);
  AppendCancelMetrics(cancel_watcher_->Stats(), &out);
  AppendGauge(&out, "chatgenius_tunnel_enabled", "1 when SSH_HOST is set.",
              tunnel_ != nullptr ? 1 : 0);
  if (tunnel_ != nullptr) AppendTunnelMetrics(tunnel_->status(), &out);
  AppendSequencerMetrics(sequencer_->stats(), &out);
  AppendHubMetrics(hub_->stats(), &out);
  AppendStreamMetrics(events_->stats(), &out);
  if (auth_ != nullptr) {
    AppendCounter(&out, "chatgenius_auth_refused_total",
                  "Calls refused UNAUTHENTICATED (missing or unknown bearer token).",
                  auth_->refused_total());
  }
  AppendGauge(&out, "chatgenius_schema_version",
              "Applied migration version last seen (-1 before the first probe).",
              schema_version_.load());
  AppendGauge(&out, "chatgenius_ready", "1 while readiness is SERVING.", ready() ? 1 : 0);
  return out;
}

}  // namespace chatgenius
