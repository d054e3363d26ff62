// Exposes our SSH tunnel (server/tunnel, the code the service's pool goes
// through) as a TCP endpoint on 127.0.0.1 so pgbench can be pointed at it,
// side by side with OpenSSH's `ssh -L`. Settings are the service's SSH_*
// and POSTGRES_REMOTE_* variables; prints the port, runs until SIGTERM.
#include <signal.h>

#include <cstdio>

#include "absl/flags/parse.h"
#include "server/app/component_settings.h"
#include "server/app/config.h"
#include "server/tunnel/ssh_tunnel.h"

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<chatgenius::Config> config =
      chatgenius::LoadConfig(chatgenius::FlagsThenEnvironment());
  if (!config.ok() || !config->ssh_enabled()) {
    std::fprintf(stderr, "config: %s\n",
                 config.ok() ? "SSH_HOST is required" : config.status().ToString().c_str());
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  chatgenius::TunnelSettings settings = chatgenius::TunnelSettingsFrom(*config);
  settings.local_tcp = true;
  settings.local_port = 0;
  settings.max_channels = 256;
  chatgenius::SshTunnel tunnel(settings);
  if (absl::Status s = tunnel.Start(); !s.ok()) {
    std::fprintf(stderr, "tunnel: %s\n", s.ToString().c_str());
    return 1;
  }
  if (!tunnel.WaitForState(chatgenius::TunnelState::kUp, absl::Seconds(10))) {
    std::fprintf(stderr, "tunnel did not come up\n");
    return 1;
  }
  std::printf("%d\n", tunnel.local_port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  tunnel.Stop();
  return 0;
}
