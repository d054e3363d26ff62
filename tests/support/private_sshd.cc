#include "tests/support/private_sshd.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/private_postgres.h"

namespace chatgenius::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Run(const std::string& command) { return std::system(command.c_str()) == 0; }

bool PortOpen(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// Parent pid of every process, from /proc/<pid>/stat.
std::map<pid_t, pid_t> ParentMap() {
  std::map<pid_t, pid_t> parents;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return parents;
  while (dirent* e = readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
    size_t close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::vector<std::string> fields = absl::StrSplit(stat.substr(close_paren + 2), ' ');
    if (fields.size() > 1) parents[pid] = static_cast<pid_t>(std::atoi(fields[1].c_str()));
  }
  closedir(proc);
  return parents;
}

}  // namespace

PrivateSshd::PrivateSshd() {
  char templ[] = "/tmp/cg-sshd-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return;
  }
  dir_ = templ;
  chmod(dir_.c_str(), 0755);
  mkdir("/run/sshd", 0755);  // privilege separation directory
  for (const char* key : {"host_key", "client_key", "other_key", "other_host_key"}) {
    if (!Run(absl::StrCat("ssh-keygen -q -t ed25519 -N '' -C test -f ", dir_, "/", key))) {
      ADD_FAILURE() << "ssh-keygen failed for " << key;
      return;
    }
  }
  Run(absl::StrCat("cp ", dir_, "/client_key.pub ", dir_, "/authorized_keys"));
  port_ = FreeLoopbackPort();
  const std::string host = absl::StrCat("[127.0.0.1]:", port_);
  auto public_part = [&](const std::string& file) {
    std::vector<std::string> parts = absl::StrSplit(ReadFile(dir_ + "/" + file), ' ');
    return parts.size() >= 2 ? parts[0] + " " + parts[1] : std::string();
  };
  std::ofstream(known_hosts()) << host << " " << public_part("host_key.pub") << "\n";
  std::ofstream(wrong_known_hosts()) << host << " " << public_part("other_host_key.pub") << "\n";
  std::ofstream(empty_known_hosts()) << "";
  std::ofstream(dir_ + "/sshd_config") << "Port " << port_ << "\n"
                                       << "ListenAddress 127.0.0.1\n"
                                       << "HostKey " << dir_ << "/host_key\n"
                                       << "AuthorizedKeysFile " << dir_ << "/authorized_keys\n"
                                       << "PidFile " << dir_ << "/sshd.pid\n"
                                       << "PubkeyAuthentication yes\n"
                                       << "PasswordAuthentication no\n"
                                       << "KbdInteractiveAuthentication no\n"
                                       << "UsePAM no\n"
                                       << "PermitRootLogin prohibit-password\n"
                                       << "AllowTcpForwarding yes\n"
                                       << "StrictModes no\n"
                                       << "LogLevel ERROR\n";
  if (!Start()) ADD_FAILURE() << "sshd did not start; see " << dir_ << "/sshd.log";
}

PrivateSshd::~PrivateSshd() {
  if (dir_.empty()) return;
  Resume();
  Kill();
  Run("rm -rf " + dir_);
}

std::string PrivateSshd::user() const {
  passwd* pw = getpwuid(geteuid());
  return pw != nullptr ? pw->pw_name : "root";
}

bool PrivateSshd::Start() {
  pid_t pid = fork();
  if (pid == 0) {
    std::string log = dir_ + "/sshd.log";
    freopen(log.c_str(), "a", stderr);
    std::string config = dir_ + "/sshd_config";
    execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", config.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = pid;
  absl::Time until = absl::Now() + absl::Seconds(10);
  while (absl::Now() < until) {
    if (PortOpen(port_)) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) return false;  // exited
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

void PrivateSshd::SignalTree(int sig) {
  if (pid_ <= 0) return;
  std::map<pid_t, pid_t> parents = ParentMap();
  std::set<pid_t> tree = {pid_};
  bool grew = true;
  while (grew) {
    grew = false;
    for (const auto& [pid, parent] : parents) {
      if (tree.count(parent) && tree.insert(pid).second) grew = true;
    }
  }
  for (pid_t pid : tree) kill(pid, sig);
}

void PrivateSshd::Kill() {
  SignalTree(SIGKILL);
  if (pid_ > 0) waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void PrivateSshd::Pause() { SignalTree(SIGSTOP); }

void PrivateSshd::Resume() { SignalTree(SIGCONT); }

Config TunnelledTo(Config c, const PrivateSshd& sshd, const std::string& remote_host,
                   int remote_port) {
  c.postgres_host = "unused-when-tunnelled.invalid";
  c.ssh_host = "127.0.0.1";
  c.ssh_port = sshd.port();
  c.ssh_user = sshd.user();
  c.ssh_key_path = sshd.client_key();
  c.ssh_known_hosts = sshd.known_hosts();
  c.postgres_remote_host = remote_host;
  c.postgres_remote_port = remote_port;
  c.ssh_retry_delay = absl::Milliseconds(100);
  c.ssh_retry_max_delay = absl::Milliseconds(500);
  c.ssh_health_check_interval = absl::Seconds(1);
  return c;
}

Config TunnelledThrough(Config c, const PrivateSshd& sshd) {
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(std::getenv("TEST_POSTGRES_PORT"), &port));
  return TunnelledTo(std::move(c), sshd, std::getenv("TEST_POSTGRES_HOST"), port);
}

}  // namespace chatgenius::testing
