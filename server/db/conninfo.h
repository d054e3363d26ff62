// conninfo.h
//
// BuildConnInfo: the libpq connection string of every session the service
// opens (pool, hub, sequencer, migrations). Every value is quoted (a
// password or socket path is taken literally, whatever it contains); a
// silent peer is noticed within `tcp_timeout` (keepalives from half of it,
// three probes, tcp_user_timeout; libpq ignores them on Unix sockets); and
// the session limits ride in `options`, so one stalled session cannot hold
// up every replica's writers: lock waits, transactions left open,
// statements (0 = no limit, as for migrations).
//
// Example:
//   ConnParams p;
//   p.host = "/run/postgresql";
//   p.dbname = "chatgenius";
//   p.user = "chat";
//   std::string conninfo = BuildConnInfo(p);
#ifndef CHATGENIUS_SERVER_DB_CONNINFO_H_
#define CHATGENIUS_SERVER_DB_CONNINFO_H_

#include <string>

#include "absl/time/time.h"

namespace chatgenius {

struct ConnParams {
  // Name, address, or a socket directory; or libpq's comma-separated list
  // of them (tried in order, with `target_session_attrs`).
  std::string host = "localhost";
  int port = 5432;
  std::string ports;  // with a host list: its comma-separated ports (replaces `port`)
  // libpq's: "read-write" or "primary" skips hosts that are standbys (or
  // read-only) and tries the next; "" = any host that answers.
  std::string target_session_attrs;
  std::string dbname;
  std::string user;
  std::string password;  // secret; empty: none (peer or trust auth)
  std::string sslmode = "prefer";
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration tcp_timeout = absl::Seconds(30);
  absl::Duration lock_timeout = absl::Seconds(10);
  absl::Duration idle_in_transaction_timeout = absl::Seconds(30);
  absl::Duration statement_timeout = absl::Seconds(30);
};

// BuildConnInfo returns the connection string; with `redact_password` the
// password reads "***" (for logs and status pages).
std::string BuildConnInfo(const ConnParams& params, bool redact_password = false);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_DB_CONNINFO_H_
