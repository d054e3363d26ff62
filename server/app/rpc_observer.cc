#include "server/app/rpc_observer.h"

#include <array>
#include <chrono>
#include <string>

#include <grpcpp/security/auth_context.h>
#include <grpcpp/server_context.h>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "server/auth/token_auth_processor.h"
#include "server/common/log.h"
#include "server/common/ulid.h"

namespace chatgenius {
namespace {

using grpc::experimental::InterceptionHookPoints;

// gRPC and absl share the canonical codes and their names.
// Built once: the name is needed on every call.
absl::string_view CodeName(grpc::StatusCode code) {
  constexpr int kCodes = grpc::StatusCode::UNAUTHENTICATED + 1;
  static const auto* names = [] {
    auto* v = new std::array<std::string, kCodes>();
    for (int i = 0; i < kCodes; ++i) (*v)[i] = absl::StatusCodeToString(absl::StatusCode(i));
    return v;
  }();
  const int i = static_cast<int>(code);
  return i >= 0 && i < kCodes ? absl::string_view((*names)[i]) : "UNKNOWN";
}

LogLevel AccessLogLevel(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DATA_LOSS:
    case grpc::StatusCode::UNIMPLEMENTED:
      return LogLevel::kError;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
      return LogLevel::kWarning;
    default:
      return LogLevel::kDebug;
  }
}

// SeenByClient: a call the client cancelled, or whose deadline passed,
// ended CANCELLED or DEADLINE_EXCEEDED for the client, whatever status the
// handler then produced (the health service's Watch says UNKNOWN
// "OnCancel()"; a request cut short by the deadline can read as INTERNAL).
// Counted and logged as the server's own error, a client hanging up would
// look like one. Asking a sync call whether it was cancelled polls its
// completion queue (~10 us), so a unary call answered OK is only checked
// against its deadline: one its client cancelled in the last instant is
// counted OK (its work was done).
grpc::Status SeenByClient(const grpc::Status& sent, grpc::ServerContextBase* context, bool unary) {
  if (context == nullptr) return sent;
  if (sent.ok() && unary) {
    if (context->deadline() > std::chrono::system_clock::now()) return sent;
  } else if (!context->IsCancelled()) {
    return sent;
  }
  const std::string handler =
      sent.ok() ? "" : absl::StrCat(" (the handler ended ", CodeName(sent.error_code()), ")");
  if (context->deadline() <= std::chrono::system_clock::now()) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        absl::StrCat("the client's deadline passed", handler));
  }
  return grpc::Status(grpc::StatusCode::CANCELLED,
                      absl::StrCat("cancelled by the client", handler));
}

class RpcObserver final : public grpc::experimental::Interceptor {
 public:
  RpcObserver(grpc::experimental::ServerRpcInfo* info, RpcMetrics* metrics)
      : info_(info),
        metrics_(metrics),
        start_(absl::Now()),
        method_(info->method() != nullptr && info->method()[0] == '/' ? info->method() + 1
                                                                      : "unknown") {}

  ~RpcObserver() override {
    // A call that ended without sending a status (the client went away).
    if (!recorded_) Finish(grpc::Status(grpc::StatusCode::CANCELLED, "call ended by the client"));
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      auto* md = methods->GetRecvInitialMetadata();
      if (auto it = md->find(kRequestIdHeader); it != md->end()) {
        const absl::string_view id(it->second.data(), it->second.size());
        if (IsUsableRequestId(id)) request_id_ = std::string(id);
      }
      if (request_id_.empty()) request_id_ = NewUlid();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      if (request_id_.empty()) request_id_ = NewUlid();
      methods->GetSendInitialMetadata()->emplace(kRequestIdHeader, request_id_);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Finish(SeenByClient(methods->GetSendStatus(), info_->server_context(), unary()));
    }
    methods->Proceed();
  }

 private:
  void Finish(const grpc::Status& status) {
    recorded_ = true;
    const absl::Duration latency = absl::Now() - start_;
    const absl::string_view code = CodeName(status.error_code());
    metrics_->Record(method_, code, latency, unary());
    const LogLevel level = AccessLogLevel(status.error_code());
    if (!LogEnabled(level)) return;
    grpc::ServerContextBase* context = info_->server_context();
    const std::string caller = context == nullptr ? "" : CallerName(*context);
    Log(level, "rpc",
        {{"request_id", request_id_.empty() ? std::string("-") : request_id_},
         {"method", method_},
         {"code", std::string(code)},
         {"ms", absl::StrCat(absl::ToDoubleMilliseconds(latency))},
         {"caller", caller.empty() ? std::string("-") : caller},
         {"error", status.error_message()}});
  }

  bool unary() const { return info_->type() == grpc::experimental::ServerRpcInfo::Type::UNARY; }

  grpc::experimental::ServerRpcInfo* const info_;
  RpcMetrics* const metrics_;
  const absl::Time start_;
  const std::string method_;
  std::string request_id_;
  bool recorded_ = false;
};

}  // namespace

bool IsUsableRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (const char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != ':') {
      return false;
    }
  }
  return true;
}

grpc::experimental::Interceptor* RpcObserverFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RpcObserver(info, metrics_);
}

}  // namespace chatgenius
