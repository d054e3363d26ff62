// tunnel_settings.h
//
// TunnelSettings: everything an SshTunnel and its parts (SshSession,
// LocalEndpoint, Forwarder) are configured with; filled from the SSH_*
// variables by server/app's component settings.
#ifndef CHATGENIUS_SERVER_TUNNEL_TUNNEL_SETTINGS_H_
#define CHATGENIUS_SERVER_TUNNEL_TUNNEL_SETTINGS_H_

#include <string>

#include "absl/time/time.h"

namespace chatgenius {

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

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_TUNNEL_TUNNEL_SETTINGS_H_
