// work_queue.h
//
// WorkQueue: a fixed set of threads running scheduled tasks in order of
// scheduling. For blocking work (database reads) that must not run on
// gRPC's callback threads, e.g. replaying stored events to a new stream.
//
// Example:
//   WorkQueue queue(2);
//   queue.Schedule([&] { ReplayFromDatabase(); });
#ifndef CHATGENIUS_SERVER_COMMON_WORK_QUEUE_H_
#define CHATGENIUS_SERVER_COMMON_WORK_QUEUE_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace chatgenius {

class WorkQueue {
 public:
  explicit WorkQueue(int threads);
  // Runs the tasks already scheduled, then joins the threads.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Schedule(std::function<void()> task);

 private:
  void Run();

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_COMMON_WORK_QUEUE_H_
