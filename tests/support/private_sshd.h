// private_sshd.h
//
// PrivateSshd: a real OpenSSH sshd on 127.0.0.1 owned by one test, with
// keys generated at test time: a host key, an authorized client key, a
// second client key that is NOT authorized, and a known_hosts file that
// trusts the host key. The test can kill, stop (SIGSTOP), continue and
// restart the daemon together with its per-connection children. Requires
// root (sshd's privilege separation) and /usr/sbin/sshd; tests using it
// need tags = ["local"].
#ifndef CHATGENIUS_TESTS_SUPPORT_PRIVATE_SSHD_H_
#define CHATGENIUS_TESTS_SUPPORT_PRIVATE_SSHD_H_

#include <sys/types.h>

#include <string>

#include "server/app/config.h"

namespace chatgenius::testing {

class PrivateSshd {
 public:
  // Generates keys and starts sshd; ADD_FAILURE()s if it cannot.
  PrivateSshd();
  // Kills sshd and its children and removes the directory.
  ~PrivateSshd();

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string client_key() const { return dir_ + "/client_key"; }
  std::string unauthorized_key() const { return dir_ + "/other_key"; }
  std::string known_hosts() const { return dir_ + "/known_hosts"; }
  // A known_hosts file that lists a different key for this host.
  std::string wrong_known_hosts() const { return dir_ + "/wrong_known_hosts"; }
  std::string empty_known_hosts() const { return dir_ + "/empty_known_hosts"; }
  // The user sshd accepts the client key for (the test's own user).
  std::string user() const;

  // Start launches sshd (again) with the same keys and port and waits until
  // it accepts connections.
  bool Start();
  // Kill sends SIGKILL to sshd and every process it spawned.
  void Kill();
  // Pause / Resume send SIGSTOP / SIGCONT to the same tree.
  void Pause();
  void Resume();

 private:
  void SignalTree(int sig);

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// TunnelledTo returns `base` changed to reach PostgreSQL at
// remote_host:remote_port (as sshd's host sees it) only through `sshd`,
// with short retry delays.
Config TunnelledTo(Config base, const PrivateSshd& sshd, const std::string& remote_host,
                   int remote_port);

// TunnelledThrough is TunnelledTo the test's PostgreSQL
// (TEST_POSTGRES_HOST/PORT).
Config TunnelledThrough(Config base, const PrivateSshd& sshd);

}  // namespace chatgenius::testing

#endif  // CHATGENIUS_TESTS_SUPPORT_PRIVATE_SSHD_H_
