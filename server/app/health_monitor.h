// health_monitor.h
//
// HealthMonitor: a background thread that probes the database every
// interval and publishes readiness. It becomes ready on the first
// successful probe and unready only after `failure_threshold` consecutive
// failures, so one slow probe does not flip a load balancer.
//
// Example:
//   HealthMonitor monitor(probe, [&](bool serving) { ... }, absl::Seconds(1), 2);
//   monitor.Start();
#ifndef CHATGENIUS_SERVER_APP_HEALTH_MONITOR_H_
#define CHATGENIUS_SERVER_APP_HEALTH_MONITOR_H_

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace chatgenius {

class HealthMonitor {
 public:
  // Probe returns OK when the service can do its work; it must finish by
  // the deadline it is given.
  using Probe = std::function<absl::Status(absl::Time deadline)>;
  // Publish is called with the new readiness whenever it changes (and once
  // after the first probe).
  using Publish = std::function<void(bool serving)>;

  HealthMonitor(Probe probe, Publish publish, absl::Duration interval, int failure_threshold);
  // Stops the thread if still running.
  ~HealthMonitor();

  // Start runs the first probe at once, then every interval.
  void Start();
  // Stop ends the thread; no Publish call happens after it returns.
  void Stop();

  bool serving() const;
  // last_error is the latest failed probe's status (OK if the last passed).
  absl::Status last_error() const;

 private:
  void Run();

  const Probe probe_;
  const Publish publish_;
  const absl::Duration interval_;
  const int failure_threshold_;

  mutable absl::Mutex mu_;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
  bool published_ ABSL_GUARDED_BY(mu_) = false;
  int consecutive_failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);

  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_APP_HEALTH_MONITOR_H_
