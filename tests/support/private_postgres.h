// private_postgres.h
//
// PrivatePostgres: a PostgreSQL cluster owned by one test, so the test may
// stop and restart it (fault drills) without disturbing the shared server
// of scripts/test.sh. initdb refuses to run as root, so when the test runs
// as root the cluster belongs to user `postgres` and commands go through
// runuser. Binaries come from PG_BIN (default /usr/lib/postgresql/15/bin).
// Tests using it need tags = ["local"] (runuser does not work inside
// Bazel's sandbox).
#ifndef CHATGENIUS_TESTS_SUPPORT_PRIVATE_POSTGRES_H_
#define CHATGENIUS_TESTS_SUPPORT_PRIVATE_POSTGRES_H_

#include <string>

#include "server/app/config.h"

namespace chatgenius::testing {

class PrivatePostgres {
 public:
  // Creates and starts a cluster on a free loopback port; ADD_FAILURE()s if
  // it cannot.
  PrivatePostgres();
  // Creates and starts a streaming standby of `primary`: pg_basebackup -R
  // (standby.signal and primary_conninfo written by it) on a free port.
  struct StandbyOf {
    const PrivatePostgres& primary;
  };
  explicit PrivatePostgres(StandbyOf standby);
  // Stops the cluster and removes its directory.
  ~PrivatePostgres();

  int port() const { return port_; }
  // ServerConfig: a server configuration for this cluster's `postgres`
  // database — loopback on a free port, no SSL, readiness probed every
  // 100 ms and pooled connections checked before every use (so a restart
  // shows at once).
  Config ServerConfig() const;
  bool Start();
  bool Stop();
  // Freeze stops every process of the cluster (SIGSTOP, postmaster first):
  // connections stay open and nothing answers — a hung host. Thaw resumes
  // them (SIGCONT). Both return false if the cluster's pids cannot be read.
  bool Freeze();
  bool Thaw();
  // Promote ends recovery on a standby (pg_ctl promote, waits).
  bool Promote();
  // PostmasterPid reads postmaster.pid (0 if it cannot).
  int PostmasterPid() const;

 private:
  // MakeDirectory sets up dir_ and port_ (false on failure).
  bool MakeDirectory();
  bool Run(const std::string& command);
  // Signal sends `sig` to the postmaster and its children.
  bool Signal(int sig);

  std::string bin_;
  std::string dir_;
  int port_ = 0;
  bool as_postgres_ = false;
};

// SignalProcess sends `sig` to `pid` (e.g. SIGSTOP to one backend, found
// with pg_backend_pid()); false if it could not.
bool SignalProcess(int pid, int sig);

// PgBin: PG_BIN, or /usr/lib/postgresql/15/bin.
std::string PgBin();

// MakeClusterDirectory makes a fresh /tmp/<prefix>-XXXXXX that user
// postgres owns when the test runs as root (initdb and pg_autoctl refuse
// root); "" after an ADD_FAILURE() if it cannot.
std::string MakeClusterDirectory(const std::string& prefix);

// FreeLoopbackPort returns a TCP port on 127.0.0.1 that was free a moment
// ago.
int FreeLoopbackPort();

}  // namespace chatgenius::testing

#endif  // CHATGENIUS_TESTS_SUPPORT_PRIVATE_POSTGRES_H_
