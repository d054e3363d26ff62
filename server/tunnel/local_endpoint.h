// local_endpoint.h
//
// LocalEndpoint: the listening socket the pool reaches the tunnel through,
// usable only by this process's user. By default a Unix socket
// `.s.PGSQL.<port>` (mode 0600) in a fresh mkdtemp directory (mode 0700)
// under settings.socket_parent_dir, else $XDG_RUNTIME_DIR, else /tmp — libpq
// takes the directory as host; with settings.local_tcp, 127.0.0.1:local_port
// (0 = any free port). Non-blocking and close-on-exec. The destructor closes
// it and removes the socket file and its directory.
//
// Example:
//   ASSIGN_OR_RETURN(std::unique_ptr<LocalEndpoint> endpoint, LocalEndpoint::Open(settings));
//   conninfo = absl::StrCat("host=", endpoint->host(), " port=", endpoint->port());
#ifndef CHATGENIUS_SERVER_TUNNEL_LOCAL_ENDPOINT_H_
#define CHATGENIUS_SERVER_TUNNEL_LOCAL_ENDPOINT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/common/unique_fd.h"
#include "server/tunnel/tunnel_settings.h"

namespace chatgenius {

class LocalEndpoint {
 public:
  // Open creates and listens. UNAVAILABLE naming the path or port if the
  // directory, bind or listen fails; INVALID_ARGUMENT if the socket path is
  // too long for sockaddr_un. Nothing is left behind on failure.
  static absl::StatusOr<std::unique_ptr<LocalEndpoint>> Open(const TunnelSettings& settings);
  ~LocalEndpoint();
  LocalEndpoint(const LocalEndpoint&) = delete;
  LocalEndpoint& operator=(const LocalEndpoint&) = delete;

  // The listening socket, for poll() (POLLIN: a client is waiting).
  int fd() const { return listen_fd_.get(); }
  // host is what libpq takes as host (the socket directory or 127.0.0.1),
  // port the port (the socket file's name for Unix).
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // description: the socket path, or 127.0.0.1:port.
  const std::string& description() const { return description_; }

  // Accept returns a waiting client, non-blocking, or an invalid fd if none.
  UniqueFd Accept();
  // RejectPending closes every waiting client at once (libpq reports a
  // closed connection immediately instead of waiting for a timeout).
  void RejectPending();

 private:
  LocalEndpoint() = default;
  absl::Status OpenTcp(int port);
  absl::Status OpenUnix(const std::string& parent_dir, int port);

  UniqueFd listen_fd_;
  std::string host_;
  int port_ = 0;
  std::string description_;
  std::string socket_dir_;   // Unix only: removed by the destructor
  std::string socket_path_;  // Unix only: unlinked by the destructor
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_TUNNEL_LOCAL_ENDPOINT_H_
