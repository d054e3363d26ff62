// RunReconnecting: the hub's and the sequencer's session loop.
#include "server/realtime/reconnect_loop.h"

#include <stdexcept>
#include <vector>

#include "gtest/gtest.h"

namespace chatgenius {
namespace {

TEST(ReconnectLoopTest, AFailedSessionIsReportedWaitedForAndOpenedAgainUntilStopped) {
  int sessions = 0, lost = 0, connects = 0;
  bool stop = false;
  std::vector<absl::Duration> slept;
  RunReconnecting({"test", absl::Milliseconds(250), [&] { return stop; },
                   [&](absl::Duration d) { slept.push_back(d); },
                   [&](const std::function<void()>& connected) {
                     ++sessions;
                     if (sessions <= 2) throw std::runtime_error("connection refused");
                     connected();
                     ++connects;
                     if (sessions == 3) throw std::runtime_error("session broke");
                     stop = true;  // the fourth works until stopped
                   },
                   [&] { ++lost; }});
  EXPECT_EQ(sessions, 4);
  EXPECT_EQ(lost, 3) << "each failure is reported to the component";
  EXPECT_EQ(connects, 2);
  EXPECT_EQ(slept, std::vector<absl::Duration>(3, absl::Milliseconds(250)))
      << "the delay after each failure, none after the clean stop";
}

TEST(ReconnectLoopTest, NothingRunsOnceStopped) {
  int sessions = 0;
  RunReconnecting({"test", absl::Seconds(1), [] { return true; }, [](absl::Duration) {},
                   [&](const std::function<void()>&) { ++sessions; }, nullptr});
  EXPECT_EQ(sessions, 0);
}

}  // namespace
}  // namespace chatgenius
