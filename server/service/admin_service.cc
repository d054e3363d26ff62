#include "server/service/admin_service.h"

#include <google/protobuf/util/time_util.h>

#include "server/service/rpc_util.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

using google::protobuf::util::TimeUtil;

v1::TunnelState TunnelStateToProto(TunnelState s) {
  switch (s) {
    case TunnelState::kConnecting:
      return v1::TUNNEL_STATE_CONNECTING;
    case TunnelState::kUp:
      return v1::TUNNEL_STATE_CONNECTED;
    case TunnelState::kBackoff:
      return v1::TUNNEL_STATE_BACKOFF;
    case TunnelState::kMaxRetriesExceeded:
      return v1::TUNNEL_STATE_MAX_RETRIES_EXCEEDED;
    case TunnelState::kStopped:
      return v1::TUNNEL_STATE_STOPPED;
  }
  return v1::TUNNEL_STATE_UNSPECIFIED;
}

void PoolStatsToProto(const PoolStatistics& s, v1::PoolStats* response) {
  response->set_max_size(s.max_size);
  response->set_size(s.size);
  response->set_idle(s.idle);
  response->set_in_use(s.in_use);
  response->set_waiting(s.waiting);
  response->set_acquired_total(s.acquired_total);
  *response->mutable_wait_time_total() =
      TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(s.wait_time_total));
  response->set_acquire_timeouts_total(s.acquire_timeouts_total);
  response->set_broken_total(s.broken_total);
  response->set_created_total(s.created_total);
  response->set_expired_total(s.expired_total);
  response->set_health_checks_total(s.health_checks_total);
  response->set_health_check_failures_total(s.health_check_failures_total);
}

google::protobuf::Timestamp TimestampOf(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

}  // namespace

AdminServiceImpl::AdminServiceImpl(Database* db, ServerInfoStore* info, const Migrator* migrator,
                                   const SshTunnel* tunnel, std::string database,
                                   absl::Duration max_statement_time)
    : db_(db),
      info_(info),
      migrator_(migrator),
      tunnel_(tunnel),
      database_(std::move(database)),
      start_time_(absl::Now()),
      max_statement_time_(max_statement_time) {}

grpc::Status AdminServiceImpl::GetPoolStats(grpc::ServerContext* /*context*/,
                                            const v1::GetPoolStatsRequest* /*request*/,
                                            v1::PoolStats* response) {
  PoolStatsToProto(db_->primary().Stats(), response);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetDatabaseHosts(grpc::ServerContext* /*context*/,
                                                const v1::GetDatabaseHostsRequest* /*request*/,
                                                v1::DatabaseHosts* response) {
  const ReadRoutingStatistics routing = db_->RoutingStats();
  response->set_primary_reads_total(routing.primary_reads);
  response->set_fallback_none_in_rotation_total(routing.fallback_none_in_rotation);
  response->set_fallback_lsn_not_replayed_total(routing.fallback_lsn_not_replayed);
  response->set_fallback_replica_failed_total(routing.fallback_replica_failed);
  if (routing.primary_lsn != 0) response->set_primary_wal_lsn(FormatLsn(routing.primary_lsn));
  *response->mutable_max_lag() =
      TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(db_->max_staleness()));
  for (const ReplicaStatus& r : db_->ReplicaStatuses()) {
    v1::ReplicaHost* host = response->add_replicas();
    host->set_name(r.name);
    host->set_state(ReplicaStateName(r.state));
    host->set_in_rotation(r.in_rotation);
    host->set_replay_lsn(FormatLsn(r.replay_lsn));
    if (r.staleness != absl::InfiniteDuration()) {
      *host->mutable_staleness() =
          TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(r.staleness));
    }
    if (r.last_replayed_commit != absl::InfinitePast()) {
      *host->mutable_last_replayed_commit_time() = TimestampOf(r.last_replayed_commit);
    }
    if (r.checked_at != absl::InfinitePast())
      *host->mutable_checked_time() = TimestampOf(r.checked_at);
    host->set_last_error(r.last_error);
    host->set_reads_total(r.reads_total);
    host->set_checks_failed_total(r.checks_failed_total);
    PoolStatsToProto(r.pool, host->mutable_pool());
  }
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetTunnelStatus(grpc::ServerContext* /*context*/,
                                               const v1::GetTunnelStatusRequest* /*request*/,
                                               v1::TunnelStatus* response) {
  if (tunnel_ == nullptr) {
    response->set_enabled(false);
    response->set_state(v1::TUNNEL_STATE_DISABLED);
    return grpc::Status::OK;
  }
  TunnelStatus t = tunnel_->status();
  response->set_enabled(true);
  response->set_state(TunnelStateToProto(t.state));
  response->set_ssh_target(t.ssh_target);
  response->set_remote_target(t.remote_target);
  response->set_local_endpoint(t.local_endpoint);
  response->set_open_channels(t.open_channels);
  response->set_reconnects_total(t.reconnects_total);
  response->set_consecutive_failures(t.consecutive_failures);
  response->set_last_error(t.last_error);
  *response->mutable_state_since() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t.state_since));
  if (t.last_keepalive != absl::InfinitePast()) {
    *response->mutable_last_keepalive_time() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t.last_keepalive));
  }
  response->set_bytes_to_remote(t.bytes_to_remote);
  response->set_bytes_from_remote(t.bytes_from_remote);
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
  *response->mutable_start_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(start_time_));
  response->set_schema_version(report->current_version);
  return grpc::Status::OK;
}

}  // namespace chatgenius
