// server_info_store.h
//
// ServerInfoStore: the SQL behind AdminService.GetServerInfo and the
// readiness probe — facts about the database itself rather than a model.
#ifndef CHATGENIUS_SERVER_STORE_SERVER_INFO_STORE_H_
#define CHATGENIUS_SERVER_STORE_SERVER_INFO_STORE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/db/call_limits.h"
#include "server/db/connection_pool.h"

namespace chatgenius {

class ServerInfoStore {
 public:
  explicit ServerInfoStore(ConnectionPool* pool);

  // PostgresVersion returns the server_version setting, e.g. "15.18".
  [[nodiscard]] absl::StatusOr<std::string> PostgresVersion(const CallLimits& call);

 private:
  ConnectionPool* const pool_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_STORE_SERVER_INFO_STORE_H_
