// host_key.h
//
// VerifyHostKey: strict host-key checking of a connected (not yet
// authenticated) session against its known_hosts file, as OpenSSH's
// StrictHostKeyChecking=yes, or =accept-new with `accept_new`.
//
// Returns OK for a recorded, matching key (or a first-seen key recorded
// under accept_new). FAILED_PRECONDITION, naming the host, the offered key
// type and SHA-256 fingerprint, the file and the command that fixes it, for
// an unknown key, a changed key, a key of another type, or a known_hosts
// that cannot be written: retrying cannot fix these. UNAVAILABLE if libssh
// could not check at all.
#ifndef CHATGENIUS_SERVER_TUNNEL_HOST_KEY_H_
#define CHATGENIUS_SERVER_TUNNEL_HOST_KEY_H_

#include <libssh/libssh.h>

#include <string>

#include "absl/status/status.h"

namespace chatgenius {

struct HostKeyPolicy {
  std::string host;  // as configured (SSH_HOST)
  int port = 22;
  std::string known_hosts_path;
  bool accept_new = false;  // SSH_ACCEPT_NEW_HOST_KEY
};

[[nodiscard]] absl::Status VerifyHostKey(ssh_session session, const HostKeyPolicy& policy);

// KnownHostsName is how OpenSSH names the host in known_hosts: "host", or
// "[host]:port" for a port other than 22.
std::string KnownHostsName(const std::string& host, int port);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_TUNNEL_HOST_KEY_H_
