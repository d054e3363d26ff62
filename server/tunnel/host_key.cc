#include "server/tunnel/host_key.h"

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/tunnel/ssh_handles.h"

namespace chatgenius {
namespace {

// Describes the server's key as "ssh-ed25519 SHA256:..." for messages.
std::string ServerKeyDescription(ssh_session session) {
  ssh_key raw = nullptr;
  if (ssh_get_server_publickey(session, &raw) != SSH_OK) return "(no key)";
  KeyPtr key(raw);
  const char* type = ssh_key_type_to_char(ssh_key_type(key.get()));
  unsigned char* hash = nullptr;
  size_t hash_len = 0;
  if (ssh_get_publickey_hash(key.get(), SSH_PUBLICKEY_HASH_SHA256, &hash, &hash_len) != 0) {
    return type;
  }
  char* fingerprint = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hash_len);
  std::string out = absl::StrCat(type, " ", fingerprint != nullptr ? fingerprint : "?");
  ssh_string_free_char(fingerprint);
  ssh_clean_pubkey_hash(&hash);
  return out;
}

absl::Status ChangedKey(ssh_session session, const HostKeyPolicy& p, const std::string& name) {
  return absl::FailedPreconditionError(absl::StrCat(
      "ssh: HOST KEY CHANGED for ", name, ": the server offers ", ServerKeyDescription(session),
      ", which does not match ", p.known_hosts_path,
      ". Refusing to connect. If the change is expected, remove the old entry (ssh-keygen -R '",
      name, "' -f ", p.known_hosts_path, ") and add the new key"));
}

absl::Status OtherTypeKey(ssh_session session, const HostKeyPolicy& p, const std::string& name) {
  return absl::FailedPreconditionError(absl::StrCat(
      "ssh: host key for ", name, " is of another type than recorded in ", p.known_hosts_path,
      ": the server offers ", ServerKeyDescription(session), ". Refusing to connect"));
}

// A key known_hosts has no entry for: recorded under accept_new, else refused.
absl::Status NewKey(ssh_session session, const HostKeyPolicy& p, const std::string& name) {
  if (!p.accept_new) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ssh: unknown host key for ", name, ": the server offers ", ServerKeyDescription(session),
        ", which is not in ", p.known_hosts_path, ". Verify the fingerprint and add it (ssh-keyscan -p ",
        p.port, " ", p.host, " >> ", p.known_hosts_path,
        "), or set SSH_ACCEPT_NEW_HOST_KEY=true to record it on first connect"));
  }
  if (ssh_session_update_known_hosts(session) != SSH_OK) {
    return absl::FailedPreconditionError(absl::StrCat("ssh: cannot record the host key of ", name,
                                                      " in ", p.known_hosts_path, ": ",
                                                      ssh_get_error(session)));
  }
  LogWarning(absl::StrCat("ssh: recorded new host key for ", name, " (",
                          ServerKeyDescription(session), ") in ", p.known_hosts_path,
                          " (SSH_ACCEPT_NEW_HOST_KEY=true)"));
  return absl::OkStatus();
}

}  // namespace

std::string KnownHostsName(const std::string& host, int port) {
  return port == 22 ? host : absl::StrCat("[", host, "]:", port);
}

absl::Status VerifyHostKey(ssh_session session, const HostKeyPolicy& policy) {
  const std::string name = KnownHostsName(policy.host, policy.port);
  switch (ssh_session_is_known_server(session)) {
    case SSH_KNOWN_HOSTS_OK:
      return absl::OkStatus();
    case SSH_KNOWN_HOSTS_CHANGED:
      return ChangedKey(session, policy, name);
    case SSH_KNOWN_HOSTS_OTHER:
      return OtherTypeKey(session, policy, name);
    case SSH_KNOWN_HOSTS_NOT_FOUND:
    case SSH_KNOWN_HOSTS_UNKNOWN:
      return NewKey(session, policy, name);
    case SSH_KNOWN_HOSTS_ERROR:
      break;
  }
  return absl::UnavailableError(
      absl::StrCat("ssh: cannot check the host key of ", name, ": ", ssh_get_error(session)));
}

}  // namespace chatgenius
