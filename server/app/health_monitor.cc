#include "server/app/health_monitor.h"

#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace chatgenius {

HealthMonitor::HealthMonitor(Probe probe, Publish publish, absl::Duration interval,
                             int failure_threshold)
    : probe_(std::move(probe)),
      publish_(std::move(publish)),
      interval_(interval),
      failure_threshold_(failure_threshold) {}

HealthMonitor::~HealthMonitor() { Stop(); }

void HealthMonitor::Start() {
  thread_ = std::thread([this] { Run(); });
}

void HealthMonitor::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

bool HealthMonitor::serving() const {
  absl::MutexLock lock(&mu_);
  return serving_;
}

absl::Status HealthMonitor::last_error() const {
  absl::MutexLock lock(&mu_);
  return last_error_;
}

void HealthMonitor::Run() {
  do {
    // A probe may take at most one interval, so a hung database shows up
    // as a failure instead of a stuck monitor.
    absl::Status status = probe_(absl::Now() + interval_);
    bool changed = false;
    bool serving = false;
    {
      absl::MutexLock lock(&mu_);
      if (status.ok()) {
        consecutive_failures_ = 0;
        changed = !serving_ || !published_;
        serving_ = true;
      } else {
        ++consecutive_failures_;
        bool should_fail = consecutive_failures_ >= failure_threshold_ || !serving_;
        changed = (serving_ && should_fail) || !published_;
        if (should_fail) serving_ = false;
      }
      if (!status.ok() &&
          (status.code() != last_error_.code() || status.message() != last_error_.message())) {
        LogWarning(absl::StrCat("readiness probe failed: ", status.ToString()));
      }
      last_error_ = status;
      published_ = true;
      serving = serving_;
    }
    if (changed) {
      LogInfo(absl::StrCat("readiness: ", serving ? "SERVING" : "NOT_SERVING"));
      publish_(serving);
    }
  } while (!stop_.WaitForNotificationWithTimeout(interval_));
}

}  // namespace chatgenius
