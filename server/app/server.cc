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
#include "chatgenius/db/v1/event_service.grpc.pb.h"
#include "server/app/rpc_observer.h"
#include "server/app/server_credentials.h"
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

Server::~Server() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const Config& config) {
  // A peer that went away must be an EPIPE, never the death of the
  // process: every socket and pipe write in here (the tunnel, wake-up
  // pipes, libraries) relies on it.
  std::signal(SIGPIPE, SIG_IGN);
  // Two statements under one name would run each other's SQL.
  RETURN_IF_ERROR(CheckStatementCatalog());
  std::unique_ptr<Server> s(new Server(config));
  RETURN_IF_ERROR(s->OpenDatabase());
  s->MigrateAtStart();
  RETURN_IF_ERROR(s->AddUnaryServices());
  s->StartRealtime();
  RETURN_IF_ERROR(s->StartGrpc());
  RETURN_IF_ERROR(s->StartMonitoring());
  LogInfo(absl::StrCat("serving gRPC on ", config.listen_address, " (port ", s->port_, ")"));
  return s;
}

absl::Status Server::OpenDatabase() {
  const Config& config = config_;
  ASSIGN_OR_RETURN(std::vector<MigrationFile> migrations, BuiltinMigrations());
  conninfo_ = config.ConnInfo();
  std::string migration_conninfo = config.MigrationConnInfo();
  if (config.ssh_enabled()) {
    tunnel_ = std::make_unique<SshTunnel>(TunnelSettingsFrom(config));
    tunnel_watcher_ = std::make_unique<TunnelWatcher>(this);
    tunnel_->AddListener(tunnel_watcher_.get());
    RETURN_IF_ERROR(tunnel_->Start());
    conninfo_ = config.ConnInfoVia(tunnel_->local_host(), tunnel_->local_port());
    migration_conninfo = config.MigrationConnInfoVia(tunnel_->local_host(), tunnel_->local_port());
  }

  PoolSettings pool_settings;
  pool_settings.conninfo = conninfo_;
  pool_settings.max_size = config.pool_max_size;
  pool_settings.acquire_timeout = config.pool_acquire_timeout;
  pool_settings.idle_check_after = config.pool_idle_check_after;
  pool_settings.max_lifetime = config.pool_max_lifetime;
  CancelSettings cancel_settings;
  cancel_settings.cut_off_after = config.postgres_cancel_grace;
  cancel_watcher_ = std::make_unique<CancelWatcher>(cancel_settings);
  pool_settings.cancel_watcher = cancel_watcher_.get();
  pool_ = std::make_unique<ConnectionPool>(pool_settings);
  ASSIGN_OR_RETURN(ReplicaRouting routing, ReplicaRoutingFor(pool_settings));
  database_ = std::make_unique<Database>(pool_.get(), std::move(routing));

  migrator_ = std::make_unique<Migrator>(migration_conninfo, pool_.get(), std::move(migrations));
  user_store_ = std::make_unique<UserStore>(database_.get());
  channel_store_ = std::make_unique<ChannelStore>(database_.get());
  member_store_ = std::make_unique<MemberStore>(database_.get());
  message_store_ = std::make_unique<MessageStore>(database_.get(), config.content_limits);
  attachment_store_ = std::make_unique<AttachmentStore>(database_.get(), config.content_limits);
  reaction_store_ = std::make_unique<ReactionStore>(database_.get(), config.content_limits);
  info_store_ = std::make_unique<ServerInfoStore>(pool_.get());
  event_store_ = std::make_unique<EventStore>(pool_.get());
  return absl::OkStatus();
}

absl::StatusOr<ReplicaRouting> Server::ReplicaRoutingFor(const PoolSettings& primary) {
  const Config& config = config_;
  ReplicaRouting routing;
  routing.primary_sampler = primary;
  routing.max_staleness = config.postgres_replica_max_lag;
  routing.lsn_wait = config.postgres_replica_wait;
  routing.check_interval = config.postgres_replica_check;
  for (const HostPort& host : config.postgres_replica_hosts) {
    ReplicaSettings replica;
    replica.name = absl::StrCat(host.host, ":", host.port);
    replica.pool = primary;
    replica.pool.conninfo = config.ReplicaConnInfoVia(host.host, host.port);
    if (config.ssh_enabled()) {
      // One tunnel (SSH session, local endpoint) per replica: host:port is
      // as the SSH host sees it.
      TunnelSettings t = TunnelSettingsFrom(config);
      t.remote_host = host.host;
      t.remote_port = host.port;
      if (t.local_tcp) t.local_port = 0;
      auto tunnel = std::make_unique<SshTunnel>(t);
      RETURN_IF_ERROR(tunnel->Start());
      replica.pool.conninfo = config.ReplicaConnInfoVia(tunnel->local_host(), tunnel->local_port());
      replica_tunnels_.push_back(std::move(tunnel));
    }
    routing.replicas.push_back(std::move(replica));
  }
  if (!routing.replicas.empty()) {
    LogInfo(absl::StrCat("read replicas: ", routing.replicas.size(), " (max lag ",
                         absl::FormatDuration(routing.max_staleness), ")"));
  }
  return routing;
}

void Server::MigrateAtStart() {
  if (config_.migrate_mode != MigrateMode::kAuto) return;
  absl::StatusOr<MigrationReport> report = migrator_->Apply();
  if (report.ok()) {
    LogInfo(absl::StrCat("migrations: schema at version ", report->current_version));
  } else {
    // Not fatal: the database may come up later; the probe retries and the
    // server stays NOT_SERVING meanwhile.
    LogWarning(absl::StrCat("migrations not applied yet: ", report.status().ToString()));
  }
}

absl::Status Server::AddUnaryServices() {
  const Config& config = config_;
  if (config.page_token_key.empty()) {
    LogWarning(
        "PAGE_TOKEN_KEY is not set: page tokens use a random key and stop working "
        "after a restart or on another replica");
  }
  tokens_ = std::make_unique<PageTokenCodec>(config.page_token_key.empty() ? RandomKey()
                                                                           : config.page_token_key);
  if (config.end_user_jwt.enabled()) {
    ASSIGN_OR_RETURN(jwt_, JwtVerifier::Create(config.end_user_jwt));
    end_user_directory_ = std::make_unique<EndUserDirectory>(user_store_.get());
    LogInfo(absl::StrCat("end-user tokens on: ", jwt_->key_count(), " key(s), issuer ",
                         config.end_user_jwt.issuer));
    EndUserDirectory* directory = end_user_directory_.get();
    end_users_ = std::make_unique<EndUserAuth>(EndUserAuth{
        jwt_.get(),
        [directory](const std::string& subject) { return directory->UserIdOf(subject); }});
  }
  const EndUserAuth* end_users = end_users_.get();
  const absl::Duration max_statement = config.statement_timeout;
  services_.push_back(std::make_unique<UserServiceImpl>(user_store_.get(), tokens_.get(),
                                                        max_statement, end_users));
  services_.push_back(std::make_unique<MigrationServiceImpl>(migrator_.get(), max_statement));
  services_.push_back(std::make_unique<AdminServiceImpl>(database_.get(), info_store_.get(),
                                                         migrator_.get(), tunnel_.get(),
                                                         config.RedactedConnInfo(), max_statement));
  services_.push_back(std::make_unique<ChannelServiceImpl>(
      channel_store_.get(), member_store_.get(), tokens_.get(), max_statement, end_users));
  services_.push_back(std::make_unique<MessageServiceImpl>(
      message_store_.get(), attachment_store_.get(), tokens_.get(), max_statement, end_users,
      config.storage_url_schemes));
  services_.push_back(
      std::make_unique<ReactionServiceImpl>(reaction_store_.get(), max_statement, end_users));
  return absl::OkStatus();
}

void Server::StartRealtime() {
  const Config& config = config_;
  HubSettings hub_settings;
  hub_settings.conninfo = conninfo_;
  hub_settings.retention = config.event_retention;
  hub_ = std::make_unique<EventHub>(hub_settings, event_store_.get());
  hub_->Start();
  // One sequencer per process contends for the database's leader lock; the
  // leader stamps every replica's committed events. Local commits wake it,
  // and its rounds wake the local hub.
  SequencerSettings sequencer_settings;
  sequencer_settings.conninfo = conninfo_;
  sequencer_settings.poll_interval = config.event_sequencer_poll;
  sequencer_settings.cancel_watcher = cancel_watcher_.get();
  EventHub* hub = hub_.get();
  sequencer_ = std::make_unique<EventSequencer>(sequencer_settings, [hub] { hub->Wake(); });
  EventSequencer* sequencer = sequencer_.get();
  append_listener_ = EventStore::AddAppendListener([sequencer] { sequencer->Wake(); });
  sequencer_->Start();
  // Replays of stored events run here, off gRPC's callback threads; live
  // events are written to the streams by the fan-out threads.
  work_ = std::make_unique<WorkQueue>(2);
  fanout_ = std::make_unique<WorkQueue>(config.event_fanout_threads);
  EventStreamLimits stream_limits;
  stream_limits.queue_events = config.event_stream_queue;
  stream_limits.queue_bytes = static_cast<size_t>(config.event_stream_queue_bytes);
  stream_limits.write_timeout = config.event_stream_write_timeout;
  stream_limits.max_streams = config.max_event_streams;
  stream_limits.max_streams_per_caller = config.max_event_streams_per_caller;
  stream_limits.call_timeout = config.statement_timeout;
  auto events = std::make_unique<EventServiceImpl>(hub_.get(), event_store_.get(), work_.get(),
                                                   fanout_.get(), stream_limits, end_users_.get());
  events_ = events.get();
  services_.push_back(std::move(events));
}

absl::Status Server::StartGrpc() {
  const Config& config = config_;
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   ServerCredentialsFor(config, &auth_));
  grpc::EnableDefaultHealthCheckService(true);
  if (config.reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen_address, credentials, &port_);
  ApplyConnectionLimits(config, &builder);
  for (auto& service : services_) builder.RegisterService(service.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> observers;
  observers.push_back(std::make_unique<RpcObserverFactory>(&rpc_metrics_));
  builder.experimental().SetInterceptorCreators(std::move(observers));
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("LISTEN_ADDRESS: cannot listen on ", config.listen_address));
  }
  grpc::HealthCheckServiceInterface* health = grpc_server_->GetHealthCheckService();
  health->SetServingStatus(kLivenessService, true);
  for (const std::string& name : ReadinessServiceNames()) health->SetServingStatus(name, false);
  return absl::OkStatus();
}

absl::Status Server::StartMonitoring() {
  grpc::HealthCheckServiceInterface* health = grpc_server_->GetHealthCheckService();
  monitor_ = std::make_unique<HealthMonitor>(
      [this](absl::Time deadline) { return ProbeReadiness(deadline); },
      [health](bool serving) {
        for (const std::string& name : ReadinessServiceNames()) {
          health->SetServingStatus(name, serving);
        }
      },
      config_.health_probe_interval, config_.health_failure_threshold);
  monitor_->Start();
  if (config_.metrics_address.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(metrics_, MetricsEndpoint::Start(config_.metrics_address,
                                                    [this] { return RenderMetrics(); }));
  LogInfo(absl::StrCat("metrics on http://",
                       config_.metrics_address.substr(0, config_.metrics_address.rfind(':')), ":",
                       metrics_->port(), "/metrics"));
  return absl::OkStatus();
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
  schema_expected_version_.store(report->latest_version);
  schema_current_.store(report->up_to_date);
  if (report->up_to_date) return absl::OkStatus();
  if (config_.migrate_mode == MigrateMode::kAuto) {
    absl::StatusOr<MigrationReport> applied = migrator_->Apply();
    if (!applied.ok()) return applied.status();
    if (applied->up_to_date) {
      LogInfo(absl::StrCat("migrations: schema at version ", applied->current_version));
      schema_version_.store(applied->current_version);
      schema_current_.store(true);
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
  fanout_.reset();
  // The tunnel stops first: its last state change still reaches a live
  // pool (TunnelWatcher), and the backends see their channels close.
  if (tunnel_ != nullptr) tunnel_->Stop();
  for (auto& tunnel : replica_tunnels_) tunnel->Stop();
  database_.reset();  // its checkers end first
  pool_.reset();
}

}  // namespace chatgenius

namespace chatgenius {

std::string Server::RenderMetrics() const {
  std::string out;
  rpc_metrics_.AppendTo(&out);
  AppendPoolMetrics(pool_->Stats(), &out);
  database_->AppendMetrics(&out);
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
  AppendGauge(&out, "chatgenius_schema_expected_version",
              "Highest migration version in this binary (-1 before the first probe).",
              schema_expected_version_.load());
  AppendGauge(&out, "chatgenius_schema_current",
              "1 when the last readiness probe found no pending, failed or edited migration.",
              schema_current_.load() ? 1 : 0);
  AppendGauge(&out, "chatgenius_ready", "1 while readiness is SERVING.", ready() ? 1 : 0);
  return out;
}

}  // namespace chatgenius
