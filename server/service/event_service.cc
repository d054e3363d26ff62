#include "server/service/event_service.h"

#include "absl/strings/str_cat.h"
#include "server/auth/token_auth_processor.h"
#include "server/metrics/limit_hits.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

// CallerOf names who opened a stream, for MAX_EVENT_STREAMS_PER_CALLER:
// the bearer token's caller (per connection, as gRPC keeps it), or without
// caller auth the peer's address without its port.
std::string CallerOf(const grpc::CallbackServerContext& context) {
  if (std::string name = CallerName(context); !name.empty()) return "caller:" + name;
  const std::string peer = context.peer();
  return "peer:" + peer.substr(0, peer.rfind(':'));
}

}  // namespace

EventServiceImpl::EventServiceImpl(EventHub* hub, EventStore* store, WorkQueue* work,
                                   WorkQueue* fanout, EventStreamLimits limits,
                                   const EndUserAuth* end_users)
    : hub_(hub),
      store_(store),
      work_(work),
      fanout_(fanout),
      limits_(limits),
      end_users_(end_users) {}

absl::Status EventServiceImpl::Admit(const std::string& caller) {
  absl::MutexLock lock(&mu_);
  if (streams_ >= limits_.max_streams) {
    LimitHits::Count(Limit::kEventStreams);
    return absl::ResourceExhaustedError(absl::StrCat(
        "this server holds ", streams_, " streams (MAX_EVENT_STREAMS); retry on another replica"));
  }
  int& mine = per_caller_[caller];
  if (mine >= limits_.max_streams_per_caller) {
    LimitHits::Count(Limit::kEventStreamsPerCaller);
    return absl::ResourceExhaustedError(
        absl::StrCat("this caller holds ", mine, " streams (MAX_EVENT_STREAMS_PER_CALLER)"));
  }
  ++mine;
  ++streams_;
  return absl::OkStatus();
}

void EventServiceImpl::Release(const std::string& caller) {
  absl::MutexLock lock(&mu_);
  --streams_;
  if (--per_caller_[caller] <= 0) per_caller_.erase(caller);
}

grpc::ServerWriteReactor<v1::Event>* EventServiceImpl::Subscribe(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) {
  const std::string caller = CallerOf(*context);
  absl::Status admitted = Admit(caller);
  std::function<void()> release;
  if (admitted.ok()) release = [this, caller] { Release(caller); };
  return NewEventStream(context, hub_, store_, work_, fanout_, limits_, &stats_, *request,
                        end_users_, admitted, std::move(release));
}

}  // namespace chatgenius
