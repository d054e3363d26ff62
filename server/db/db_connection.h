// db_connection.h
//
// DbConnection: the pool's libpqxx connection, with a CancelTarget that can
// stop the statement it runs from another thread without touching the
// connection object.
//
// libpqxx 6.4's cancel_query() needs the connection alive for the whole
// call and blocks in PQcancel until the server answers, which a stopped
// server or a frozen tunnel never does. A CancelTarget holds libpq's own
// cancel key (PQgetCancel, captured by DbConnection's connection policy each
// time the session is made) and the session's socket, so the CancelWatcher
// can send a cancel from a thread it may abandon, and cut the socket when a
// cancel goes unanswered (shutdown(2) never blocks). The key stays valid
// after the connection closes; CutOff becomes a no-op then.
//
// Example:
//   DbConnection conn(conninfo);
//   std::shared_ptr<CancelTarget> target = conn.cancel_target();
//   // on another thread:
//   target->BeginCancel();
//   std::string error;
//   if (!target->SendCancel(&error)) target->CutOff();
#ifndef CHATGENIUS_SERVER_DB_DB_CONNECTION_H_
#define CHATGENIUS_SERVER_DB_DB_CONNECTION_H_

#include <memory>
#include <string>

#include <pqxx/pqxx>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chatgenius {

// CancelTarget stops one session's running statement. Thread-safe.
class CancelTarget {
 public:
  CancelTarget() = default;
  CancelTarget(const CancelTarget&) = delete;
  CancelTarget& operator=(const CancelTarget&) = delete;

  // BeginCancel announces a SendCancel (from now until it returns, a
  // cancel is in flight); call it while the connection's borrower is known
  // to hold it, then SendCancel, possibly on another thread.
  void BeginCancel();

  // SendCancel asks the server to cancel the session's running statement
  // and ends what BeginCancel began. libpq's PQcancel opens a short
  // connection of its own and blocks until the server has taken the request
  // (it has no timeout: callers that must not block run it on a thread they
  // can abandon). A request reaching an idle session is ignored by
  // PostgreSQL. False, with `error`, when there is no session or the request
  // could not be delivered.
  bool SendCancel(std::string* error);

  // CutOff shuts the session's socket down: a statement waiting on a silent
  // server fails at once (libpq reads end of file) and the connection is
  // broken. False when the session is already closed. Never blocks.
  bool CutOff();

  // ReusableAfter: the connection may be lent again — it was not cut off,
  // and no cancel request is still on its way (a late one would cancel the
  // next borrower's statement). Waits up to `settle` for cancels in flight
  // (a healthy server answers within a millisecond of the statement ending).
  bool ReusableAfter(absl::Duration settle) const;

 private:
  friend class DbConnectionPolicy;
  // Attach records a new session's key and socket; Detach forgets the
  // socket before libpq closes it (so CutOff never hits a reused number).
  void Attach(pqxx::internal::pq::PGconn* conn);
  void Detach();

  mutable absl::Mutex mu_;
  std::shared_ptr<void> key_ ABSL_GUARDED_BY(mu_);  // PGcancel, freed by PQfreeCancel
  int socket_ ABSL_GUARDED_BY(mu_) = -1;
  int cancels_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool cut_ ABSL_GUARDED_BY(mu_) = false;
};

// DbConnectionPolicy is connect_direct plus capturing the CancelTarget.
class DbConnectionPolicy : public pqxx::connect_direct {
 public:
  DbConnectionPolicy(const std::string& options, std::shared_ptr<CancelTarget> target)
      : connect_direct(options), target_(std::move(target)) {}
  handle do_startconnect(handle orig) override;
  handle do_dropconnect(handle orig) noexcept override;
  handle do_disconnect(handle orig) noexcept override;

 private:
  std::shared_ptr<CancelTarget> target_;
};

// DbConnection is a pqxx connection (connects in the constructor, like
// pqxx::connection) whose statements a CancelTarget can stop.
class DbConnection : public pqxx::connection_base {
 public:
  explicit DbConnection(const std::string& conninfo)
      : pqxx::connection_base(policy_),
        target_(std::make_shared<CancelTarget>()),
        policy_(conninfo, target_) {
    init();
  }
  ~DbConnection() noexcept { close(); }

  // cancel_target outlives the connection (shared).
  const std::shared_ptr<CancelTarget>& cancel_target() const { return target_; }

 private:
  std::shared_ptr<CancelTarget> target_;
  DbConnectionPolicy policy_;  // after target_: initialised from it
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_DB_DB_CONNECTION_H_
