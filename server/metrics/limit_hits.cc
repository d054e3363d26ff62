#include "server/metrics/limit_hits.h"

#include <array>
#include <atomic>

#include "server/metrics/prometheus_text.h"

namespace chatgenius {

namespace {

constexpr int kLimits = static_cast<int>(Limit::kCount);

std::array<std::atomic<int64_t>, kLimits>& Counters() {
  static auto* counters = new std::array<std::atomic<int64_t>, kLimits>();
  return *counters;
}

}  // namespace

void LimitHits::Count(Limit limit) {
  Counters()[static_cast<int>(limit)].fetch_add(1, std::memory_order_relaxed);
}

int64_t LimitHits::Get(Limit limit) {
  return Counters()[static_cast<int>(limit)].load(std::memory_order_relaxed);
}

absl::string_view LimitHits::SettingName(Limit limit) {
  switch (limit) {
    case Limit::kResponseBytes:
      return "MAX_RESPONSE_BYTES";
    case Limit::kAttachmentsPerMessage:
      return "MAX_ATTACHMENTS_PER_MESSAGE";
    case Limit::kEmojiPerMessage:
      return "MAX_EMOJI_PER_MESSAGE";
    case Limit::kReactionsPerUser:
      return "MAX_REACTIONS_PER_USER_PER_MESSAGE";
    case Limit::kStorageUrlScheme:
      return "STORAGE_URL_SCHEMES";
    case Limit::kStreamQueueEvents:
      return "EVENT_STREAM_QUEUE";
    case Limit::kStreamQueueBytes:
      return "EVENT_STREAM_QUEUE_BYTES";
    case Limit::kStreamWriteTimeout:
      return "EVENT_STREAM_WRITE_TIMEOUT_MS";
    case Limit::kEventStreams:
      return "MAX_EVENT_STREAMS";
    case Limit::kEventStreamsPerCaller:
      return "MAX_EVENT_STREAMS_PER_CALLER";
    case Limit::kLockTimeout:
      return "POSTGRES_LOCK_TIMEOUT_MS";
    case Limit::kIdleInTransaction:
      return "POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_MS";
    case Limit::kCount:
      break;
  }
  return "unknown";
}

void LimitHits::AppendTo(std::string* out) {
  constexpr char kName[] = "chatgenius_limit_hits_total";
  AppendFamilyHeader(out, kName, "counter",
                     "Requests or streams a configured limit refused or cut short, by setting.");
  for (int i = 0; i < kLimits; ++i) {
    const Limit limit = static_cast<Limit>(i);
    AppendSample(out, kName, {{"limit", std::string(SettingName(limit))}},
                 static_cast<double>(Get(limit)));
  }
}

}  // namespace chatgenius
