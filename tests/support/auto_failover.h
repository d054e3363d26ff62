// auto_failover.h
//
// AutoFailoverCluster: a real pg_auto_failover formation owned by one test —
// a monitor and two PostgreSQL nodes (a primary and its synchronous
// standby), each node run by its own pg_autoctl keeper, all on loopback
// ports under one /tmp directory. The engine, not the test, decides
// failovers; the test only breaks things (KillNode: the node's keeper,
// postmaster and backends SIGKILLed at once, as a host failure would).
//
// Timeouts are shortened for a test (and kept in the engine's safe order:
// an isolated primary demotes itself after network_partition_timeout 3 s,
// the monitor promotes only after primary_demote_timeout 5 s); health
// checks every second. pg_autoctl refuses to run as root, so as root
// everything runs as user `postgres` (runuser). Binaries: PG_BIN (default
// /usr/lib/postgresql/15/bin) and pg_autoctl on PATH. Tests need
// tags = ["local"].
#ifndef CHATGENIUS_TESTS_SUPPORT_AUTO_FAILOVER_H_
#define CHATGENIUS_TESTS_SUPPORT_AUTO_FAILOVER_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace chatgenius::testing {

class AutoFailoverCluster {
 public:
  struct NodeState {
    int port = 0;
    std::string current;   // the state the node reported
    std::string assigned;  // the state the monitor wants it in
  };

  // Creates and starts the monitor and both nodes, and waits until the
  // formation is primary + secondary; ADD_FAILURE()s if it cannot.
  explicit AutoFailoverCluster(const std::string& dbname);
  // Kills everything it started and removes the directory.
  ~AutoFailoverCluster();

  bool ok() const { return ok_; }
  std::vector<int> node_ports() const { return node_ports_; }

  // States asks the monitor (empty if it cannot be asked).
  std::vector<NodeState> States() const;
  // PrimaryPort is the node the monitor has as primary (or wait_primary:
  // a primary whose standby is gone) and that reported being it; 0 if none.
  int PrimaryPort() const;
  // WaitForPrimary waits until `primary_port` reports the primary (or
  // wait_primary) state the monitor assigned it.
  bool WaitForPrimary(int primary_port, absl::Duration timeout) const;

  // KillNode SIGKILLs the keeper of the node at `port` and everything it
  // runs. Returns false if the node is unknown or was not running.
  bool KillNode(int port);

  std::string Describe() const;  // the monitor's view, for failure messages

 private:
  bool Run(const std::string& command) const;
  int Spawn(const std::string& pgdata, const std::string& log);
  bool CreateNode(int index);

  std::string bin_;
  std::string dir_;
  std::string dbname_;
  int monitor_port_ = 0;
  std::vector<int> node_ports_;
  std::vector<int> keepers_;  // pids of the pg_autoctl run processes (monitor first)
  bool as_postgres_ = false;
  bool ok_ = false;
};

}  // namespace chatgenius::testing

#endif  // CHATGENIUS_TESTS_SUPPORT_AUTO_FAILOVER_H_
