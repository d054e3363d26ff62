#include "server/service/rpc_util.h"

#include <chrono>

namespace chatgenius {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Time RpcDeadline(const grpc::ServerContext* context, absl::Duration max_statement_time) {
  absl::Time cap = absl::Now() + max_statement_time;
  if (context == nullptr) return cap;
  absl::Time caller = absl::FromChrono(context->deadline());
  return std::min(caller, cap);
}

}  // namespace chatgenius
