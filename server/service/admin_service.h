// admin_service.h
//
// AdminServiceImpl: pool statistics, read replicas, tunnel status and server
// facts for operators. Never returns secrets.
#ifndef CHATGENIUS_SERVER_SERVICE_ADMIN_SERVICE_H_
#define CHATGENIUS_SERVER_SERVICE_ADMIN_SERVICE_H_

#include <string>

#include "absl/time/time.h"
#include "chatgenius/db/v1/admin_service.grpc.pb.h"
#include "server/db/database.h"
#include "server/migrate/migrator.h"
#include "server/store/server_info_store.h"
#include "server/tunnel/ssh_tunnel.h"

namespace chatgenius {

// kServerVersion is reported by GetServerInfo.
inline constexpr char kServerVersion[] = "0.1.0";

class AdminServiceImpl final : public db::v1::AdminService::Service {
 public:
  // Pointers must outlive the service. `database` is the redacted target.
  // `tunnel` is null when the service connects directly.
  AdminServiceImpl(Database* db, ServerInfoStore* info, const Migrator* migrator,
                   const SshTunnel* tunnel, std::string database,
                   absl::Duration max_statement_time);

  grpc::Status GetPoolStats(grpc::ServerContext* context,
                            const db::v1::GetPoolStatsRequest* request,
                            db::v1::PoolStats* response) override;
  grpc::Status GetDatabaseHosts(grpc::ServerContext* context,
                                const db::v1::GetDatabaseHostsRequest* request,
                                db::v1::DatabaseHosts* response) override;
  grpc::Status GetTunnelStatus(grpc::ServerContext* context,
                               const db::v1::GetTunnelStatusRequest* request,
                               db::v1::TunnelStatus* response) override;
  grpc::Status GetServerInfo(grpc::ServerContext* context,
                             const db::v1::GetServerInfoRequest* request,
                             db::v1::ServerInfo* response) override;

 private:
  Database* const db_;
  ServerInfoStore* const info_;
  const Migrator* const migrator_;
  const SshTunnel* const tunnel_;
  const std::string database_;
  const absl::Time start_time_;
  const absl::Duration max_statement_time_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_SERVICE_ADMIN_SERVICE_H_
