#include "server/tunnel/local_endpoint.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace chatgenius {
namespace {

constexpr int kBacklog = 64;

std::string DefaultParentDir() {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  return runtime != nullptr && *runtime != '\0' ? runtime : "/tmp";
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalEndpoint>> LocalEndpoint::Open(const TunnelSettings& settings) {
  std::unique_ptr<LocalEndpoint> endpoint(new LocalEndpoint());
  absl::Status opened =
      settings.local_tcp
          ? endpoint->OpenTcp(settings.local_port)
          : endpoint->OpenUnix(settings.socket_parent_dir.empty() ? DefaultParentDir()
                                                                  : settings.socket_parent_dir,
                               settings.local_port);
  if (!opened.ok()) return opened;  // the destructor removes what was made
  if (listen(endpoint->fd(), kBacklog) != 0) {
    return absl::UnavailableError(absl::StrCat("listen failed: ", std::strerror(errno)));
  }
  return endpoint;
}

absl::Status LocalEndpoint::OpenTcp(int port) {
  listen_fd_.reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int one = 1;
  setsockopt(fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return absl::UnavailableError(absl::StrCat("POSTGRES_PORT: cannot listen on 127.0.0.1:", port,
                                               ": ", std::strerror(errno)));
  }
  socklen_t len = sizeof addr;
  getsockname(fd(), reinterpret_cast<sockaddr*>(&addr), &len);
  host_ = "127.0.0.1";
  port_ = ntohs(addr.sin_port);
  description_ = absl::StrCat(host_, ":", port_);
  return absl::OkStatus();
}

absl::Status LocalEndpoint::OpenUnix(const std::string& parent_dir, int port) {
  std::string templ = parent_dir + "/chatgenius-tunnel-XXXXXX";
  // mkdtemp creates the directory 0700: only this user reaches the socket.
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot create the tunnel socket directory in ",
                                               parent_dir, ": ", std::strerror(errno)));
  }
  socket_dir_ = templ;
  const std::string path = absl::StrCat(socket_dir_, "/.s.PGSQL.", port);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return absl::InvalidArgumentError(absl::StrCat("tunnel socket path too long: ", path));
  }
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  listen_fd_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (bind(fd(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot bind ", path, ": ", std::strerror(errno)));
  }
  socket_path_ = path;
  chmod(socket_path_.c_str(), 0600);
  host_ = socket_dir_;
  port_ = port;
  description_ = socket_path_;
  return absl::OkStatus();
}

LocalEndpoint::~LocalEndpoint() {
  listen_fd_.reset();
  if (!socket_path_.empty()) unlink(socket_path_.c_str());
  if (!socket_dir_.empty()) rmdir(socket_dir_.c_str());
}

UniqueFd LocalEndpoint::Accept() {
  return UniqueFd(accept4(fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
}

void LocalEndpoint::RejectPending() {
  while (Accept().valid()) {
  }
}

}  // namespace chatgenius
