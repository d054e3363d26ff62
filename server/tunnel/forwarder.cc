#include "server/tunnel/forwarder.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace chatgenius {
namespace {

// kChunk bounds what one connection buffers in each direction.
constexpr size_t kChunk = 64 * 1024;

// pollfd slots before the connections' own.
constexpr size_t kWakeSlot = 0, kSessionSlot = 1, kListenSlot = 2, kFirstConnectionSlot = 3;

bool WouldBlock() { return errno == EAGAIN || errno == EWOULDBLOCK; }

}  // namespace

// One forwarded connection: a local client socket and its own channel.
struct Forwarder::Connection {
  UniqueFd client;
  ChannelPtr channel;
  std::string to_client;  // bytes read from the channel, not yet written
  size_t to_client_offset = 0;
  bool closed = false;

  bool HasPendingToClient() const { return to_client_offset < to_client.size(); }
};

Forwarder::Forwarder(SshSession& session, LocalEndpoint& endpoint, ForwardTarget target)
    : session_(session), endpoint_(endpoint), target_(std::move(target)), buffer_(kChunk) {}

Forwarder::~Forwarder() = default;

ForwardRound Forwarder::Round(int wake_fd, absl::Duration wait) {
  ForwardRound round;
  ForgetFinished();
  bool window_blocked = false;
  std::vector<pollfd> fds = PollSet(wake_fd, &window_blocked);
  // A window adjustment may already sit inside libssh: look again soon.
  if (window_blocked) wait = std::min(wait, absl::Milliseconds(20));
  poll(fds.data(), fds.size(), static_cast<int>(absl::ToInt64Milliseconds(wait)));

  const short session_events = fds[kSessionSlot].revents;
  if (session_events & (POLLERR | POLLHUP | POLLNVAL)) {
    round.status = absl::UnavailableError("ssh connection lost");
    return round;
  }
  round.session_input_unclaimed = (session_events & POLLIN) && connections_.empty();
  // fds has slots for these connections only; one accepted below has none.
  const size_t polled = connections_.size();
  if (fds[kListenSlot].revents & POLLIN) {
    if (absl::Status s = AcceptClient(); !s.ok()) {
      round.status = s;
      return round;
    }
  }
  for (size_t i = 0; i < polled; ++i) {
    Connection& c = *connections_[i];
    const short revents = fds[kFirstConnectionSlot + i].revents;
    if (!c.closed && (revents & (POLLIN | POLLHUP | POLLERR))) ClientToRemote(c, round);
    if (!c.closed && (revents & POLLOUT)) FlushToClient(c);
  }
  DrainChannels(round);
  if (!session_.connected()) {
    round.status = absl::UnavailableError("ssh session closed");
    return round;
  }
  round.open_channels = static_cast<int>(std::count_if(
      connections_.begin(), connections_.end(), [](const auto& c) { return !c->closed; }));
  return round;
}

std::vector<pollfd> Forwarder::PollSet(int wake_fd, bool* window_blocked) const {
  std::vector<pollfd> fds(kFirstConnectionSlot);
  fds[kWakeSlot] = {wake_fd, POLLIN, 0};
  fds[kSessionSlot] = {session_.fd(), POLLIN, 0};
  const bool room = static_cast<int>(connections_.size()) < target_.max_channels;
  fds[kListenSlot] = {room ? endpoint_.fd() : -1, POLLIN, 0};
  for (const auto& c : connections_) {
    short events = 0;
    if (ssh_channel_window_size(c->channel.get()) > 0) {
      events |= POLLIN;
    } else {
      *window_blocked = true;
    }
    if (c->HasPendingToClient()) events |= POLLOUT;
    fds.push_back({c->client.get(), events, 0});
  }
  return fds;
}

absl::Status Forwarder::AcceptClient() {
  UniqueFd client = endpoint_.Accept();
  if (!client.valid()) return absl::OkStatus();
  absl::StatusOr<ChannelPtr> channel = session_.OpenForward(target_.host, target_.port);
  if (!channel.ok()) {
    // The client is closed: libpq sees the failure at once.
    LogWarning(std::string(channel.status().message()));
    if (!session_.connected()) {
      return absl::UnavailableError(
          absl::StrCat("ssh session lost: ", channel.status().message()));
    }
    return absl::OkStatus();
  }
  auto c = std::make_unique<Connection>();
  c->client = std::move(client);
  c->channel = *std::move(channel);
  connections_.push_back(std::move(c));
  return absl::OkStatus();
}

// Client -> remote, never more than the channel's window.
void Forwarder::ClientToRemote(Connection& c, ForwardRound& round) {
  const uint32_t window = ssh_channel_window_size(c.channel.get());
  if (window == 0) return;
  ssize_t n = read(c.client.get(), buffer_.data(), std::min<size_t>(kChunk, window));
  if (n > 0) {
    if (ssh_channel_write(c.channel.get(), buffer_.data(), static_cast<uint32_t>(n)) != n) {
      c.closed = true;
      return;
    }
    round.bytes_to_remote += n;
  } else if (n == 0 || !WouldBlock()) {
    c.closed = true;  // the client hung up
  }
}

// Pending remote -> client bytes. send(MSG_NOSIGNAL): a client whose socket
// was shut down (the CancelWatcher's cut-off) is an EPIPE, not a SIGPIPE.
void Forwarder::FlushToClient(Connection& c) {
  if (!c.HasPendingToClient()) return;
  ssize_t n = send(c.client.get(), c.to_client.data() + c.to_client_offset,
                   c.to_client.size() - c.to_client_offset, MSG_NOSIGNAL);
  if (n > 0) {
    c.to_client_offset += n;
  } else if (n < 0 && !WouldBlock()) {
    c.closed = true;
  }
}

// Remote -> client: drains every channel until a full pass reads nothing,
// since reading one channel may queue data for another inside libssh.
void Forwarder::DrainChannels(ForwardRound& round) {
  bool progress = true;
  while (progress) {
    progress = false;
    for (auto& cp : connections_) {
      Connection& c = *cp;
      if (c.closed || c.HasPendingToClient()) continue;
      int n = ssh_channel_read_nonblocking(c.channel.get(), buffer_.data(), kChunk, 0);
      if (n > 0) {
        progress = true;
        round.bytes_from_remote += n;
        ssize_t w = send(c.client.get(), buffer_.data(), n, MSG_NOSIGNAL);
        if (w < 0 && !WouldBlock()) {
          c.closed = true;
          continue;
        }
        const size_t written = w > 0 ? static_cast<size_t>(w) : 0;
        if (written < static_cast<size_t>(n)) {
          c.to_client.assign(buffer_.data() + written, n - written);
          c.to_client_offset = 0;
        }
      } else if (n == SSH_ERROR || n == SSH_EOF || ssh_channel_is_eof(c.channel.get()) ||
                 ssh_channel_is_closed(c.channel.get())) {
        c.closed = true;
      }
    }
  }
  for (auto& c : connections_) {
    if (!c->HasPendingToClient()) {
      c->to_client.clear();
      c->to_client_offset = 0;
    }
  }
}

void Forwarder::ForgetFinished() {
  connections_.erase(std::remove_if(connections_.begin(), connections_.end(),
                                    [](const auto& c) { return c->closed; }),
                     connections_.end());
}

}  // namespace chatgenius
