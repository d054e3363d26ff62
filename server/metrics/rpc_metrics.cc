#include "server/metrics/rpc_metrics.h"

#include "absl/strings/str_cat.h"
#include "server/metrics/prometheus_text.h"

namespace chatgenius {

void RpcMetrics::Record(absl::string_view method, absl::string_view code, absl::Duration latency,
                        bool unary) {
  const double seconds = absl::ToDoubleSeconds(latency);
  absl::MutexLock lock(&mu_);
  auto by_method = series_.find(method);
  if (by_method == series_.end()) by_method = series_.emplace(method, ByCode()).first;
  auto by_code = by_method->second.find(code);
  if (by_code == by_method->second.end()) by_code = by_method->second.emplace(code, Series()).first;
  Series& s = by_code->second;
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
  for (const auto& [method, by_code] : series_) {
    for (const auto& [code, s] : by_code) {
      AppendSample(out, "chatgenius_rpc_requests_total", {{"method", method}, {"code", code}},
                   static_cast<double>(s.count));
    }
  }
  AppendFamilyHeader(out, "chatgenius_rpc_duration_seconds", "histogram",
                     "Latency of unary RPCs by method and status code.");
  for (const auto& [method, by_code] : series_) {
    for (const auto& [code, s] : by_code) {
      if (s.observed == 0) continue;
      int64_t cumulative = 0;
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        cumulative += s.buckets[i];
        AppendSample(out, "chatgenius_rpc_duration_seconds_bucket",
                     {{"method", method}, {"code", code}, {"le", absl::StrCat(kBuckets[i])}},
                     static_cast<double>(cumulative));
      }
      AppendSample(out, "chatgenius_rpc_duration_seconds_bucket",
                   {{"method", method}, {"code", code}, {"le", "+Inf"}},
                   static_cast<double>(s.observed));
      AppendSample(out, "chatgenius_rpc_duration_seconds_sum", {{"method", method}, {"code", code}},
                   s.sum_seconds);
      AppendSample(out, "chatgenius_rpc_duration_seconds_count",
                   {{"method", method}, {"code", code}}, static_cast<double>(s.observed));
    }
  }
}

}  // namespace chatgenius
