#include "server/store/server_info_store.h"

#include "server/common/status_macros.h"
#include "server/db/transaction.h"

namespace chatgenius {

ServerInfoStore::ServerInfoStore(ConnectionPool* pool) : pool_(pool) {
  pool_->RegisterStatement("server_version", "SELECT current_setting('server_version')");
}

absl::StatusOr<std::string> ServerInfoStore::PostgresVersion(const CallLimits& call) {
  return RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) {
    return absl::StatusOr<std::string>(txn.exec_prepared("server_version")[0][0].as<std::string>());
  });
}

}  // namespace chatgenius
