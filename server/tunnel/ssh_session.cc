#include "server/tunnel/ssh_session.h"

#include <libssh/server.h>  // ssh_send_keepalive, the one client-usable call there

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/tunnel/host_key.h"

namespace chatgenius {
namespace {

// Options for a session to `s`, with `timeout` bounding every blocking call.
void SetOptions(ssh_session ssh, const TunnelSettings& s, absl::Duration timeout) {
  int port = s.ssh_port;
  long timeout_s = static_cast<long>(absl::ToInt64Seconds(timeout));
  long timeout_us = static_cast<long>(absl::ToInt64Microseconds(timeout) % 1000000);
  int no = 0;
  ssh_options_set(ssh, SSH_OPTIONS_HOST, s.ssh_host.c_str());
  ssh_options_set(ssh, SSH_OPTIONS_PORT, &port);
  ssh_options_set(ssh, SSH_OPTIONS_USER, s.ssh_user.c_str());
  ssh_options_set(ssh, SSH_OPTIONS_KNOWNHOSTS, s.known_hosts_path.c_str());
  // Only what the service is configured with counts; ~/.ssh/config does not.
  ssh_options_set(ssh, SSH_OPTIONS_PROCESS_CONFIG, &no);
  ssh_options_set(ssh, SSH_OPTIONS_TIMEOUT, &timeout_s);
  ssh_options_set(ssh, SSH_OPTIONS_TIMEOUT_USEC, &timeout_us);
}

// LoadKey reads the private key: a configuration error, reported before
// any connection is tried (so also when the bastion is unreachable).
absl::StatusOr<KeyPtr> LoadKey(const TunnelSettings& s) {
  ssh_key raw_key = nullptr;
  if (ssh_pki_import_privkey_file(s.key_path.c_str(),
                                  s.key_passphrase.empty() ? nullptr : s.key_passphrase.c_str(),
                                  nullptr, nullptr, &raw_key) != SSH_OK) {
    return absl::FailedPreconditionError(
        absl::StrCat("SSH_KEY_PATH: cannot read private key ", s.key_path,
                     " (missing, unreadable, unsupported, or wrong SSH_KEY_PASSPHRASE)"));
  }
  return KeyPtr(raw_key);
}

absl::Status Authenticate(ssh_session ssh, const TunnelSettings& s, const KeyPtr& key) {
  const std::string target = KnownHostsName(s.ssh_host, s.ssh_port);
  int auth = ssh_userauth_publickey(ssh, nullptr, key.get());
  if (auth == SSH_AUTH_DENIED || auth == SSH_AUTH_PARTIAL) {
    return absl::PermissionDeniedError(absl::StrCat(
        "ssh: ", target, " refused public key ", s.key_path, " for user '", s.ssh_user,
        "' (is its .pub in the user's authorized_keys?)"));
  }
  if (auth != SSH_AUTH_SUCCESS) {
    return absl::UnavailableError(absl::StrCat("ssh: authentication with ", target,
                                               " failed: ", ssh_get_error(ssh)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Duration SshReplyTimeout(absl::Duration health_check_interval) {
  return std::max(health_check_interval / 2, absl::Milliseconds(200));
}

bool IsPermanentConnectError(const absl::Status& status) {
  return absl::IsFailedPrecondition(status) || absl::IsPermissionDenied(status);
}

absl::StatusOr<std::unique_ptr<SshSession>> SshSession::Connect(const TunnelSettings& settings) {
  absl::StatusOr<KeyPtr> key = LoadKey(settings);
  if (!key.ok()) return key.status();
  SessionPtr ssh(ssh_new());
  if (ssh == nullptr) return absl::InternalError("ssh_new failed");
  SetOptions(ssh.get(), settings, SshReplyTimeout(settings.health_check_interval));
  if (ssh_connect(ssh.get()) != SSH_OK) {
    return absl::UnavailableError(
        absl::StrCat("ssh: cannot connect to ", KnownHostsName(settings.ssh_host, settings.ssh_port),
                     ": ", ssh_get_error(ssh.get())));
  }
  HostKeyPolicy policy{settings.ssh_host, settings.ssh_port, settings.known_hosts_path,
                       settings.accept_new_host_key};
  if (absl::Status s = VerifyHostKey(ssh.get(), policy); !s.ok()) return s;
  if (absl::Status s = Authenticate(ssh.get(), settings, *key); !s.ok()) return s;
  return std::unique_ptr<SshSession>(new SshSession(std::move(ssh)));
}

int SshSession::fd() const { return ssh_get_fd(ssh_.get()); }

bool SshSession::connected() const { return ssh_is_connected(ssh_.get()) != 0; }

absl::Status SshSession::Keepalive(absl::Duration reply_timeout) {
  const absl::Time start = absl::Now();
  ssh_send_keepalive(ssh_.get());
  const absl::Duration took = absl::Now() - start;
  if (!connected()) return absl::UnavailableError("ssh session closed by the server");
  if (took >= reply_timeout * 0.9) {
    return absl::UnavailableError(absl::StrCat("ssh keepalive unanswered for ",
                                               absl::FormatDuration(took), " (server hung?)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ChannelPtr> SshSession::OpenForward(const std::string& host, int port) {
  ChannelPtr channel(ssh_channel_new(ssh_.get()));
  if (channel == nullptr ||
      ssh_channel_open_forward(channel.get(), host.c_str(), port, "127.0.0.1", 0) != SSH_OK) {
    return absl::UnavailableError(absl::StrCat("ssh: cannot open a channel to ", host, ":", port,
                                               ": ", ssh_get_error(ssh_.get())));
  }
  return channel;
}

}  // namespace chatgenius
