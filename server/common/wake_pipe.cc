#include "server/common/wake_pipe.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace chatgenius {

WakePipe::WakePipe() {
  if (pipe2(fds_, O_NONBLOCK | O_CLOEXEC) != 0) {
    status_ = absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
    fds_[0] = fds_[1] = -1;
  }
}

WakePipe::~WakePipe() {
  for (int fd : fds_) {
    if (fd >= 0) close(fd);
  }
}

void WakePipe::Wake() {
  if (fds_[1] < 0) return;
  const char c = 0;
  (void)!write(fds_[1], &c, 1);
}

void WakePipe::Drain() {
  if (fds_[0] < 0) return;
  char buffer[64];
  while (read(fds_[0], buffer, sizeof buffer) > 0) {
  }
}

}  // namespace chatgenius
