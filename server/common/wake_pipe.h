// wake_pipe.h
//
// WakePipe: the self-pipe a thread blocked in poll() is woken with. Wake
// (any thread, never blocks: a full pipe already means "wake") makes fd()
// readable until Drain. Both ends are non-blocking and close-on-exec, and
// closed by the destructor.
//
// Example:
//   pollfd fds[2] = {{socket, POLLIN, 0}, {wake.fd(), POLLIN, 0}};
//   poll(fds, 2, timeout_ms);
//   if (fds[1].revents & POLLIN) wake.Drain();
#ifndef CHATGENIUS_SERVER_COMMON_WAKE_PIPE_H_
#define CHATGENIUS_SERVER_COMMON_WAKE_PIPE_H_

#include "absl/status/status.h"
#include "server/common/unique_fd.h"

namespace chatgenius {

class WakePipe {
 public:
  WakePipe();
  WakePipe(const WakePipe&) = delete;
  WakePipe& operator=(const WakePipe&) = delete;

  // status is OK unless the pipe could not be made (then fd() is -1, which
  // poll() ignores, and Wake does nothing: waiters see only their timeout).
  const absl::Status& status() const { return status_; }
  // The end to poll for POLLIN.
  int fd() const { return read_.get(); }
  void Wake();
  // Drain reads everything written so far, so fd() stops being readable.
  void Drain();

 private:
  UniqueFd read_;
  UniqueFd write_;
  absl::Status status_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_COMMON_WAKE_PIPE_H_
