// rpc_util.h
//
// The seam between gRPC and the layers below: status conversion and the
// deadline every store call receives. Only the service layer includes gRPC.
#ifndef CHATGENIUS_SERVER_SERVICE_RPC_UTIL_H_
#define CHATGENIUS_SERVER_SERVICE_RPC_UTIL_H_

#include <set>
#include <string>
#include <vector>

#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/auth/acting_user.h"
#include "server/db/call_limits.h"

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

// Respond for calls without a result message (google.protobuf.Empty).
inline grpc::Status Respond(const absl::Status& status) { return ToGrpcStatus(status); }

// ValidateTimestamp checks a google.protobuf.Timestamp is within its
// documented range (years 1..9999, nanos in [0, 1e9)).
[[nodiscard]] absl::Status ValidateTimestamp(absl::string_view field,
                                             const google::protobuf::Timestamp& ts);

// TimestampMicros converts a valid timestamp to microseconds since epoch.
int64_t TimestampMicros(const google::protobuf::Timestamp& ts);

// MaskPaths validates an update mask against the `allowed` field names and
// returns the named ones. INVALID_ARGUMENT for an empty mask or other names.
[[nodiscard]] absl::StatusOr<std::set<std::string>> MaskPaths(
    const google::protobuf::FieldMask& mask, const std::set<std::string>& allowed);

// TrimPage keeps the first `page_size` rows of a page fetched with one row
// extra and returns whether another page exists (no COUNT needed).
template <typename T>
bool TrimPage(std::vector<T>& rows, int page_size) {
  const bool more = static_cast<int>(rows.size()) > page_size;
  if (more) rows.resize(page_size);
  return more;
}

// RequireActingUser is CheckActingUser (server/auth/acting_user.h) on the
// call's metadata: with end-user tokens on (`end_users` set), the
// request's acting user must be the one its x-end-user-token names. The
// first thing every handler of a method that acts for a user does.
[[nodiscard]] absl::Status RequireActingUser(const grpc::ServerContextBase* context,
                                             const google::protobuf::Message& request,
                                             const EndUserAuth* end_users);

// RpcLimits returns the limits for the database work of one call: the
// caller's gRPC deadline, capped at now + `max_statement_time` so a caller
// without a deadline cannot hold a connection forever, and the call's
// cancellation (a cancelled call's statement is cancelled in PostgreSQL).
// `context` must outlive the returned limits (it does: they live for the
// handler's duration).
CallLimits RpcLimits(grpc::ServerContext* context, absl::Duration max_statement_time);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_SERVICE_RPC_UTIL_H_
