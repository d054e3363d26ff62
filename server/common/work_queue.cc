#include "server/common/work_queue.h"

namespace chatgenius {

WorkQueue::WorkQueue(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkQueue::~WorkQueue() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void WorkQueue::Schedule(std::function<void()> task, Lane lane) {
  absl::MutexLock lock(&mu_);
  (lane == kStart ? starts_ : continues_).push_back(std::move(task));
}

int WorkQueue::queued(Lane lane) const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>((lane == kStart ? starts_ : continues_).size());
}

void WorkQueue::Run() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WorkQueue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu_) {
            return q->stopping_ || !q->starts_.empty() || !q->continues_.empty();
          },
          this));
      std::deque<std::function<void()>>& lane = !starts_.empty() ? starts_ : continues_;
      if (lane.empty()) return;  // stopping and drained
      task = std::move(lane.front());
      lane.pop_front();
    }
    task();
  }
}

}  // namespace chatgenius
