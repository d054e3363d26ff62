#include "tests/support/server_process.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace chatgenius::testing {

pid_t StartServerProcess(const Config& c, int port,
                         const std::vector<std::pair<std::string, std::string>>& extra_env) {
  const std::string binary =
      std::string(std::getenv("TEST_SRCDIR")) + "/chatgenius_db/server/chatgenius-db-server";
  pid_t pid = fork();
  if (pid != 0) return pid;
  setenv("LISTEN_ADDRESS", absl::StrCat("127.0.0.1:", port).c_str(), 1);
  setenv("POSTGRES_HOST", c.postgres_host.c_str(), 1);
  setenv("POSTGRES_PORT", std::to_string(c.postgres_port).c_str(), 1);
  setenv("POSTGRES_DB", c.postgres_db.c_str(), 1);
  setenv("POSTGRES_USER", c.postgres_user.c_str(), 1);
  setenv("POSTGRES_SSLMODE", "disable", 1);
  setenv("HEALTH_PROBE_INTERVAL_MS", "100", 1);
  for (const auto& [name, value] : extra_env) setenv(name.c_str(), value.c_str(), 1);
  execl(binary.c_str(), binary.c_str(), static_cast<char*>(nullptr));
  _exit(127);
}

}  // namespace chatgenius::testing
