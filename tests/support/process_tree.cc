#include "tests/support/process_tree.h"

#include <dirent.h>
#include <signal.h>

#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace chatgenius::testing {

std::vector<int> ChildrenOf(int parent) {
  std::vector<int> children;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return children;
  while (dirent* entry = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
    std::string line;
    if (!std::getline(stat, line)) continue;
    // pid (comm) state ppid ...: comm may hold spaces; parse after ')'.
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::vector<std::string> fields = absl::StrSplit(line.substr(close + 2), ' ');
    int ppid = 0;
    if (fields.size() > 1 && absl::SimpleAtoi(fields[1], &ppid) && ppid == parent) {
      children.push_back(pid);
    }
  }
  closedir(proc);
  return children;
}

std::vector<int> DescendantsOf(int root) {
  std::vector<int> out;
  std::vector<int> frontier = {root};
  while (!frontier.empty()) {
    std::vector<int> next;
    for (int pid : frontier) {
      for (int child : ChildrenOf(pid)) {
        out.push_back(child);
        next.push_back(child);
      }
    }
    frontier = std::move(next);
  }
  return out;
}

int KillTree(int root) {
  if (root <= 0) return 0;
  // Frozen top-down first: a supervisor cannot restart what is killed.
  std::vector<int> all = {root};
  if (kill(root, SIGSTOP) != 0) return 0;
  for (int pid : DescendantsOf(root)) {
    kill(pid, SIGSTOP);
    all.push_back(pid);
  }
  int killed = 0;
  for (int pid : all) killed += kill(pid, SIGKILL) == 0 ? 1 : 0;
  return killed;
}

}  // namespace chatgenius::testing
