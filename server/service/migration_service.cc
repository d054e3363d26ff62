#include "server/service/migration_service.h"

#include <google/protobuf/util/time_util.h>

#include "server/service/rpc_util.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using google::protobuf::util::TimeUtil;

v1::MigrationState StateToProto(MigrationState s) {
  switch (s) {
    case MigrationState::kApplied:
      return v1::MIGRATION_STATE_APPLIED;
    case MigrationState::kPending:
      return v1::MIGRATION_STATE_PENDING;
    case MigrationState::kChecksumMismatch:
      return v1::MIGRATION_STATE_CHECKSUM_MISMATCH;
    case MigrationState::kUnknown:
      return v1::MIGRATION_STATE_UNKNOWN;
    case MigrationState::kFailed:
      return v1::MIGRATION_STATE_FAILED;
  }
  return v1::MIGRATION_STATE_UNSPECIFIED;
}

}  // namespace

v1::MigrationStatus ToProto(const MigrationReport& report) {
  v1::MigrationStatus out;
  out.set_current_version(report.current_version);
  out.set_latest_version(report.latest_version);
  out.set_up_to_date(report.up_to_date);
  for (const MigrationInfo& m : report.migrations) {
    v1::Migration* p = out.add_migrations();
    p->set_version(m.version);
    p->set_description(m.description);
    p->set_state(StateToProto(m.state));
    p->set_checksum(m.checksum);
    p->set_applied_checksum(m.applied_checksum);
    if (m.installed_at.has_value()) {
      *p->mutable_install_time() =
          TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(*m.installed_at));
    }
    *p->mutable_execution_time() =
        TimeUtil::MillisecondsToDuration(absl::ToInt64Milliseconds(m.execution_time));
  }
  return out;
}

MigrationServiceImpl::MigrationServiceImpl(const Migrator* migrator,
                                           absl::Duration max_statement_time)
    : migrator_(migrator), max_statement_time_(max_statement_time) {}

grpc::Status MigrationServiceImpl::GetMigrationStatus(
    grpc::ServerContext* context, const v1::GetMigrationStatusRequest* /*request*/,
    v1::MigrationStatus* response) {
  absl::StatusOr<MigrationReport> report =
      migrator_->Status(RpcLimits(context, max_statement_time_));
  if (!report.ok()) return ToGrpcStatus(report.status());
  *response = ToProto(*report);
  return grpc::Status::OK;
}

grpc::Status MigrationServiceImpl::ApplyMigrations(grpc::ServerContext* context,
                                                   const v1::ApplyMigrationsRequest* /*request*/,
                                                   v1::MigrationStatus* response) {
  // The caller's deadline, if any (not capped at STATEMENT_TIMEOUT_MS: a
  // migration's DDL may legitimately take longer).
  const absl::Time deadline = context->deadline() == std::chrono::system_clock::time_point::max()
                                  ? absl::InfiniteFuture()
                                  : absl::FromChrono(context->deadline());
  absl::StatusOr<MigrationReport> report = migrator_->Apply(deadline);
  if (!report.ok()) return ToGrpcStatus(report.status());
  *response = ToProto(*report);
  return grpc::Status::OK;
}

}  // namespace chatgenius
