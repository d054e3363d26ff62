#include "server/service/admin_service.h"

#include "server/service/rpc_util.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  int64_t ns = absl::ToInt64Nanoseconds(d);
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

}  // namespace

AdminServiceImpl::AdminServiceImpl(const ConnectionPool* pool, ServerInfoStore* info,
                                   const Migrator* migrator, std::string database,
                                   absl::Duration max_statement_time)
    : pool_(pool),
      info_(info),
      migrator_(migrator),
      database_(std::move(database)),
      start_time_(absl::Now()),
      max_statement_time_(max_statement_time) {}

grpc::Status AdminServiceImpl::GetPoolStats(grpc::ServerContext* /*context*/,
                                            const v1::GetPoolStatsRequest* /*request*/,
                                            v1::PoolStats* response) {
  PoolStatistics s = pool_->Stats();
  response->set_max_size(s.max_size);
  response->set_size(s.size);
  response->set_idle(s.idle);
  response->set_in_use(s.in_use);
  response->set_waiting(s.waiting);
  response->set_acquired_total(s.acquired_total);
  SetDuration(s.wait_time_total, response->mutable_wait_time_total());
  response->set_acquire_timeouts_total(s.acquire_timeouts_total);
  response->set_broken_total(s.broken_total);
  response->set_created_total(s.created_total);
  response->set_expired_total(s.expired_total);
  response->set_health_checks_total(s.health_checks_total);
  response->set_health_check_failures_total(s.health_check_failures_total);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetTunnelStatus(grpc::ServerContext* /*context*/,
                                               const v1::GetTunnelStatusRequest* /*request*/,
                                               v1::TunnelStatus* response) {
  // This build connects to PostgreSQL directly (the SSH tunnel is a later
  // issue), so the honest answer is "disabled".
  response->set_enabled(false);
  response->set_state(v1::TUNNEL_STATE_DISABLED);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetServerInfo(grpc::ServerContext* context,
                                             const v1::GetServerInfoRequest* /*request*/,
                                             v1::ServerInfo* response) {
  CallLimits deadline = RpcLimits(context, max_statement_time_);
  absl::StatusOr<std::string> version = info_->PostgresVersion(deadline);
  if (!version.ok()) return ToGrpcStatus(version.status());
  absl::StatusOr<MigrationReport> report = migrator_->Status(deadline);
  if (!report.ok()) return ToGrpcStatus(report.status());
  response->set_version(kServerVersion);
  response->set_postgres_version(*version);
  response->set_database(database_);
  response->mutable_start_time()->set_seconds(absl::ToUnixSeconds(start_time_));
  response->set_schema_version(report->current_version);
  return grpc::Status::OK;
}

}  // namespace chatgenius
