// work_queue.h
//
// WorkQueue: a fixed set of threads running scheduled tasks, for blocking
// work (database reads) that must not run on gRPC's callback threads, e.g.
// starting event streams and replaying stored events to them.
//
// Two lanes: a free thread takes the oldest kStart task before any
// kContinue task, and within a lane tasks run in order of scheduling. Work
// that is long (a replay of a million events) is cut into short tasks that
// each schedule the next one (kContinue) at the back: so long jobs share
// the threads round-robin, and a new job (kStart) waits for at most one
// short task per thread, however many long jobs are running.
//
// Example:
//   WorkQueue queue(2);
//   queue.Schedule([&] { StartStream(); }, WorkQueue::kStart);
//   queue.Schedule([&] { ReplayOneChunk(); });  // kContinue
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

  enum Lane { kStart, kContinue };

  void Schedule(std::function<void()> task, Lane lane = kContinue);

  // queued returns how many tasks wait in `lane` (for tests and metrics).
  int queued(Lane lane) const;

 private:
  void Run();

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> starts_ ABSL_GUARDED_BY(mu_);
  std::deque<std::function<void()>> continues_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_COMMON_WORK_QUEUE_H_
