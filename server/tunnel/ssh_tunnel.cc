#include "server/tunnel/ssh_tunnel.h"

#include <fcntl.h>
#include <libssh/libssh.h>
#include <libssh/server.h>  // ssh_send_keepalive, the one client-usable call there
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/metrics/prometheus_text.h"
#include "server/tunnel/tcp_probe.h"

namespace chatgenius {
namespace {

// kChunk bounds what one connection buffers in each direction.
constexpr size_t kChunk = 64 * 1024;

struct SessionDeleter {
  void operator()(ssh_session s) const {
    if (ssh_is_connected(s)) ssh_disconnect(s);
    ssh_free(s);
  }
};
using SessionPtr = std::unique_ptr<std::remove_pointer_t<ssh_session>, SessionDeleter>;

struct ChannelDeleter {
  void operator()(ssh_channel c) const {
    if (!ssh_channel_is_closed(c)) ssh_channel_close(c);
    ssh_channel_free(c);
  }
};
using ChannelPtr = std::unique_ptr<std::remove_pointer_t<ssh_channel>, ChannelDeleter>;

struct KeyDeleter {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
using KeyPtr = std::unique_ptr<std::remove_pointer_t<ssh_key>, KeyDeleter>;

// "[host]:port" as OpenSSH writes non-default ports in known_hosts.
std::string KnownHostsName(const TunnelSettings& s) {
  return s.ssh_port == 22 ? s.ssh_host : absl::StrCat("[", s.ssh_host, "]:", s.ssh_port);
}

// Describes the server's key as "ssh-ed25519 SHA256:..." for error messages.
std::string ServerKeyDescription(ssh_session session) {
  ssh_key raw = nullptr;
  if (ssh_get_server_publickey(session, &raw) != SSH_OK) return "(no key)";
  KeyPtr key(raw);
  unsigned char* hash = nullptr;
  size_t hash_len = 0;
  if (ssh_get_publickey_hash(key.get(), SSH_PUBLICKEY_HASH_SHA256, &hash, &hash_len) != 0) {
    return ssh_key_type_to_char(ssh_key_type(key.get()));
  }
  char* fingerprint = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hash_len);
  std::string out = absl::StrCat(ssh_key_type_to_char(ssh_key_type(key.get())), " ",
                                 fingerprint != nullptr ? fingerprint : "?");
  ssh_string_free_char(fingerprint);
  ssh_clean_pubkey_hash(&hash);
  return out;
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

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

// One forwarded connection: a local client socket and its own channel.
struct Forward {
  int fd = -1;
  ChannelPtr channel;
  std::string to_client;  // bytes read from the channel, not yet written
  size_t to_client_offset = 0;
  bool closed = false;

  ~Forward() {
    if (fd >= 0) close(fd);
  }
};

class SshTunnel::Session {
 public:
  SessionPtr ssh;
  std::vector<std::unique_ptr<Forward>> forwards;
};

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

std::string SshTunnel::local_host() const {
  return settings_.local_tcp ? "127.0.0.1" : socket_dir_;
}

int SshTunnel::local_port() const { return bound_port_; }

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

absl::Status SshTunnel::OpenListener() {
  if (!wake_.status().ok()) return wake_.status();
  if (settings_.local_tcp) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(settings_.local_port));
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return absl::UnavailableError(absl::StrCat("POSTGRES_PORT: cannot listen on 127.0.0.1:",
                                                 settings_.local_port, ": ", strerror(errno)));
    }
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    bound_port_ = ntohs(addr.sin_port);
  } else {
    std::string parent = settings_.socket_parent_dir;
    if (parent.empty()) {
      const char* runtime = std::getenv("XDG_RUNTIME_DIR");
      parent = runtime != nullptr && *runtime != '\0' ? runtime : "/tmp";
    }
    std::string templ = parent + "/chatgenius-tunnel-XXXXXX";
    // mkdtemp creates the directory 0700: only this user reaches the socket.
    if (mkdtemp(templ.data()) == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot create the tunnel socket directory in ",
                                                 parent, ": ", strerror(errno)));
    }
    socket_dir_ = templ;
    bound_port_ = settings_.local_port;
    socket_path_ = absl::StrCat(socket_dir_, "/.s.PGSQL.", bound_port_);
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path_.size() >= sizeof addr.sun_path) {
      return absl::InvalidArgumentError(
          absl::StrCat("tunnel socket path too long: ", socket_path_));
    }
    std::strncpy(addr.sun_path, socket_path_.c_str(), sizeof addr.sun_path - 1);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot bind ", socket_path_, ": ", strerror(errno)));
    }
    chmod(socket_path_.c_str(), 0600);
  }
  if (listen(listen_fd_, 64) != 0) {
    return absl::UnavailableError(absl::StrCat("listen failed: ", strerror(errno)));
  }
  SetNonBlocking(listen_fd_);
  absl::MutexLock lock(&mu_);
  status_.local_endpoint =
      settings_.local_tcp ? absl::StrCat("127.0.0.1:", bound_port_) : socket_path_;
  return absl::OkStatus();
}

SshTunnel::Outcome SshTunnel::Connect(std::unique_ptr<Session>* out) {
  {
    absl::MutexLock lock(&mu_);
    ++status_.connect_attempts_total;
  }
  const std::string target = KnownHostsName(settings_);
  SessionPtr ssh(ssh_new());
  if (ssh == nullptr) return {absl::InternalError("ssh_new failed"), false};
  int port = settings_.ssh_port;
  // A keepalive must be answered within half an interval; the same timeout
  // bounds connecting and opening channels.
  absl::Duration timeout = std::max(settings_.health_check_interval / 2, absl::Milliseconds(200));
  long timeout_s = static_cast<long>(absl::ToInt64Seconds(timeout));
  long timeout_us = static_cast<long>(absl::ToInt64Microseconds(timeout) % 1000000);
  int no = 0;
  ssh_options_set(ssh.get(), SSH_OPTIONS_HOST, settings_.ssh_host.c_str());
  ssh_options_set(ssh.get(), SSH_OPTIONS_PORT, &port);
  ssh_options_set(ssh.get(), SSH_OPTIONS_USER, settings_.ssh_user.c_str());
  ssh_options_set(ssh.get(), SSH_OPTIONS_KNOWNHOSTS, settings_.known_hosts_path.c_str());
  // Only what the service is configured with counts; ~/.ssh/config does not.
  ssh_options_set(ssh.get(), SSH_OPTIONS_PROCESS_CONFIG, &no);
  ssh_options_set(ssh.get(), SSH_OPTIONS_TIMEOUT, &timeout_s);
  ssh_options_set(ssh.get(), SSH_OPTIONS_TIMEOUT_USEC, &timeout_us);

  if (ssh_connect(ssh.get()) != SSH_OK) {
    return {absl::UnavailableError(
                absl::StrCat("ssh: cannot connect to ", target, ": ", ssh_get_error(ssh.get()))),
            false};
  }

  switch (ssh_session_is_known_server(ssh.get())) {
    case SSH_KNOWN_HOSTS_OK:
      break;
    case SSH_KNOWN_HOSTS_CHANGED:
      return {absl::FailedPreconditionError(absl::StrCat(
                  "ssh: HOST KEY CHANGED for ", target, ": the server offers ",
                  ServerKeyDescription(ssh.get()), ", which does not match ",
                  settings_.known_hosts_path,
                  ". Refusing to connect. If the change is expected, remove the old entry "
                  "(ssh-keygen -R '",
                  target, "' -f ", settings_.known_hosts_path, ") and add the new key")),
              true};
    case SSH_KNOWN_HOSTS_OTHER:
      return {absl::FailedPreconditionError(absl::StrCat(
                  "ssh: host key for ", target, " is of another type than recorded in ",
                  settings_.known_hosts_path, ": the server offers ",
                  ServerKeyDescription(ssh.get()), ". Refusing to connect")),
              true};
    case SSH_KNOWN_HOSTS_NOT_FOUND:
    case SSH_KNOWN_HOSTS_UNKNOWN:
      if (settings_.accept_new_host_key) {
        if (ssh_session_update_known_hosts(ssh.get()) != SSH_OK) {
          return {absl::FailedPreconditionError(
                      absl::StrCat("ssh: cannot record the host key of ", target, " in ",
                                   settings_.known_hosts_path, ": ", ssh_get_error(ssh.get()))),
                  true};
        }
        LogWarning(absl::StrCat("ssh: recorded new host key for ", target, " (",
                                ServerKeyDescription(ssh.get()), ") in ",
                                settings_.known_hosts_path, " (SSH_ACCEPT_NEW_HOST_KEY=true)"));
        break;
      }
      return {absl::FailedPreconditionError(absl::StrCat(
                  "ssh: unknown host key for ", target, ": the server offers ",
                  ServerKeyDescription(ssh.get()), ", which is not in ", settings_.known_hosts_path,
                  ". Verify the fingerprint and add it (ssh-keyscan -p ", settings_.ssh_port, " ",
                  settings_.ssh_host, " >> ", settings_.known_hosts_path,
                  "), or set SSH_ACCEPT_NEW_HOST_KEY=true to record it on first connect")),
              true};
    case SSH_KNOWN_HOSTS_ERROR:
      return {absl::UnavailableError(absl::StrCat("ssh: cannot check the host key of ", target,
                                                  ": ", ssh_get_error(ssh.get()))),
              false};
  }

  ssh_key raw_key = nullptr;
  if (ssh_pki_import_privkey_file(
          settings_.key_path.c_str(),
          settings_.key_passphrase.empty() ? nullptr : settings_.key_passphrase.c_str(), nullptr,
          nullptr, &raw_key) != SSH_OK) {
    return {absl::FailedPreconditionError(
                absl::StrCat("SSH_KEY_PATH: cannot read private key ", settings_.key_path,
                             " (missing, unreadable, unsupported, or wrong SSH_KEY_PASSPHRASE)")),
            true};
  }
  KeyPtr key(raw_key);
  int auth = ssh_userauth_publickey(ssh.get(), nullptr, key.get());
  if (auth == SSH_AUTH_DENIED || auth == SSH_AUTH_PARTIAL) {
    return {absl::PermissionDeniedError(absl::StrCat(
                "ssh: ", target, " refused public key ", settings_.key_path, " for user '",
                settings_.ssh_user, "' (is its .pub in the user's authorized_keys?)")),
            true};
  }
  if (auth != SSH_AUTH_SUCCESS) {
    return {absl::UnavailableError(absl::StrCat("ssh: authentication with ", target,
                                                " failed: ", ssh_get_error(ssh.get()))),
            false};
  }
  *out = std::make_unique<Session>();
  (*out)->ssh = std::move(ssh);
  return {absl::OkStatus(), false};
}

absl::Status SshTunnel::Start() {
  if (absl::Status s = OpenListener(); !s.ok()) return s;
  std::unique_ptr<Session> session;
  SetState(TunnelState::kConnecting, "");
  Outcome first = Connect(&session);
  if (!first.status.ok()) {
    if (first.permanent) {
      SetState(TunnelState::kStopped, std::string(first.status.message()));
      Stop();
      return first.status;
    }
    {
      absl::MutexLock lock(&mu_);
      status_.consecutive_failures = 1;
    }
    SetState(settings_.max_retries <= 1 ? TunnelState::kMaxRetriesExceeded : TunnelState::kBackoff,
             std::string(first.status.message()));
  }
  thread_ = std::thread([this, s = session.release()] { Run(std::unique_ptr<Session>(s)); });
  return absl::OkStatus();
}

namespace {

// While the bastion is down, its SSH port is probed this often (one TCP
// handshake, no SSH) so the tunnel is back within about this long of it.
constexpr absl::Duration kBastionProbeInterval = absl::Milliseconds(500);
constexpr absl::Duration kBastionProbeTimeout = absl::Milliseconds(300);

}  // namespace

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

void SshTunnel::RejectPendingClients() {
  while (true) {
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    close(fd);  // fail fast: libpq reports the closed connection at once
  }
}

bool SshTunnel::WaitOrStop(absl::Duration d, bool until_bastion_answers) {
  const absl::Time until = absl::Now() + d;
  absl::Time next_probe = absl::Now() + kBastionProbeInterval;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return false;
    }
    const absl::Time now = absl::Now();
    if (now >= until) return true;
    if (until_bastion_answers && now >= next_probe) {
      if (TcpAnswers(settings_.ssh_host, settings_.ssh_port, kBastionProbeTimeout)) return true;
      next_probe = absl::Now() + kBastionProbeInterval;
    }
    const absl::Time wake = until_bastion_answers ? std::min(until, next_probe) : until;
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_.fd(), POLLIN, 0}};
    poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(wake - absl::Now())) + 1);
    if (fds[0].revents & POLLIN) RejectPendingClients();
  }
}

void SshTunnel::Run(std::unique_ptr<Session> session) {
  bool connected_before = session != nullptr;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    if (session != nullptr) {
      {
        absl::MutexLock lock(&mu_);
        status_.consecutive_failures = 0;
      }
      SetState(TunnelState::kUp, "");
      absl::Status ended = Serve(*session);
      session.reset();  // closes every client socket: their pool connections break
      {
        absl::MutexLock lock(&mu_);
        status_.open_channels = 0;
        if (stopping_) break;
      }
      SetState(TunnelState::kConnecting, std::string(ended.message()));
    }
    Outcome attempt = Connect(&session);
    if (attempt.status.ok()) {
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
             std::string(attempt.status.message()));
    // A bastion whose port does not even accept TCP is down (restarting,
    // rebooting): retry the moment it accepts again rather than at the end
    // of a delay that doubled while it was away. One that accepts TCP but
    // failed the SSH handshake gets the plain backoff: hammering it would
    // not help.
    const bool down = !TcpAnswers(settings_.ssh_host, settings_.ssh_port, kBastionProbeTimeout);
    if (!WaitOrStop(BackoffDelay(failures), down)) break;
  }
}

absl::Status SshTunnel::Serve(Session& session) {
  ssh_session ssh = session.ssh.get();
  const absl::Duration reply_timeout =
      std::max(settings_.health_check_interval / 2, absl::Milliseconds(200));
  absl::Time next_keepalive = absl::Now() + settings_.health_check_interval;
  std::vector<char> buf(kChunk);
  int64_t to_remote = 0, from_remote = 0;

  auto close_forward = [](Forward& f) { f.closed = true; };

  // Sends a keepalive that requires an answer and times how long it took:
  // libssh blocks in it until the reply or the session timeout.
  auto keepalive = [&]() -> absl::Status {
    absl::Time start = absl::Now();
    ssh_send_keepalive(ssh);
    absl::Duration took = absl::Now() - start;
    if (!ssh_is_connected(ssh)) return absl::UnavailableError("ssh session closed by the server");
    if (took >= reply_timeout * 0.9) {
      return absl::UnavailableError(absl::StrCat("ssh keepalive unanswered for ",
                                                 absl::FormatDuration(took), " (server hung?)"));
    }
    absl::MutexLock lock(&mu_);
    status_.last_keepalive = absl::Now();
    return absl::OkStatus();
  };

  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::OkStatus();
    }
    // Forget finished connections.
    auto& fw = session.forwards;
    fw.erase(std::remove_if(fw.begin(), fw.end(), [](const auto& f) { return f->closed; }),
             fw.end());

    std::vector<pollfd> fds;
    fds.push_back({wake_.fd(), POLLIN, 0});
    fds.push_back({ssh_get_fd(ssh), POLLIN, 0});
    const bool room = static_cast<int>(fw.size()) < settings_.max_channels;
    fds.push_back({room ? listen_fd_ : -1, POLLIN, 0});
    bool window_blocked = false;
    for (const auto& f : fw) {
      short events = 0;
      if (ssh_channel_window_size(f->channel.get()) > 0) {
        events |= POLLIN;
      } else {
        window_blocked = true;
      }
      if (f->to_client_offset < f->to_client.size()) events |= POLLOUT;
      fds.push_back({f->fd, events, 0});
    }
    // fds holds entries for these forwards only; one accepted below has none.
    const size_t polled_forwards = fw.size();
    absl::Duration wait = std::max(next_keepalive - absl::Now(), absl::ZeroDuration());
    // A window adjustment may already sit inside libssh: look again soon.
    if (window_blocked) wait = std::min(wait, absl::Milliseconds(20));
    poll(fds.data(), fds.size(), static_cast<int>(absl::ToInt64Milliseconds(wait)));

    if (fds[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
      return absl::UnavailableError("ssh connection lost");
    }
    if ((fds[1].revents & POLLIN) && fw.empty()) {
      // Something arrived with no channel to read it through (e.g. a
      // disconnect): let libssh process it now.
      if (absl::Status s = keepalive(); !s.ok()) return s;
      next_keepalive = absl::Now() + settings_.health_check_interval;
    }

    if (fds[2].revents & POLLIN) {
      int client = accept(listen_fd_, nullptr, nullptr);
      if (client >= 0) {
        SetNonBlocking(client);
        auto f = std::make_unique<Forward>();
        f->fd = client;
        f->channel.reset(ssh_channel_new(ssh));
        if (f->channel == nullptr ||
            ssh_channel_open_forward(f->channel.get(), settings_.remote_host.c_str(),
                                     settings_.remote_port, "127.0.0.1", 0) != SSH_OK) {
          std::string error = ssh_get_error(ssh);
          LogWarning(absl::StrCat("ssh: cannot open a channel to ", settings_.remote_host, ":",
                                  settings_.remote_port, ": ", error));
          if (!ssh_is_connected(ssh)) return absl::UnavailableError("ssh session lost: " + error);
        } else {
          fw.push_back(std::move(f));
        }
      }
    }

    for (size_t i = 0; i < polled_forwards; ++i) {
      Forward& f = *fw[i];
      short revents = fds[3 + i].revents;
      if (f.closed) continue;
      // Client -> remote, never more than the channel's window.
      if (revents & (POLLIN | POLLHUP | POLLERR)) {
        uint32_t window = ssh_channel_window_size(f.channel.get());
        if (window > 0) {
          ssize_t n = read(f.fd, buf.data(), std::min<size_t>(kChunk, window));
          if (n > 0) {
            if (ssh_channel_write(f.channel.get(), buf.data(), static_cast<uint32_t>(n)) != n) {
              close_forward(f);
              continue;
            }
            to_remote += n;
          } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            close_forward(f);  // the client hung up
            continue;
          }
        }
      }
      // Pending remote -> client bytes.
      if ((revents & POLLOUT) && f.to_client_offset < f.to_client.size()) {
        // send(MSG_NOSIGNAL): a client whose socket was shut down (the
        // CancelWatcher's cut-off) is an EPIPE here, not a SIGPIPE.
        ssize_t n = send(f.fd, f.to_client.data() + f.to_client_offset,
                         f.to_client.size() - f.to_client_offset, MSG_NOSIGNAL);
        if (n > 0) {
          f.to_client_offset += n;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
          close_forward(f);
        }
      }
    }

    // Remote -> client: drain every channel until a full pass reads nothing,
    // since reading one channel may queue data for another inside libssh.
    bool progress = true;
    while (progress) {
      progress = false;
      for (auto& fp : fw) {
        Forward& f = *fp;
        if (f.closed || f.to_client_offset < f.to_client.size()) continue;
        int n = ssh_channel_read_nonblocking(f.channel.get(), buf.data(), kChunk, 0);
        if (n > 0) {
          progress = true;
          from_remote += n;
          ssize_t w = send(f.fd, buf.data(), n, MSG_NOSIGNAL);
          if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            close_forward(f);
            continue;
          }
          size_t written = w > 0 ? static_cast<size_t>(w) : 0;
          if (written < static_cast<size_t>(n)) {
            f.to_client.assign(buf.data() + written, n - written);
            f.to_client_offset = 0;
          }
        } else if (n == SSH_ERROR || n == SSH_EOF || ssh_channel_is_eof(f.channel.get()) ||
                   ssh_channel_is_closed(f.channel.get())) {
          close_forward(f);
        }
      }
    }
    for (auto& fp : fw) {
      if (fp->to_client_offset >= fp->to_client.size()) {
        fp->to_client.clear();
        fp->to_client_offset = 0;
      }
    }

    if (!ssh_is_connected(ssh)) return absl::UnavailableError("ssh session closed");
    {
      absl::MutexLock lock(&mu_);
      status_.open_channels = static_cast<int>(
          std::count_if(fw.begin(), fw.end(), [](const auto& f) { return !f->closed; }));
      status_.bytes_to_remote += to_remote;
      status_.bytes_from_remote += from_remote;
    }
    to_remote = from_remote = 0;

    if (absl::Now() >= next_keepalive) {
      if (absl::Status s = keepalive(); !s.ok()) return s;
      next_keepalive = absl::Now() + settings_.health_check_interval;
    }
  }
}

void SshTunnel::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !thread_.joinable() && listen_fd_ < 0) return;
    stopping_ = true;
  }
  wake_.Wake();
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
  if (!socket_path_.empty()) unlink(socket_path_.c_str());
  if (!socket_dir_.empty()) rmdir(socket_dir_.c_str());
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
