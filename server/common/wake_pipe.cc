#include "server/common/wake_pipe.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace chatgenius {

WakePipe::WakePipe() {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    status_ = absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
    return;
  }
  read_.reset(fds[0]);
  write_.reset(fds[1]);
}

void WakePipe::Wake() {
  if (!write_.valid()) return;
  const char c = 0;
  (void)!write(write_.get(), &c, 1);
}

void WakePipe::Drain() {
  if (!read_.valid()) return;
  char buffer[64];
  while (read(read_.get(), buffer, sizeof buffer) > 0) {
  }
}

}  // namespace chatgenius
