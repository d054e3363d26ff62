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
// socket, the client sockets and the session with poll(). Bytes are copied
// with backpressure: a client is read only while the channel's SSH window
// has room, and a channel is read only when the previous chunk reached its
// client, so each connection buffers at most one chunk.
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
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/common/wake_pipe.h"

namespace chatgenius {

// TunnelSettings configures an SshTunnel (filled from SSH_* variables).
struct TunnelSettings {
  std::string ssh_host;
  int ssh_port = 22;
  std::string ssh_user;
  std::string key_path;        // private key file, '~' already expanded
  std::string key_passphrase;  // empty: unencrypted key (secret)
  std::string known_hosts_path;
  bool accept_new_host_key = false;

  std::string remote_host = "localhost";  // PostgreSQL as seen from the SSH host
  int remote_port = 5432;

  // Local endpoint: a Unix socket in a fresh 0700 directory under
  // `socket_parent_dir` (default: $XDG_RUNTIME_DIR or /tmp), named for
  // `local_port`; or, with `local_tcp`, 127.0.0.1:`local_port` (0 = any).
  bool local_tcp = false;
  int local_port = 5432;
  std::string socket_parent_dir;

  int max_channels = 32;  // concurrent forwarded connections
  int max_retries = 3;    // consecutive failures before MAX_RETRIES_EXCEEDED
  absl::Duration retry_delay = absl::Seconds(1);       // backoff base
  absl::Duration max_retry_delay = absl::Seconds(30);  // backoff cap
  absl::Duration health_check_interval = absl::Seconds(30);
};

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
  class Session;  // one established SSH session and its channels
  struct Outcome {
    absl::Status status;
    bool permanent = false;  // retrying cannot fix it (keys, auth)
  };

  absl::Status OpenListener();
  Outcome Connect(std::unique_ptr<Session>* session);
  void Run(std::unique_ptr<Session> first);
  // Serves `session` until it dies or Stop; returns why it ended.
  absl::Status Serve(Session& session);
  void SetState(TunnelState state, const std::string& error);
  absl::Duration BackoffDelay(int failures);
  // Sleeps up to `d`, closing connections that arrive meanwhile; returns
  // false if Stop was requested. With `until_bastion_answers`, it also
  // probes the SSH port every kBastionProbeInterval and returns early once
  // it accepts TCP (the bastion is back).
  bool WaitOrStop(absl::Duration d, bool until_bastion_answers = false);
  void RejectPendingClients();

  const TunnelSettings settings_;
  std::vector<TunnelListener*> listeners_;

  int listen_fd_ = -1;
  WakePipe wake_;  // Stop wakes poll() with it
  std::string socket_dir_;
  std::string socket_path_;
  int bound_port_ = 0;

  mutable absl::Mutex mu_;
  TunnelStatus status_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_TUNNEL_SSH_TUNNEL_H_
