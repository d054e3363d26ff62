// server.h
//
// Server: the wiring of one database service process — pool, migrator,
// stores, gRPC services, health and reflection. main() and the integration
// tests both start it through Server::Start, so the tests exercise exactly
// what runs in production.
//
// Health names: "liveness" is SERVING while the process answers; "" and
// every "chatgenius.db.v1.<Service>" are SERVING only while the readiness
// probe passes (the database answers through the pool and the schema is
// current).
//
// Example:
//   ASSIGN_OR_RETURN(std::unique_ptr<Server> server, Server::Start(config));
//   server->Wait();
#ifndef CHATGENIUS_SERVER_APP_SERVER_H_
#define CHATGENIUS_SERVER_APP_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server.h>

#include "absl/status/statusor.h"
#include "server/app/component_settings.h"
#include "server/app/config.h"
#include "server/app/end_user_directory.h"
#include "server/app/health_monitor.h"
#include "server/auth/acting_user.h"
#include "server/auth/end_user_jwt.h"
#include "server/auth/token_auth_processor.h"
#include "server/common/page_token.h"
#include "server/common/work_queue.h"
#include "server/db/cancel_watcher.h"
#include "server/db/connection_pool.h"
#include "server/db/database.h"
#include "server/metrics/metrics_endpoint.h"
#include "server/metrics/rpc_metrics.h"
#include "server/migrate/migrator.h"
#include "server/realtime/event_hub.h"
#include "server/realtime/event_sequencer.h"
#include "server/service/event_service.h"
#include "server/store/attachment_store.h"
#include "server/store/channel_store.h"
#include "server/store/event_store.h"
#include "server/store/member_store.h"
#include "server/store/message_store.h"
#include "server/store/reaction_store.h"
#include "server/store/server_info_store.h"
#include "server/store/user_store.h"
#include "server/tunnel/ssh_tunnel.h"

namespace chatgenius {

// kLivenessService is the health name that only says the process is up.
inline constexpr char kLivenessService[] = "liveness";

// ReadinessServiceNames returns "" and every chatgenius.db.v1 service name.
const std::vector<std::string>& ReadinessServiceNames();

class Server {
 public:
  // Start builds everything — with SSH_HOST set, first the SSH tunnel the
  // pool connects through — applies migrations when MIGRATE_MODE=auto
  // (failure to reach the database is not fatal: the readiness probe keeps
  // retrying), and starts serving. Fails if the address cannot be bound,
  // the built-in migrations are malformed, or the tunnel meets an error
  // retrying cannot fix (host key unknown or changed, key refused).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Server>> Start(const Config& config);

  ~Server();

  // port is the bound port (useful with LISTEN_ADDRESS=...:0).
  int port() const { return port_; }

  // Wait blocks until Shutdown.
  void Wait();

  // BeginShutdown reports NOT_SERVING on every readiness name at once but
  // keeps serving, so load balancers move traffic away first.
  void BeginShutdown();

  // Shutdown reports NOT_SERVING on every health name, ends event streams
  // with UNAVAILABLE, stops accepting calls, waits up to `grace` for running
  // ones, cancels the rest, and closes the pool and tunnel.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

  // ready is the readiness probe's current verdict.
  bool ready() const { return monitor_ != nullptr && monitor_->serving(); }

  ConnectionPool& pool() { return *pool_; }
  Database& database() { return *database_; }
  CancelWatcher& cancel_watcher() { return *cancel_watcher_; }
  EventHub& hub() { return *hub_; }
  EventSequencer& sequencer() { return *sequencer_; }
  // tunnel is null when SSH_HOST is not set.
  SshTunnel* tunnel() { return tunnel_.get(); }
  // metrics_port is the bound port of the METRICS_ADDRESS endpoint (0: off).
  int metrics_port() const { return metrics_ == nullptr ? 0 : metrics_->port(); }

  // RenderMetrics returns every metric in Prometheus text format: RPCs,
  // pool (PgBouncer-like names), tunnel, event fan-out, auth, schema.
  std::string RenderMetrics() const;

 private:
  explicit Server(const Config& config);
  // Start's steps, in order. OpenDatabase: the tunnel (SSH_HOST), the
  // cancel watcher, the pool, the migrator and the stores. MigrateAtStart:
  // MIGRATE_MODE=auto. AddUnaryServices: page tokens, end-user tokens and
  // the unary services. StartRealtime: hub, sequencer and EventService.
  // StartGrpc: credentials, limits, listening, health names. StartMonitoring:
  // the readiness monitor and the metrics endpoint.
  absl::Status OpenDatabase();
  // ReplicaRoutingFor: POSTGRES_REPLICA_* as pools like `primary` (through
  // a tunnel each with SSH_HOST).
  absl::StatusOr<ReplicaRouting> ReplicaRoutingFor(const PoolSettings& primary);
  void MigrateAtStart();
  absl::Status AddUnaryServices();
  void StartRealtime();
  absl::Status StartGrpc();
  absl::Status StartMonitoring();
  absl::Status ProbeReadiness(absl::Time deadline);

  class TunnelWatcher;

  const Config config_;
  std::string conninfo_;  // the pool's (through the tunnel with SSH_HOST); secret
  // First: every component that watches statements must go before it.
  std::unique_ptr<CancelWatcher> cancel_watcher_;
  std::unique_ptr<SshTunnel> tunnel_;
  std::unique_ptr<TunnelWatcher> tunnel_watcher_;
  std::vector<std::unique_ptr<SshTunnel>> replica_tunnels_;  // with SSH_HOST: one per replica
  std::unique_ptr<ConnectionPool> pool_;
  // The primary (pool_) and the read replicas; the stores run through it.
  std::unique_ptr<Database> database_;
  std::unique_ptr<PageTokenCodec> tokens_;
  std::unique_ptr<Migrator> migrator_;
  std::unique_ptr<UserStore> user_store_;
  std::unique_ptr<ChannelStore> channel_store_;
  std::unique_ptr<MemberStore> member_store_;
  std::unique_ptr<MessageStore> message_store_;
  std::unique_ptr<AttachmentStore> attachment_store_;
  std::unique_ptr<ReactionStore> reaction_store_;
  std::unique_ptr<ServerInfoStore> info_store_;
  std::unique_ptr<EventStore> event_store_;
  // END_USER_JWT_* on: used by the auth processor, so declared before (and
  // destroyed after) the gRPC server.
  std::unique_ptr<JwtVerifier> jwt_;
  std::unique_ptr<EndUserDirectory> end_user_directory_;
  std::unique_ptr<EndUserAuth> end_users_;  // what the services check tokens with
  std::unique_ptr<EventHub> hub_;
  std::unique_ptr<EventSequencer> sequencer_;
  int64_t append_listener_ = 0;
  std::unique_ptr<WorkQueue> work_;
  std::unique_ptr<WorkQueue> fanout_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<HealthMonitor> monitor_;
  RpcMetrics rpc_metrics_;
  std::shared_ptr<TokenAuthProcessor> auth_;
  EventServiceImpl* events_ = nullptr;       // owned by services_
  std::atomic<int64_t> schema_version_{-1};  // last seen by the readiness probe
  std::atomic<int64_t> schema_expected_version_{-1};
  std::atomic<bool> schema_current_{false};
  std::unique_ptr<MetricsEndpoint> metrics_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_APP_SERVER_H_
