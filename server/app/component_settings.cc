#include "server/app/component_settings.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace chatgenius {

TunnelSettings TunnelSettingsFrom(const Config& c) {
  TunnelSettings t;
  t.ssh_host = c.ssh_host;
  t.ssh_port = c.ssh_port;
  t.ssh_user = c.ssh_user;
  t.key_path = c.ssh_key_path;
  t.key_passphrase = c.ssh_key_passphrase;
  t.known_hosts_path = c.ssh_known_hosts;
  t.accept_new_host_key = c.ssh_accept_new_host_key;
  t.remote_host = c.postgres_remote_host;
  t.remote_port = c.postgres_remote_port;
  t.local_tcp = c.ssh_local_tcp;
  t.local_port = c.postgres_port;
  t.max_channels = c.ssh_max_channels;
  t.max_retries = c.ssh_max_retries;
  t.retry_delay = c.ssh_retry_delay;
  t.max_retry_delay = c.ssh_retry_max_delay;
  t.health_check_interval = c.ssh_health_check_interval;
  return t;
}

absl::StatusOr<std::string> ReadPem(const char* variable, const std::string& path) {
  std::ifstream in(path);
  std::stringstream pem;
  pem << in.rdbuf();
  if (!in || pem.str().find("-----BEGIN") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(variable, ": cannot read a PEM file at '", path, "'"));
  }
  return pem.str();
}

}  // namespace chatgenius
