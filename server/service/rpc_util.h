// rpc_util.h
//
// The seam between gRPC and the layers below: status conversion and the
// deadline every store call receives. Only the service layer includes gRPC.
#ifndef CHATGENIUS_SERVER_SERVICE_RPC_UTIL_H_
#define CHATGENIUS_SERVER_SERVICE_RPC_UTIL_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace chatgenius {

// ToGrpcStatus converts a status code-for-code (absl and gRPC share the
// canonical codes) and keeps the message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Respond finishes a unary call: the value goes into *response and the
// call succeeds, or the error status is returned.
template <typename T>
grpc::Status Respond(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

// RpcDeadline returns the deadline for the database work of one call: the
// caller's gRPC deadline, capped at now + `max_statement_time` so a caller
// without a deadline cannot hold a connection forever.
absl::Time RpcDeadline(const grpc::ServerContext* context, absl::Duration max_statement_time);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_SERVICE_RPC_UTIL_H_
