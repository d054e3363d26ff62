// process_tree.h
//
// What the fault drills need to know about processes: the children of a
// pid (from /proc) and a way to SIGKILL a whole tree — a database node as a
// host failure would take it, supervisor and postmaster and backends at once.
#ifndef CHATGENIUS_TESTS_SUPPORT_PROCESS_TREE_H_
#define CHATGENIUS_TESTS_SUPPORT_PROCESS_TREE_H_

#include <vector>

namespace chatgenius::testing {

// ChildrenOf lists the pids whose parent is `parent`.
std::vector<int> ChildrenOf(int parent);

// DescendantsOf lists every process below `root` (children first found,
// then theirs), not `root` itself.
std::vector<int> DescendantsOf(int root);

// KillTree stops `root` and then its descendants with SIGSTOP (so none
// forks or restarts another meanwhile), then SIGKILLs them all. Returns the
// number of processes killed.
int KillTree(int root);

}  // namespace chatgenius::testing

#endif  // CHATGENIUS_TESTS_SUPPORT_PROCESS_TREE_H_
