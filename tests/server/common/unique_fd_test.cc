#include "server/common/unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "gtest/gtest.h"

namespace chatgenius {
namespace {

// IsOpen asks the kernel whether `fd` is still a descriptor of this process.
bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

int NewFd() {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  close(fds[1]);
  return fds[0];
}

TEST(UniqueFdTest, ClosesWhenDestroyed) {
  int raw = NewFd();
  {
    UniqueFd fd(raw);
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(fd.get(), raw);
  }
  EXPECT_FALSE(IsOpen(raw)) << "the destructor must close the descriptor";
}

TEST(UniqueFdTest, MoveTransfersOwnershipOnce) {
  int raw = NewFd();
  UniqueFd a(raw);
  UniqueFd b(std::move(a));
  EXPECT_FALSE(a.valid()) << "a moved-from UniqueFd owns nothing";
  EXPECT_EQ(b.get(), raw);
  UniqueFd c;
  c = std::move(b);
  EXPECT_EQ(c.get(), raw);
  EXPECT_TRUE(IsOpen(raw)) << "moving must not close";
  c.reset();
  EXPECT_FALSE(IsOpen(raw)) << "reset() must close";
}

TEST(UniqueFdTest, ResetClosesThePreviousAndReleaseKeepsItOpen) {
  int first = NewFd();
  int second = NewFd();
  UniqueFd fd(first);
  fd.reset(second);
  EXPECT_FALSE(IsOpen(first)) << "reset(new) closes the old descriptor";
  EXPECT_EQ(fd.release(), second);
  EXPECT_FALSE(fd.valid());
  EXPECT_TRUE(IsOpen(second)) << "release() hands the descriptor back unclosed";
  close(second);
}

}  // namespace
}  // namespace chatgenius
