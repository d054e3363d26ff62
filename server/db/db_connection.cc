#include "server/db/db_connection.h"

#include <sys/socket.h>

#include <postgresql/libpq-fe.h>

namespace chatgenius {

void CancelTarget::BeginCancel() {
  absl::MutexLock lock(&mu_);
  ++cancels_in_flight_;
}

bool CancelTarget::SendCancel(std::string* error) {
  std::shared_ptr<void> key;
  {
    absl::MutexLock lock(&mu_);
    key = key_;
  }
  char buffer[256] = {0};
  const bool sent =
      key != nullptr && PQcancel(static_cast<PGcancel*>(key.get()), buffer, sizeof(buffer)) == 1;
  if (!sent) *error = key == nullptr ? "no database session to cancel" : buffer;
  absl::MutexLock lock(&mu_);
  --cancels_in_flight_;
  return sent;
}

bool CancelTarget::ReusableAfter(absl::Duration settle) const {
  absl::MutexLock lock(&mu_);
  auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return cancels_in_flight_ == 0; };
  mu_.AwaitWithTimeout(absl::Condition(&settled), settle);
  return !cut_ && cancels_in_flight_ == 0;
}

bool CancelTarget::CutOff() {
  absl::MutexLock lock(&mu_);
  if (socket_ < 0) return false;
  cut_ = true;
  return ::shutdown(socket_, SHUT_RDWR) == 0;
}

void CancelTarget::Attach(pqxx::internal::pq::PGconn* conn) {
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) return;
  std::shared_ptr<void> key(PQgetCancel(conn), [](void* k) {
    if (k != nullptr) PQfreeCancel(static_cast<PGcancel*>(k));
  });
  absl::MutexLock lock(&mu_);
  if (key.get() != nullptr) key_ = std::move(key);
  socket_ = PQsocket(conn);
}

void CancelTarget::Detach() {
  absl::MutexLock lock(&mu_);
  socket_ = -1;
}

// connect_direct connects in do_startconnect (its do_completeconnect has
// nothing left to do), so the session is attached there, once.
DbConnectionPolicy::handle DbConnectionPolicy::do_startconnect(handle orig) {
  handle conn = connect_direct::do_startconnect(orig);
  target_->Attach(conn);
  return conn;
}

DbConnectionPolicy::handle DbConnectionPolicy::do_dropconnect(handle orig) noexcept {
  target_->Detach();
  return connect_direct::do_dropconnect(orig);
}

DbConnectionPolicy::handle DbConnectionPolicy::do_disconnect(handle orig) noexcept {
  target_->Detach();
  return connect_direct::do_disconnect(orig);
}

}  // namespace chatgenius
