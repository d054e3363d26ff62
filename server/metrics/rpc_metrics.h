// rpc_metrics.h
//
// Per-method, per-status-code RPC counters and latency histograms, rendered
// as chatgenius_rpc_requests_total and chatgenius_rpc_duration_seconds.
// Thread-safe; Record is called once per finished call.
#ifndef CHATGENIUS_SERVER_METRICS_RPC_METRICS_H_
#define CHATGENIUS_SERVER_METRICS_RPC_METRICS_H_

#include <array>
#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chatgenius {

class RpcMetrics {
 public:
  // Upper bounds (seconds) of the latency buckets; +Inf is implied.
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    5};

  // Record counts a finished call. `method` is "pkg.Service/Method", `code`
  // a gRPC code name ("OK", "NOT_FOUND"). Streaming calls are counted but
  // kept out of the latency histogram (their duration is the stream's life).
  // Allocates only the first time a (method, code) pair is seen.
  void Record(absl::string_view method, absl::string_view code, absl::Duration latency, bool unary);

  // AppendTo appends both families in Prometheus text format.
  void AppendTo(std::string* out) const;

 private:
  struct Series {
    int64_t count = 0;
    std::array<int64_t, kBuckets.size()> buckets{};  // non-cumulative
    int64_t observed = 0;
    double sum_seconds = 0;
  };
  mutable absl::Mutex mu_;
  // method -> code -> series; std::less<> finds by string_view.
  using ByCode = std::map<std::string, Series, std::less<>>;
  std::map<std::string, ByCode, std::less<>> series_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_METRICS_RPC_METRICS_H_
