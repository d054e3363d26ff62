// ssh_session.h
//
// SshSession: one connected, host-key-verified, key-authenticated libssh
// session, and the operations the tunnel needs on it: a keepalive that must
// be answered, and opening a direct-tcpip channel. It owns the handle
// (disconnected and freed by the destructor). Not thread-safe: libssh's rule
// is one thread per session, and the tunnel thread is that thread.
//
// Example:
//   ASSIGN_OR_RETURN(std::unique_ptr<SshSession> s, SshSession::Connect(settings));
//   ASSIGN_OR_RETURN(ChannelPtr channel, s->OpenForward("localhost", 5432));
#ifndef CHATGENIUS_SERVER_TUNNEL_SSH_SESSION_H_
#define CHATGENIUS_SERVER_TUNNEL_SSH_SESSION_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/tunnel/ssh_handles.h"
#include "server/tunnel/tunnel_settings.h"

namespace chatgenius {

// SshReplyTimeout is how long the server may take to answer (a keepalive,
// the handshake, a channel open): half the health-check interval, at least
// 200 ms, so a hung server is found within two intervals.
absl::Duration SshReplyTimeout(absl::Duration health_check_interval);

// IsPermanentConnectError: Connect failed in a way retrying cannot fix (host
// key unknown or changed, private key unreadable, key refused).
bool IsPermanentConnectError(const absl::Status& status);

class SshSession {
 public:
  // Connect reads the private key (before any connection: a missing or
  // unreadable key is reported even when the bastion is unreachable),
  // connects to settings.ssh_host:ssh_port (only these settings count:
  // ~/.ssh/config is not read), verifies the host key (VerifyHostKey) and
  // authenticates with the key. Errors: FAILED_PRECONDITION
  // (host key, key file) and PERMISSION_DENIED (key refused) are permanent;
  // UNAVAILABLE (cannot connect, authentication did not finish) is not.
  static absl::StatusOr<std::unique_ptr<SshSession>> Connect(const TunnelSettings& settings);

  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;

  // The socket to poll(); readable when the server sent something.
  int fd() const;
  bool connected() const;

  // Keepalive sends a global request that wants a reply and blocks until
  // it comes (libssh processes whatever else arrived meanwhile). UNAVAILABLE
  // if the session is closed or the reply took about `reply_timeout`.
  absl::Status Keepalive(absl::Duration reply_timeout);

  // OpenForward opens a direct-tcpip channel to host:port as seen from the
  // SSH server. UNAVAILABLE with libssh's reason if it is refused.
  absl::StatusOr<ChannelPtr> OpenForward(const std::string& host, int port);

 private:
  explicit SshSession(SessionPtr ssh) : ssh_(std::move(ssh)) {}

  SessionPtr ssh_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_TUNNEL_SSH_SESSION_H_
