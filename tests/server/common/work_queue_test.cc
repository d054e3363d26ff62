// WorkQueue: start tasks go before continuations, and long jobs cut into
// self-rescheduling chunks share the threads round-robin.
#include "server/common/work_queue.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace chatgenius {
namespace {

class Log {
 public:
  void Add(const std::string& entry) {
    absl::MutexLock lock(&mu_);
    entries_.push_back(entry);
  }
  std::vector<std::string> entries() {
    absl::MutexLock lock(&mu_);
    return entries_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> entries_;
};

TEST(WorkQueueTest, AStartWaitsForNoQueuedContinuation) {
  Log log;
  absl::Notification release;
  {
    WorkQueue queue(1);
    absl::Notification busy;
    queue.Schedule([&] {  // the thread is busy until `release`
      busy.Notify();
      release.WaitForNotification();
    });
    busy.WaitForNotification();
    for (int i = 0; i < 10; ++i) {
      queue.Schedule([&, i] { log.Add("continue" + std::to_string(i)); });
    }
    queue.Schedule([&] { log.Add("start"); }, WorkQueue::kStart);
    EXPECT_EQ(queue.queued(WorkQueue::kContinue), 10);
    EXPECT_EQ(queue.queued(WorkQueue::kStart), 1);
    release.Notify();
  }  // the destructor runs everything queued
  const std::vector<std::string> entries = log.entries();
  ASSERT_EQ(entries.size(), 11u);
  EXPECT_EQ(entries.front(), "start") << "behind ten queued chunks, the start runs first";
  EXPECT_EQ(entries[1], "continue0") << "continuations keep their order";
  EXPECT_EQ(entries.back(), "continue9");
}

TEST(WorkQueueTest, SelfReschedulingJobsShareTheThreadRoundRobin) {
  Log log;
  absl::Notification release;
  WorkQueue* queue_ptr = nullptr;
  // Each chunk of a job schedules the next one (declared before the queue:
  // the queue's destructor still runs chunks).
  std::function<void(std::string, int)> chunk = [&](std::string job, int left) {
    log.Add(job);
    if (left > 1) queue_ptr->Schedule([&chunk, job, left] { chunk(job, left - 1); });
  };
  {
    WorkQueue queue(1);
    queue_ptr = &queue;
    absl::Notification busy;
    queue.Schedule([&] {
      busy.Notify();
      release.WaitForNotification();
    });
    busy.WaitForNotification();
    queue.Schedule([&] { chunk("a", 5); });
    queue.Schedule([&] { chunk("b", 5); });
    release.Notify();
  }  // drains both lanes, rescheduled chunks included
  EXPECT_EQ(log.entries(),
            (std::vector<std::string>{"a", "b", "a", "b", "a", "b", "a", "b", "a", "b"}))
      << "neither job holds the thread until it is done";
}

}  // namespace
}  // namespace chatgenius
