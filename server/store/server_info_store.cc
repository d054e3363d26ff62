#include "server/store/server_info_store.h"

#include "server/common/status_macros.h"
#include "server/db/statement.h"
#include "server/db/transaction.h"

namespace chatgenius {

namespace {

const Statement kServerVersion("server_version", "SELECT current_setting('server_version')");

}  // namespace

ServerInfoStore::ServerInfoStore(ConnectionPool* pool) : pool_(pool) {}

absl::StatusOr<std::string> ServerInfoStore::PostgresVersion(const CallLimits& call) {
  return RunReadOnly(*pool_, call, [&](pqxx::transaction_base& txn) {
    return absl::StatusOr<std::string>(Exec(txn, kServerVersion)[0][0].as<std::string>());
  });
}

}  // namespace chatgenius
