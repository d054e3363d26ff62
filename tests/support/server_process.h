// server_process.h
//
// StartServerProcess: runs the real chatgenius-db-server binary (a data
// dependency of the test) as a child process configured like `config`,
// listening on 127.0.0.1:`port`, for tests about processes: several servers
// on one database, signals, exit codes.
#ifndef CHATGENIUS_TESTS_SUPPORT_SERVER_PROCESS_H_
#define CHATGENIUS_TESTS_SUPPORT_SERVER_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "server/app/config.h"

namespace chatgenius::testing {

// Returns the child's pid; `extra_env` adds or overrides variables.
pid_t StartServerProcess(const Config& config, int port,
                         const std::vector<std::pair<std::string, std::string>>& extra_env = {});

}  // namespace chatgenius::testing

#endif  // CHATGENIUS_TESTS_SUPPORT_SERVER_PROCESS_H_
