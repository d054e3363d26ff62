#include "tests/support/private_postgres.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/support/process_tree.h"

namespace chatgenius::testing {

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string PgBin() {
  const char* bin = std::getenv("PG_BIN");
  return bin != nullptr && *bin != '\0' ? bin : "/usr/lib/postgresql/15/bin";
}

std::string MakeClusterDirectory(const std::string& prefix) {
  // /tmp rather than TEST_TMPDIR: Bazel's output base under /root is not
  // reachable for user postgres.
  std::string templ = absl::StrCat("/tmp/", prefix, "-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return "";
  }
  if (geteuid() == 0) {
    // The directory and its parents must be reachable by user postgres.
    std::system(absl::StrCat("chown postgres ", templ, " && chmod 755 ", templ).c_str());
  }
  return templ;
}

bool PrivatePostgres::MakeDirectory() {
  bin_ = PgBin();
  dir_ = MakeClusterDirectory("cg-private-pg");
  if (dir_.empty()) return false;
  as_postgres_ = geteuid() == 0;
  port_ = FreeLoopbackPort();
  return true;
}

PrivatePostgres::PrivatePostgres(StandbyOf standby) {
  if (!MakeDirectory()) return;
  if (!Run(absl::StrCat(bin_, "/pg_basebackup -h 127.0.0.1 -p ", standby.primary.port(),
                        " -U postgres -D ", dir_, "/data -R -X stream -c fast > ", dir_,
                        "/basebackup.log 2>&1"))) {
    ADD_FAILURE() << "pg_basebackup failed; see " << dir_ << "/basebackup.log";
    port_ = 0;
    return;
  }
  if (!Start()) ADD_FAILURE() << "standby did not start; see " << dir_ << "/log";
}

bool PrivatePostgres::Promote() {
  return Run(absl::StrCat(bin_, "/pg_ctl -D ", dir_, "/data -w -t 30 promote > /dev/null"));
}

int PrivatePostgres::PostmasterPid() const {
  std::ifstream pidfile(absl::StrCat(dir_, "/data/postmaster.pid"));
  std::string first;
  int pid = 0;
  if (!std::getline(pidfile, first) || !absl::SimpleAtoi(first, &pid)) return 0;
  return pid;
}

PrivatePostgres::PrivatePostgres() {
  if (!MakeDirectory()) return;
  if (!Run(absl::StrCat(bin_, "/initdb -D ", dir_, "/data -U postgres --auth=trust -E UTF8 ", "> ",
                        dir_, "/initdb.log 2>&1"))) {
    ADD_FAILURE() << "initdb failed; see " << dir_ << "/initdb.log";
    port_ = 0;
    return;
  }
  if (!Start()) ADD_FAILURE() << "private PostgreSQL did not start; see " << dir_ << "/log";
}

PrivatePostgres::~PrivatePostgres() {
  if (dir_.empty()) return;
  Stop();
  std::system(absl::StrCat("rm -rf ", dir_).c_str());
}

bool PrivatePostgres::Run(const std::string& command) {
  std::string full = as_postgres_
                         ? absl::StrCat("/usr/sbin/runuser -u postgres -- sh -c '", command, "'")
                         : command;
  return std::system(full.c_str()) == 0;
}

Config PrivatePostgres::ServerConfig() const {
  Config config;
  config.listen_address = "127.0.0.1:0";
  config.postgres_host = "127.0.0.1";
  config.postgres_port = port_;
  config.postgres_db = "postgres";
  config.postgres_sslmode = "disable";
  config.health_probe_interval = absl::Milliseconds(100);
  config.pool_idle_check_after = absl::ZeroDuration();
  return config;
}

bool PrivatePostgres::Start() {
  return Run(absl::StrCat(bin_, "/pg_ctl -D ", dir_, "/data -l ", dir_, "/log -w -t 30 -o \"-k ",
                          dir_, " -h 127.0.0.1 -p ", port_, "\" start > /dev/null"));
}

bool PrivatePostgres::Stop() {
  return Run(absl::StrCat(bin_, "/pg_ctl -D ", dir_, "/data -m fast -w stop > /dev/null 2>&1"));
}

bool SignalProcess(int pid, int sig) { return pid > 0 && kill(pid, sig) == 0; }

bool PrivatePostgres::Signal(int sig) {
  const int postmaster = PostmasterPid();
  if (postmaster == 0) return false;
  if (sig == SIGSTOP) {
    // The postmaster first, so it forks no backend that escapes the stop.
    if (!SignalProcess(postmaster, sig)) return false;
    for (int child : ChildrenOf(postmaster)) SignalProcess(child, sig);
    return true;
  }
  for (int child : ChildrenOf(postmaster)) SignalProcess(child, sig);
  return SignalProcess(postmaster, sig);
}

bool PrivatePostgres::Freeze() { return Signal(SIGSTOP); }
bool PrivatePostgres::Thaw() { return Signal(SIGCONT); }

}  // namespace chatgenius::testing
