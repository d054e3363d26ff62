// rpc_observer.h
//
// A gRPC server interceptor that sees every call (sync and callback
// services, health and reflection included) and, once the call has its
// status:
// - records it in RpcMetrics (count by method and code; latency of unary
//   calls),
// - writes one access-log record (debug for OK and caller errors, warn for
//   UNAVAILABLE / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED / ABORTED, error for
//   INTERNAL / UNKNOWN / DATA_LOSS / UNIMPLEMENTED) with request_id, method,
//   code, ms, the authenticated caller's name and the error message.
// The code is the one the client saw: a call the client cancelled (or whose
// deadline passed) is CANCELLED (DEADLINE_EXCEEDED) whatever the handler
// then returned — a client hanging up is not a server error. (One cheap
// exception: a unary call answered OK is counted OK unless its deadline
// passed; a client that cancelled in the instant before is not asked.)
// The request id is the caller's `x-request-id` metadata when it is a sane
// token (1..64 of [A-Za-z0-9._:-]), a new ULID otherwise; it is returned in
// the `x-request-id` response header so callers can quote it.
// Calls refused by the auth processor never reach interceptors; they are
// counted by TokenAuthProcessor.
#ifndef CHATGENIUS_SERVER_APP_RPC_OBSERVER_H_
#define CHATGENIUS_SERVER_APP_RPC_OBSERVER_H_

#include <grpcpp/support/server_interceptor.h>

#include "absl/strings/string_view.h"
#include "server/metrics/rpc_metrics.h"

namespace chatgenius {

inline constexpr char kRequestIdHeader[] = "x-request-id";

// IsUsableRequestId reports whether a caller-supplied id is kept.
bool IsUsableRequestId(absl::string_view id);

class RpcObserverFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `metrics` must outlive the server.
  explicit RpcObserverFactory(RpcMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  RpcMetrics* const metrics_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_APP_RPC_OBSERVER_H_
