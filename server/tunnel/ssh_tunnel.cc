#include "server/tunnel/ssh_tunnel.h"

#include <poll.h>

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/metrics/prometheus_text.h"
#include "server/tunnel/forwarder.h"
#include "server/tunnel/local_endpoint.h"
#include "server/tunnel/ssh_session.h"
#include "server/tunnel/tcp_probe.h"

namespace chatgenius {
namespace {

// While the bastion is down, its SSH port is probed this often (one TCP
// handshake, no SSH) so the tunnel is back within about this long of it.
constexpr absl::Duration kBastionProbeInterval = absl::Milliseconds(500);
constexpr absl::Duration kBastionProbeTimeout = absl::Milliseconds(300);

}  // namespace

const char* TunnelStateName(TunnelState state) {
  switch (state) {
    case TunnelState::kConnecting:
      return "connecting";
    case TunnelState::kUp:
      return "up";
    case TunnelState::kBackoff:
      return "backoff";
    case TunnelState::kMaxRetriesExceeded:
      return "max_retries_exceeded";
    case TunnelState::kStopped:
      return "stopped";
  }
  return "?";
}

SshTunnel::SshTunnel(TunnelSettings settings) : settings_(std::move(settings)) {
  absl::MutexLock lock(&mu_);
  status_.ssh_target =
      absl::StrCat(settings_.ssh_user, "@", settings_.ssh_host, ":", settings_.ssh_port);
  status_.remote_target = absl::StrCat(settings_.remote_host, ":", settings_.remote_port);
  status_.state_since = absl::Now();
  status_.last_keepalive = absl::InfinitePast();
}

SshTunnel::~SshTunnel() { Stop(); }

void SshTunnel::AddListener(TunnelListener* listener) { listeners_.push_back(listener); }

std::string SshTunnel::local_host() const { return local_host_; }

int SshTunnel::local_port() const { return local_port_; }

bool SshTunnel::IsUp() const {
  absl::MutexLock lock(&mu_);
  return status_.state == TunnelState::kUp;
}

TunnelStatus SshTunnel::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

bool SshTunnel::WaitForState(TunnelState state, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto reached = [this, state]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return status_.state == state; };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

void SshTunnel::SetState(TunnelState state, const std::string& error) {
  TunnelStatus snapshot;
  bool changed;
  {
    absl::MutexLock lock(&mu_);
    changed = status_.state != state;
    if (changed) status_.state_since = absl::Now();
    status_.state = state;
    if (!error.empty()) status_.last_error = error;
    snapshot = status_;
  }
  if (!changed) return;
  if (state == TunnelState::kMaxRetriesExceeded) {
    LogError(absl::StrCat("ssh tunnel: maxRetriesExceeded after ", snapshot.consecutive_failures,
                          " failed attempts (", snapshot.last_error,
                          "); still retrying with backoff up to ",
                          absl::FormatDuration(settings_.max_retry_delay)));
  } else {
    LogInfo(absl::StrCat("ssh tunnel ", snapshot.ssh_target, ": ", TunnelStateName(state),
                         error.empty() ? "" : absl::StrCat(" (", error, ")")));
  }
  for (TunnelListener* l : listeners_) l->OnTunnelStateChange(snapshot);
}

bool SshTunnel::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

absl::StatusOr<std::unique_ptr<SshSession>> SshTunnel::Connect() {
  {
    absl::MutexLock lock(&mu_);
    ++status_.connect_attempts_total;
  }
  return SshSession::Connect(settings_);
}

absl::Status SshTunnel::Start() {
  if (!wake_.status().ok()) return wake_.status();
  absl::StatusOr<std::unique_ptr<LocalEndpoint>> endpoint = LocalEndpoint::Open(settings_);
  if (!endpoint.ok()) return endpoint.status();
  endpoint_ = *std::move(endpoint);
  local_host_ = endpoint_->host();
  local_port_ = endpoint_->port();
  {
    absl::MutexLock lock(&mu_);
    status_.local_endpoint = endpoint_->description();
  }
  SetState(TunnelState::kConnecting, "");
  absl::StatusOr<std::unique_ptr<SshSession>> first = Connect();
  if (!first.ok()) {
    const std::string error(first.status().message());
    if (IsPermanentConnectError(first.status())) {
      SetState(TunnelState::kStopped, error);
      Stop();
      return first.status();
    }
    {
      absl::MutexLock lock(&mu_);
      status_.consecutive_failures = 1;
    }
    SetState(settings_.max_retries <= 1 ? TunnelState::kMaxRetriesExceeded : TunnelState::kBackoff,
             error);
  }
  std::unique_ptr<SshSession> session = first.ok() ? *std::move(first) : nullptr;
  thread_ = std::thread([this, s = session.release()] { Run(std::unique_ptr<SshSession>(s)); });
  return absl::OkStatus();
}

absl::Duration ReconnectDelay(int failures, absl::Duration base, absl::Duration cap,
                              double jitter) {
  absl::Duration d = base;
  for (int i = 1; i < failures && d < cap; ++i) d *= 2;
  return std::min(d, cap) * jitter;
}

absl::Duration SshTunnel::BackoffDelay(int failures) {
  static thread_local std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return ReconnectDelay(failures, settings_.retry_delay, settings_.max_retry_delay, jitter(rng));
}

bool SshTunnel::WaitOrStop(absl::Duration d, bool until_bastion_answers) {
  const absl::Time until = absl::Now() + d;
  absl::Time next_probe = absl::Now() + kBastionProbeInterval;
  while (!stopping()) {
    const absl::Time now = absl::Now();
    if (now >= until) return true;
    if (until_bastion_answers && now >= next_probe) {
      if (TcpAnswers(settings_.ssh_host, settings_.ssh_port, kBastionProbeTimeout)) return true;
      next_probe = absl::Now() + kBastionProbeInterval;
    }
    const absl::Time wake = until_bastion_answers ? std::min(until, next_probe) : until;
    pollfd fds[2] = {{endpoint_->fd(), POLLIN, 0}, {wake_.fd(), POLLIN, 0}};
    poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(wake - absl::Now())) + 1);
    // Fail fast: libpq reports the closed connection at once.
    if (fds[0].revents & POLLIN) endpoint_->RejectPending();
  }
  return false;
}

void SshTunnel::Run(std::unique_ptr<SshSession> session) {
  bool connected_before = session != nullptr;
  while (!stopping()) {
    if (session != nullptr) {
      {
        absl::MutexLock lock(&mu_);
        status_.consecutive_failures = 0;
      }
      SetState(TunnelState::kUp, "");
      absl::Status ended = Serve(*session);
      session.reset();
      {
        absl::MutexLock lock(&mu_);
        status_.open_channels = 0;
        if (stopping_) break;
      }
      SetState(TunnelState::kConnecting, std::string(ended.message()));
    }
    absl::StatusOr<std::unique_ptr<SshSession>> attempt = Connect();
    if (attempt.ok()) {
      session = *std::move(attempt);
      if (connected_before) {
        absl::MutexLock lock(&mu_);
        ++status_.reconnects_total;
      }
      connected_before = true;
      continue;
    }
    int failures;
    {
      absl::MutexLock lock(&mu_);
      failures = ++status_.consecutive_failures;
    }
    // Exceeding the retries is reported, not a jump to the cap: a bastion
    // back after a short outage is found about one doubled delay later.
    bool exceeded = failures >= settings_.max_retries;
    SetState(exceeded ? TunnelState::kMaxRetriesExceeded : TunnelState::kBackoff,
             std::string(attempt.status().message()));
    // A bastion whose port does not even accept TCP is down (restarting,
    // rebooting): retry the moment it accepts again rather than at the end
    // of a delay that doubled while it was away. One that accepts TCP but
    // failed the SSH handshake gets the plain backoff: hammering it would
    // not help.
    const bool down = !TcpAnswers(settings_.ssh_host, settings_.ssh_port, kBastionProbeTimeout);
    if (!WaitOrStop(BackoffDelay(failures), down)) break;
  }
}

absl::Status SshTunnel::Serve(SshSession& session) {
  // Destroyed on return, before the session: every client socket closes,
  // so the pool's connections through this session break at once.
  Forwarder forwarder(session, *endpoint_,
                      {settings_.remote_host, settings_.remote_port, settings_.max_channels});
  const absl::Duration reply_timeout = SshReplyTimeout(settings_.health_check_interval);
  absl::Time next_keepalive = absl::Now() + settings_.health_check_interval;
  while (!stopping()) {
    const absl::Duration wait = std::max(next_keepalive - absl::Now(), absl::ZeroDuration());
    ForwardRound round = forwarder.Round(wake_.fd(), wait);
    if (!round.status.ok()) return round.status;
    {
      absl::MutexLock lock(&mu_);
      status_.open_channels = round.open_channels;
      status_.bytes_to_remote += round.bytes_to_remote;
      status_.bytes_from_remote += round.bytes_from_remote;
    }
    if (round.session_input_unclaimed || absl::Now() >= next_keepalive) {
      if (absl::Status s = session.Keepalive(reply_timeout); !s.ok()) return s;
      absl::MutexLock lock(&mu_);
      status_.last_keepalive = absl::Now();
      next_keepalive = absl::Now() + settings_.health_check_interval;
    }
  }
  return absl::OkStatus();
}

void SshTunnel::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !thread_.joinable() && endpoint_ == nullptr) return;
    stopping_ = true;
  }
  wake_.Wake();
  if (thread_.joinable()) thread_.join();
  endpoint_.reset();  // closes the socket, removes it and its directory
  bool was_stopped;
  {
    absl::MutexLock lock(&mu_);
    was_stopped = status_.state == TunnelState::kStopped;
  }
  if (!was_stopped) SetState(TunnelState::kStopped, "");
}

void AppendTunnelMetrics(const TunnelStatus& t, std::string* out) {
  AppendFamilyHeader(out, "chatgenius_tunnel_state", "gauge", "1 for the tunnel's current state.");
  for (TunnelState state : {TunnelState::kConnecting, TunnelState::kUp, TunnelState::kBackoff,
                            TunnelState::kMaxRetriesExceeded, TunnelState::kStopped}) {
    AppendSample(out, "chatgenius_tunnel_state", {{"state", TunnelStateName(state)}},
                 t.state == state ? 1 : 0);
  }
  AppendGauge(out, "chatgenius_tunnel_open_channels", "Forwarded connections open.",
              t.open_channels);
  AppendCounter(out, "chatgenius_tunnel_reconnects_total",
                "Successful SSH connects after the first.", t.reconnects_total);
  AppendCounter(out, "chatgenius_tunnel_connect_attempts_total", "SSH connect attempts.",
                t.connect_attempts_total);
  AppendCounter(out, "chatgenius_tunnel_bytes_to_remote_total", "Bytes sent to PostgreSQL.",
                t.bytes_to_remote);
  AppendCounter(out, "chatgenius_tunnel_bytes_from_remote_total", "Bytes received from PostgreSQL.",
                t.bytes_from_remote);
}

}  // namespace chatgenius
