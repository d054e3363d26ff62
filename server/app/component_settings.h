// component_settings.h
//
// What the server and the operator CLI both derive from a Config without
// starting a server: the SSH tunnel's settings, and PEM files named by
// settings. (The CLI links this, not the whole server.)
#ifndef CHATGENIUS_SERVER_APP_COMPONENT_SETTINGS_H_
#define CHATGENIUS_SERVER_APP_COMPONENT_SETTINGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/app/config.h"
#include "server/tunnel/ssh_tunnel.h"

namespace chatgenius {

// TunnelSettingsFrom maps the SSH_* settings (and POSTGRES_PORT as the
// local endpoint) to the tunnel's.
TunnelSettings TunnelSettingsFrom(const Config& config);

// ReadPem reads a PEM file; INVALID_ARGUMENT naming `variable` (the setting
// or flag) and the path if it cannot be read or holds no PEM block.
absl::StatusOr<std::string> ReadPem(const char* variable, const std::string& path);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_APP_COMPONENT_SETTINGS_H_
