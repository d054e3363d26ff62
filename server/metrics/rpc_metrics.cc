#include "server/metrics/rpc_metrics.h"

#include "absl/strings/str_cat.h"
#include "server/metrics/prometheus_text.h"

namespace chatgenius {

void RpcMetrics::Record(const std::string& method, const std::string& code, absl::Duration latency,
                        bool unary) {
  const double seconds = absl::ToDoubleSeconds(latency);
  absl::MutexLock lock(&mu_);
  Series& s = series_[{method, code}];
  ++s.count;
  if (!unary) return;
  ++s.observed;
  s.sum_seconds += seconds;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++s.buckets[i];
      break;
    }
  }
}

void RpcMetrics::AppendTo(std::string* out) const {
  absl::MutexLock lock(&mu_);
  AppendFamilyHeader(out, "chatgenius_rpc_requests_total", "counter",
                     "Finished RPCs by method and status code.");
  for (const auto& [key, s] : series_) {
    AppendSample(out, "chatgenius_rpc_requests_total",
                 {{"method", key.first}, {"code", key.second}}, static_cast<double>(s.count));
  }
  AppendFamilyHeader(out, "chatgenius_rpc_duration_seconds", "histogram",
                     "Latency of unary RPCs by method and status code.");
  for (const auto& [key, s] : series_) {
    if (s.observed == 0) continue;
    int64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += s.buckets[i];
      AppendSample(out, "chatgenius_rpc_duration_seconds_bucket",
                   {{"method", key.first}, {"code", key.second}, {"le", absl::StrCat(kBuckets[i])}},
                   static_cast<double>(cumulative));
    }
    AppendSample(out, "chatgenius_rpc_duration_seconds_bucket",
                 {{"method", key.first}, {"code", key.second}, {"le", "+Inf"}},
                 static_cast<double>(s.observed));
    AppendSample(out, "chatgenius_rpc_duration_seconds_sum",
                 {{"method", key.first}, {"code", key.second}}, s.sum_seconds);
    AppendSample(out, "chatgenius_rpc_duration_seconds_count",
                 {{"method", key.first}, {"code", key.second}}, static_cast<double>(s.observed));
  }
}

}  // namespace chatgenius
