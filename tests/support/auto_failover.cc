#include "tests/support/auto_failover.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/private_postgres.h"
#include "tests/support/process_tree.h"

namespace chatgenius::testing {

namespace {

std::string MonitorUri(int port) {
  return absl::StrCat("postgres://autoctl_node@127.0.0.1:", port,
                      "/pg_auto_failover?sslmode=disable");
}

}  // namespace

AutoFailoverCluster::AutoFailoverCluster(const std::string& dbname) : dbname_(dbname) {
  bin_ = PgBin();
  dir_ = MakeClusterDirectory("cg-autofailover");
  if (dir_.empty()) return;
  as_postgres_ = geteuid() == 0;
  monitor_port_ = FreeLoopbackPort();
  if (!Run(absl::StrCat("pg_autoctl create monitor --pgdata ", dir_, "/monitor --pgport ",
                        monitor_port_, " --hostname 127.0.0.1 --auth trust --no-ssl > ", dir_,
                        "/monitor-create.log 2>&1"))) {
    ADD_FAILURE() << "pg_autoctl create monitor failed; see " << dir_ << "/monitor-create.log";
    return;
  }
  keepers_.push_back(Spawn(dir_ + "/monitor", dir_ + "/monitor.log"));
  // Faster health checks and failover than production defaults (5 s / 20 s
  // / 30 s), in the same order.
  bool tuned = false;
  for (int attempt = 0; attempt < 100 && !tuned; ++attempt) {
    try {
      pqxx::connection monitor(absl::StrCat("host=127.0.0.1 port=", monitor_port_,
                                            " dbname=pg_auto_failover user=postgres"));
      pqxx::nontransaction txn(monitor);
      for (const char* setting : {"pgautofailover.health_check_period = 1000",
                                  "pgautofailover.health_check_timeout = 1000",
                                  "pgautofailover.health_check_retry_delay = 500",
                                  "pgautofailover.node_considered_unhealthy_timeout = 3000",
                                  "pgautofailover.primary_demote_timeout = 5000"}) {
        txn.exec(absl::StrCat("ALTER SYSTEM SET ", setting));
      }
      txn.exec("SELECT pg_reload_conf()");
      tuned = true;
    } catch (const std::exception&) {
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  if (!tuned) {
    ADD_FAILURE() << "the monitor did not come up; see " << dir_ << "/monitor.log";
    return;
  }
  for (int i = 0; i < 2; ++i) {
    if (!CreateNode(i)) return;
  }
  ok_ = WaitForPrimary(node_ports_[0], absl::Seconds(90));
  if (!ok_) ADD_FAILURE() << "the formation did not settle: " << Describe();
}

bool AutoFailoverCluster::CreateNode(int index) {
  const int port = FreeLoopbackPort();
  const std::string pgdata = absl::StrCat(dir_, "/node", index + 1);
  const std::string log = absl::StrCat(pgdata, "-create.log");
  if (!Run(absl::StrCat("pg_autoctl create postgres --pgdata ", pgdata, " --pgport ", port,
                        " --hostname 127.0.0.1 --auth trust --no-ssl --dbname ", dbname_,
                        " --pgctl ", bin_, "/pg_ctl --monitor '", MonitorUri(monitor_port_), "' > ",
                        log, " 2>&1 && pg_autoctl config set --pgdata ", pgdata,
                        " timeout.network_partition_timeout 3 >> ", log, " 2>&1"))) {
    ADD_FAILURE() << "pg_autoctl create postgres failed; see " << log;
    return false;
  }
  node_ports_.push_back(port);
  keepers_.push_back(Spawn(pgdata, pgdata + ".log"));
  // One node at a time: the second is made from the first's backup.
  const absl::Time end = absl::Now() + absl::Seconds(90);
  while (absl::Now() < end) {
    std::vector<NodeState> states = States();
    bool settled = static_cast<int>(states.size()) == index + 1;
    for (const NodeState& s : states) {
      settled = settled && s.current == s.assigned &&
                (s.current == "single" || s.current == "primary" || s.current == "secondary");
    }
    if (settled) return true;
    absl::SleepFor(absl::Milliseconds(200));
  }
  ADD_FAILURE() << "node " << index + 1 << " did not join: " << Describe();
  return false;
}

AutoFailoverCluster::~AutoFailoverCluster() {
  for (size_t i = 0; i < node_ports_.size(); ++i) KillNode(node_ports_[i]);
  if (!keepers_.empty() && KillTree(keepers_[0]) > 0) waitpid(keepers_[0], nullptr, 0);
  // The monitor's postmaster, detached like the nodes'.
  std::ifstream pidfile(absl::StrCat(dir_, "/monitor/postmaster.pid"));
  std::string first;
  int monitor = 0;
  if (std::getline(pidfile, first) && absl::SimpleAtoi(first, &monitor)) KillTree(monitor);
  if (!dir_.empty()) std::system(absl::StrCat("rm -rf ", dir_).c_str());
}

bool AutoFailoverCluster::Run(const std::string& command) const {
  const std::string path = absl::StrCat("PATH=", bin_, ":/usr/bin:/bin");
  std::string full = as_postgres_ ? absl::StrCat("/usr/sbin/runuser -u postgres -- env ", path,
                                                 " sh -c \"", command, "\"")
                                  : absl::StrCat(path, " sh -c \"", command, "\"");
  return std::system(full.c_str()) == 0;
}

int AutoFailoverCluster::Spawn(const std::string& pgdata, const std::string& log) {
  const std::string path = absl::StrCat("PATH=", bin_, ":/usr/bin:/bin");
  const pid_t pid = fork();
  if (pid != 0) return pid;
  // Child: its own process group, output to the log, then the keeper.
  setpgid(0, 0);
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
  }
  if (as_postgres_) {
    execl("/usr/sbin/runuser", "runuser", "-u", "postgres", "--", "/usr/bin/env", path.c_str(),
          "pg_autoctl", "run", "--pgdata", pgdata.c_str(), static_cast<char*>(nullptr));
  } else {
    execl("/usr/bin/env", "env", path.c_str(), "pg_autoctl", "run", "--pgdata", pgdata.c_str(),
          static_cast<char*>(nullptr));
  }
  _exit(127);
}

std::vector<AutoFailoverCluster::NodeState> AutoFailoverCluster::States() const {
  std::vector<NodeState> out;
  try {
    pqxx::connection monitor(absl::StrCat("host=127.0.0.1 port=", monitor_port_,
                                          " dbname=pg_auto_failover user=postgres "
                                          "connect_timeout=2"));
    pqxx::nontransaction txn(monitor);
    for (const pqxx::row& row :
         txn.exec("SELECT nodeport, current_group_state::text, assigned_group_state::text "
                  "FROM pgautofailover.current_state('default') ORDER BY nodeport")) {
      out.push_back({row[0].as<int>(), row[1].c_str(), row[2].c_str()});
    }
  } catch (const std::exception&) {
    out.clear();
  }
  return out;
}

int AutoFailoverCluster::PrimaryPort() const {
  // A dead node's last report stays "primary": what counts is a node the
  // monitor wants primary that says it is.
  for (const NodeState& s : States()) {
    if (s.current == s.assigned && (s.current == "primary" || s.current == "wait_primary")) {
      return s.port;
    }
  }
  return 0;
}

bool AutoFailoverCluster::WaitForPrimary(int primary_port, absl::Duration timeout) const {
  const absl::Time end = absl::Now() + timeout;
  while (absl::Now() < end) {
    bool settled = false;
    for (const NodeState& s : States()) {
      if (s.port == primary_port && s.current == s.assigned &&
          (s.current == "primary" || s.current == "wait_primary")) {
        settled = true;
      }
    }
    if (settled) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

bool AutoFailoverCluster::KillNode(int port) {
  for (size_t i = 0; i < node_ports_.size(); ++i) {
    if (node_ports_[i] != port) continue;
    const int pid = keepers_[i + 1];
    // The postmaster is not the keeper's descendant (pg_ctl detaches it):
    // stop the keeper first so it restarts nothing, then both trees.
    if (pid <= 0 || kill(pid, SIGSTOP) != 0) return false;
    int postmaster = 0;
    std::ifstream pidfile(absl::StrCat(dir_, "/node", i + 1, "/postmaster.pid"));
    std::string first;
    if (std::getline(pidfile, first)) absl::SimpleAtoi(first, &postmaster);
    KillTree(pid);
    KillTree(postmaster);
    waitpid(pid, nullptr, 0);
    keepers_[i + 1] = 0;
    return true;
  }
  return false;
}

std::string AutoFailoverCluster::Describe() const {
  std::vector<std::string> parts;
  for (const NodeState& s : States()) {
    parts.push_back(absl::StrCat(s.port, ": ", s.current, " -> ", s.assigned));
  }
  return parts.empty() ? "(monitor unreachable)" : absl::StrJoin(parts, ", ");
}

}  // namespace chatgenius::testing
