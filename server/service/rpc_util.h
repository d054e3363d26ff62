// rpc_util.h
//
// The seam between gRPC and the layers below: status conversion and the
// deadline every store call receives. Only the service layer includes gRPC.
#ifndef CHATGENIUS_SERVER_SERVICE_RPC_UTIL_H_
#define CHATGENIUS_SERVER_SERVICE_RPC_UTIL_H_

#include <set>
#include <string>
#include <type_traits>
#include <utility>
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
#include "server/db/lsn.h"

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

// The one shape of a unary handler:
//
//   grpc::Status FooServiceImpl::GetFoo(grpc::ServerContext* context,
//                                       const v1::GetFooRequest* request, v1::Foo* response) {
//     return ActingUnary(context, *request, end_users_, response, [&]() -> absl::StatusOr<v1::Foo>
//     {
//       RETURN_IF_ERROR(ValidateId("id", request->id()));
//       return store_->Get(request->id(), Deadline(context));
//     });
//   }
//
// `body` returns absl::StatusOr<T> (absl::Status when the response is
// google.protobuf.Empty): its value becomes the response, its error the
// call's status, code for code. ActingUnary first checks the request's
// acting user against the call's end-user token (RequireActingUser); Unary
// is for methods whose requests name nobody who acts.
template <typename T, typename Body>
grpc::Status Unary(T* response, Body&& body) {
  if constexpr (std::is_same_v<decltype(body()), absl::Status>) {
    return Respond(body());
  } else {
    return Respond(body(), response);
  }
}

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

// RequireActingUser is CheckActingUser (server/auth/acting_user.h) on the
// call's metadata: with end-user tokens on (`end_users` set), the
// request's acting user must be the one its x-end-user-token names. The
// first thing every handler of a method that acts for a user does.
[[nodiscard]] absl::Status RequireActingUser(const grpc::ServerContextBase* context,
                                             const google::protobuf::Message& request,
                                             const EndUserAuth* end_users);

// ActingUnary: see Unary above.
template <typename T, typename Body>
grpc::Status ActingUnary(const grpc::ServerContextBase* context,
                         const google::protobuf::Message& request, const EndUserAuth* end_users,
                         T* response, Body&& body) {
  if (absl::Status s = RequireActingUser(context, request, end_users); !s.ok()) {
    return ToGrpcStatus(s);
  }
  return Unary(response, std::forward<Body>(body));
}

// The read-your-writes token in call metadata (docs in the README): a
// write's response carries the WAL position its commit reached, and a call
// sending it back is answered only from a host that has replayed it.
inline constexpr char kCommitLsnMetadata[] = "chatgenius-commit-lsn";  // trailing, server -> client
inline constexpr char kMinLsnMetadata[] = "chatgenius-min-lsn";        // client -> server

// RpcLimits returns the limits for the database work of one call: the
// caller's gRPC deadline, capped at now + `max_statement_time` so a caller
// without a deadline cannot hold a connection forever, the call's
// cancellation (a cancelled call's statement is cancelled in PostgreSQL),
// the caller's chatgenius-min-lsn (the largest when sent more than once; a
// value that is not a WAL position reads from the primary), and a
// `committed` that adds chatgenius-commit-lsn to the trailing metadata.
// `context` must outlive the returned limits (it does: they live for the
// handler's duration).
CallLimits RpcLimits(grpc::ServerContext* context, absl::Duration max_statement_time);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_SERVICE_RPC_UTIL_H_
