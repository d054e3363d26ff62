// ssh_tunnel.h
//
// SshTunnel: the service's own SSH tunnel (libssh) to a PostgreSQL that is
// reachable only from a bastion. It fixes the three defects of the old
// TypeScript tunnel:
// - every accepted local connection gets its own direct-tcpip channel (never
//   shared), so PostgreSQL's wire protocol cannot interleave;
// - a lost session is really re-established, with exponential backoff and
//   jitter (ReconnectDelay: doubling from SSH_RETRY_DELAY up to the cap);
//   after SSH_MAX_RETRIES failures the tunnel reports MAX_RETRIES_EXCEEDED
//   but keeps the same schedule, so it recovers without a restart; while
//   the bastion's port refuses TCP (it is down, not failing SSH), the port is
//   probed every 500 ms and the tunnel retries as soon as it accepts, so an
//   outage of any length costs well under a second after the bastion is back;
// - health is probed: a keepalive global request (want-reply) every interval
//   must be answered within half an interval, so a peer that stopped without
//   closing is detected within two intervals.
//
// The pool reaches the tunnel through a local endpoint only this process
// can use: by default a Unix socket `.s.PGSQL.<port>` in a fresh 0700
// directory (libpq takes the directory as host), or optionally a loopback
// TCP port. Host keys are checked strictly against known_hosts: unknown or
// changed keys are refused with the host, key type, SHA-256 fingerprint and
// file in the message, unless accept_new_host_key (like OpenSSH's
// StrictHostKeyChecking=accept-new) allows recording a first-seen key.
//
// Threading: one thread owns the libssh session and every channel (libssh's
// rule: a session is used from one thread). It multiplexes the listening
// socket, the client sockets and the session with poll().
//
// This file is the reconnect state machine; its parts have their own:
// SshSession (connect, host key via VerifyHostKey, auth, keepalive),
// LocalEndpoint (the listening socket), Forwarder (copying bytes, with
// backpressure), TunnelSettings (configuration).
//
// Example:
//   SshTunnel tunnel(settings);
//   RETURN_IF_ERROR(tunnel.Start());          // first connect is synchronous
//   std::string host = tunnel.local_host();   // socket dir or 127.0.0.1
//   int port = tunnel.local_port();
#ifndef CHATGENIUS_SERVER_TUNNEL_SSH_TUNNEL_H_
#define CHATGENIUS_SERVER_TUNNEL_SSH_TUNNEL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/common/wake_pipe.h"
#include "server/tunnel/tunnel_settings.h"

namespace chatgenius {

class LocalEndpoint;
class SshSession;

// TunnelState is where the tunnel is in its life.
enum class TunnelState {
  kConnecting,
  kUp,
  kBackoff,
  kMaxRetriesExceeded,  // a report: still retrying on the same backoff schedule
  kStopped,
};

// ReconnectDelay is the wait before attempt `failures` + 1: `base`
// doubled per consecutive failure after the first, capped at `cap`, times
// `jitter` (in [0.5, 1), to spread many replicas' reconnects).
absl::Duration ReconnectDelay(int failures, absl::Duration base, absl::Duration cap, double jitter);

// TunnelStateName returns "connecting", "up", "backoff",
// "max_retries_exceeded" or "stopped".
const char* TunnelStateName(TunnelState state);

// TunnelStatus is a snapshot for operators (AdminService.GetTunnelStatus).
struct TunnelStatus {
  TunnelState state = TunnelState::kConnecting;
  std::string ssh_target;     // user@host:port
  std::string remote_target;  // host:port seen from the SSH host
  std::string local_endpoint;
  int open_channels = 0;
  int64_t connect_attempts_total = 0;
  int64_t reconnects_total = 0;  // successful connects after the first
  int consecutive_failures = 0;
  std::string last_error;
  absl::Time state_since;
  absl::Time last_keepalive;  // last answered keepalive (InfinitePast if none)
  int64_t bytes_to_remote = 0;
  int64_t bytes_from_remote = 0;
};

// AppendTunnelMetrics renders `t` (chatgenius_tunnel_*).
void AppendTunnelMetrics(const TunnelStatus& t, std::string* out);

// TunnelListener hears every state change (the seed's events, including
// maxRetriesExceeded). Called on the tunnel thread: keep it short, and do
// not call back into the tunnel except status().
class TunnelListener {
 public:
  virtual ~TunnelListener() = default;
  virtual void OnTunnelStateChange(const TunnelStatus& status) = 0;
};

class SshTunnel {
 public:
  explicit SshTunnel(TunnelSettings settings);
  // Stops the tunnel if running.
  ~SshTunnel();
  SshTunnel(const SshTunnel&) = delete;
  SshTunnel& operator=(const SshTunnel&) = delete;

  // AddListener registers `listener` (not owned; must outlive the tunnel).
  // Call before Start.
  void AddListener(TunnelListener* listener);

  // Start opens the local endpoint, makes the first connection attempt
  // synchronously, and starts the tunnel thread. Returns the first attempt's
  // error when it is one retrying cannot fix (unknown or changed host key,
  // key file unreadable, authentication refused); other failures leave the
  // tunnel retrying in the background and return OK. INVALID_ARGUMENT /
  // UNAVAILABLE if the local endpoint cannot be created.
  [[nodiscard]] absl::Status Start();

  // Stop closes every channel, disconnects, removes the socket and its
  // directory, and ends the thread. Idempotent.
  void Stop();

  // local_host is what libpq takes as host: the socket directory, or
  // "127.0.0.1". local_port is the port (the socket's name for Unix).
  std::string local_host() const;
  int local_port() const;

  bool IsUp() const;
  TunnelStatus status() const;

  // WaitForState blocks until the state is `state` or `timeout` passes;
  // returns whether it was reached. For tests and start-up.
  bool WaitForState(TunnelState state, absl::Duration timeout) const;

 private:
  // Connect counts an attempt and connects (SshSession::Connect).
  absl::StatusOr<std::unique_ptr<SshSession>> Connect();
  void Run(std::unique_ptr<SshSession> first);
  // Serves `session` until it dies or Stop; returns why it ended.
  absl::Status Serve(SshSession& session);
  void SetState(TunnelState state, const std::string& error);
  absl::Duration BackoffDelay(int failures);
  // Sleeps up to `d`, closing connections that arrive meanwhile; returns
  // false if Stop was requested. With `until_bastion_answers`, it also
  // probes the SSH port every kBastionProbeInterval and returns early once
  // it accepts TCP (the bastion is back).
  bool WaitOrStop(absl::Duration d, bool until_bastion_answers = false);
  bool stopping() const;

  const TunnelSettings settings_;
  std::vector<TunnelListener*> listeners_;

  std::unique_ptr<LocalEndpoint> endpoint_;  // from Start until Stop
  std::string local_host_;                   // endpoint_'s, kept after Stop
  int local_port_ = 0;
  WakePipe wake_;  // Stop wakes poll() with it

  mutable absl::Mutex mu_;
  TunnelStatus status_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_TUNNEL_SSH_TUNNEL_H_
