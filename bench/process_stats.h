// process_stats.h
//
// What the benches read about processes, theirs and the server's:
// CPU time from /proc/PID/stat and getrusage, resident memory from
// /proc/PID/status.
#ifndef CHATGENIUS_BENCH_PROCESS_STATS_H_
#define CHATGENIUS_BENCH_PROCESS_STATS_H_

#include <cstdint>

namespace chatgenius::bench {

// ProcessCpuSeconds is a process's user + system CPU time so far (0 if it
// cannot be read): fields 14 and 15 of /proc/PID/stat, in clock ticks.
double ProcessCpuSeconds(int pid);

// SelfCpuSeconds is this process's CPU time so far (every thread).
double SelfCpuSeconds();

// RssKiB is a process's resident set (VmRSS) in KiB, -1 if it cannot be read.
int64_t RssKiB(int pid);

}  // namespace chatgenius::bench

#endif  // CHATGENIUS_BENCH_PROCESS_STATS_H_
