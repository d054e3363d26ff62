// WakePipe: Wake makes the fd readable until Drain, from another thread,
// and never blocks, however often it is called.
#include "server/common/wake_pipe.h"

#include <poll.h>

#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace chatgenius {
namespace {

bool Readable(const WakePipe& w, int timeout_ms) {
  pollfd fd{w.fd(), POLLIN, 0};
  return poll(&fd, 1, timeout_ms) == 1 && (fd.revents & POLLIN);
}

TEST(WakePipeTest, WakeMakesItReadableUntilDrained) {
  WakePipe w;
  ASSERT_TRUE(w.status().ok()) << w.status();
  EXPECT_FALSE(Readable(w, 0)) << "nothing written yet";
  w.Wake();
  EXPECT_TRUE(Readable(w, 0));
  EXPECT_TRUE(Readable(w, 0)) << "stays readable: a waiter that polls again still wakes";
  w.Drain();
  EXPECT_FALSE(Readable(w, 0));
}

TEST(WakePipeTest, AnotherThreadEndsAWait) {
  WakePipe w;
  std::thread waker([&] {
    absl::SleepFor(absl::Milliseconds(50));
    w.Wake();
  });
  const absl::Time start = absl::Now();
  EXPECT_TRUE(Readable(w, 10000));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "woken, not timed out";
  waker.join();
}

TEST(WakePipeTest, WakeNeverBlocksOnAFullPipe) {
  WakePipe w;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 200000; ++i) w.Wake();  // far beyond a pipe's 64 KiB
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_TRUE(Readable(w, 0));
  w.Drain();
  EXPECT_FALSE(Readable(w, 0)) << "Drain empties even a full pipe";
}

}  // namespace
}  // namespace chatgenius
