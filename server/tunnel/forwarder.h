// forwarder.h
//
// Forwarder: the byte-copying engine of one SSH session. Every client the
// local endpoint accepts gets its own direct-tcpip channel (never shared, so
// PostgreSQL's wire protocol cannot interleave), up to `max_channels`; more
// clients wait in the listen backlog.
//
// Bytes are copied with backpressure: a client is read only while its
// channel's SSH window has room, and a channel is read only once the
// previous chunk reached its client, so each connection buffers at most one
// chunk (64 KiB) per direction.
//
// Threading: the session's thread only (libssh's rule). The caller loops:
//
//   Forwarder forwarder(session, endpoint, target);
//   while (running) {
//     ForwardRound round = forwarder.Round(wake_fd, time_to_next_keepalive);
//     if (!round.status.ok()) return round.status;   // the session is gone
//     if (round.session_input_unclaimed || keepalive_due) session.Keepalive(...);
//   }
//
// Destroying the Forwarder closes every client socket and channel (so the
// pool's connections through it break at once); it must go before the
// session.
#ifndef CHATGENIUS_SERVER_TUNNEL_FORWARDER_H_
#define CHATGENIUS_SERVER_TUNNEL_FORWARDER_H_

#include <poll.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/common/unique_fd.h"
#include "server/tunnel/local_endpoint.h"
#include "server/tunnel/ssh_handles.h"
#include "server/tunnel/ssh_session.h"

namespace chatgenius {

// ForwardTarget: where channels lead (PostgreSQL as seen from the SSH
// server) and how many may be open at once.
struct ForwardTarget {
  std::string host;
  int port = 5432;
  int max_channels = 32;
};

// ForwardRound reports one Round.
struct ForwardRound {
  absl::Status status;  // UNAVAILABLE: the session is lost; stop using it
  // The session's socket had input while no channel could read it (e.g. a
  // disconnect notice): have libssh process it (SshSession::Keepalive).
  bool session_input_unclaimed = false;
  int open_channels = 0;
  int64_t bytes_to_remote = 0;    // in this round
  int64_t bytes_from_remote = 0;  // in this round
};

class Forwarder {
 public:
  // `session` and `endpoint` are not owned and must outlive the Forwarder.
  Forwarder(SshSession& session, LocalEndpoint& endpoint, ForwardTarget target);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Round waits in poll() up to `wait` (less while a channel's window is
  // full, to notice its adjustment), or until `wake_fd` is readable; then
  // accepts a waiting client, copies what every connection can take, and
  // forgets finished connections.
  ForwardRound Round(int wake_fd, absl::Duration wait);

 private:
  struct Connection;

  std::vector<pollfd> PollSet(int wake_fd, bool* window_blocked) const;
  absl::Status AcceptClient();
  void ClientToRemote(Connection& c, ForwardRound& round);
  void FlushToClient(Connection& c);
  void DrainChannels(ForwardRound& round);
  void ForgetFinished();

  SshSession& session_;
  LocalEndpoint& endpoint_;
  const ForwardTarget target_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<char> buffer_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_TUNNEL_FORWARDER_H_
