// unique_fd.h
//
// UniqueFd: owns one file descriptor and closes it when destroyed or reset,
// as std::unique_ptr owns memory. Move-only; -1 means "none" (poll()
// ignores a negative fd, so an empty UniqueFd can sit in a pollfd array).
//
// Example:
//   UniqueFd client(accept(listen_fd, nullptr, nullptr));
//   if (!client.valid()) return;
//   send(client.get(), ...);   // closed at scope exit
#ifndef CHATGENIUS_SERVER_COMMON_UNIQUE_FD_H_
#define CHATGENIUS_SERVER_COMMON_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace chatgenius {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // release gives up ownership without closing.
  int release() { return std::exchange(fd_, -1); }
  // reset closes the current descriptor (if any) and owns `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_COMMON_UNIQUE_FD_H_
