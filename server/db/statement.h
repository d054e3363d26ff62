// statement.h
//
// Statement: one named SQL statement, defined once as a constant beside the
// code that runs it (as userver's `Query`), and Exec/Exec1, the only way the
// stores run one. A statement is prepared on the transaction's connection
// the first time that connection runs it (libpqxx keeps the definitions per
// connection and sends PREPARE on first execution), so no store depends on
// another having registered anything on a shared pool, and a dedicated
// connection (the sequencer's, the hub's) needs no set-up list either.
//
// Every Statement constructed is listed in a process-wide catalog (the
// stores' constants are namespace-scope objects: listed before main). A name
// given to two Statements is a conflict — one would run the other's SQL on
// any connection that saw the other first (libpqxx refuses the second
// definition at run time) — so CheckStatementCatalog reports it and the
// server refuses to start.
//
// Example (namespace scope in a store's .cc):
//   const Statement kUserGet("user_get", "SELECT ... FROM users WHERE id = $1");
//   ...
//   pqxx::result r = Exec(txn, kUserGet, id);
#ifndef CHATGENIUS_SERVER_DB_STATEMENT_H_
#define CHATGENIUS_SERVER_DB_STATEMENT_H_

#include <string>
#include <utility>

#include <pqxx/pqxx>

#include "absl/status/status.h"

namespace chatgenius {

class Statement {
 public:
  // Lists the statement in the catalog. Define each one once, at namespace
  // scope in the .cc of the code that runs it.
  Statement(std::string name, std::string sql);
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  const std::string& name() const { return name_; }
  const std::string& sql() const { return sql_; }

  // PrepareOn declares the statement on `conn` (once declared there, a map
  // lookup and a compare of the definition: libpqxx 6.4 keeps its
  // "declared?" check private); PostgreSQL prepares it on first execution.
  void PrepareOn(pqxx::connection_base& conn) const { conn.prepare(name_, sql_); }

 private:
  const std::string name_;
  const std::string sql_;
};

// CheckStatementCatalog: OK, or FAILED_PRECONDITION naming every statement
// name defined more than once (and any empty name).
[[nodiscard]] absl::Status CheckStatementCatalog();

// Exec runs `statement` with `args` in `txn` (prepared on first use on the
// connection). Throws what libpqxx throws; the transaction wrappers turn it
// into a status.
template <typename... Args>
pqxx::result Exec(pqxx::transaction_base& txn, const Statement& statement, Args&&... args) {
  statement.PrepareOn(txn.conn());
  return txn.exec_prepared(statement.name(), std::forward<Args>(args)...);
}

// Exec1 is Exec for a statement that returns exactly one row
// (pqxx::unexpected_rows otherwise).
template <typename... Args>
pqxx::row Exec1(pqxx::transaction_base& txn, const Statement& statement, Args&&... args) {
  statement.PrepareOn(txn.conn());
  return txn.exec_prepared1(statement.name(), std::forward<Args>(args)...);
}

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_DB_STATEMENT_H_
