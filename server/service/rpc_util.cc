#include "server/service/rpc_util.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace chatgenius {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status ValidateTimestamp(absl::string_view field, const google::protobuf::Timestamp& ts) {
  constexpr int64_t kMinSeconds = -62135596800;  // 0001-01-01T00:00:00Z
  constexpr int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z
  if (ts.seconds() < kMinSeconds || ts.seconds() > kMaxSeconds || ts.nanos() < 0 ||
      ts.nanos() > 999999999) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not a valid timestamp"));
  }
  return absl::OkStatus();
}

int64_t TimestampMicros(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000000 + ts.nanos() / 1000;
}

absl::StatusOr<std::set<std::string>> MaskPaths(const google::protobuf::FieldMask& mask,
                                                const std::set<std::string>& allowed) {
  const std::string names = absl::StrJoin(allowed, ", ");
  if (mask.paths().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("update_mask: must name at least one field (", names, ")"));
  }
  std::set<std::string> out;
  for (const std::string& path : mask.paths()) {
    if (allowed.count(path) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("update_mask: '", path, "' cannot be updated (allowed: ", names, ")"));
    }
    out.insert(path);
  }
  return out;
}

CallLimits RpcLimits(grpc::ServerContext* context, absl::Duration max_statement_time) {
  absl::Time deadline = absl::Now() + max_statement_time;
  if (context == nullptr) return CallLimits(deadline);
  deadline = std::min(deadline, absl::FromChrono(context->deadline()));
  CallLimits limits(deadline, [context] { return context->IsCancelled(); });
  const auto tokens = context->client_metadata().equal_range(kMinLsnMetadata);
  for (auto it = tokens.first; it != tokens.second; ++it) {
    absl::StatusOr<Lsn> lsn = ParseLsn(absl::string_view(it->second.data(), it->second.size()));
    limits.min_lsn = lsn.ok() ? std::max(limits.min_lsn, *lsn) : CallLimits::kPrimaryOnly;
  }
  limits.committed = [context](Lsn lsn) {
    context->AddTrailingMetadata(kCommitLsnMetadata, FormatLsn(lsn));
  };
  return limits;
}

absl::Status RequireActingUser(const grpc::ServerContextBase* context,
                               const google::protobuf::Message& request,
                               const EndUserAuth* end_users) {
  if (end_users == nullptr) return absl::OkStatus();
  return CheckActingUser(context->client_metadata(), request, end_users);
}

}  // namespace chatgenius
