#include "server/db/conninfo.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace chatgenius {
namespace {

// Quotes a libpq connection-string value: single quotes, with backslash
// and quote escaped, so any password or path is taken literally.
std::string QuoteConnValue(const std::string& value) {
  return absl::StrCat("'", absl::StrReplaceAll(value, {{"\\", "\\\\"}, {"'", "\\'"}}), "'");
}

}  // namespace

std::string BuildConnInfo(const ConnParams& c, bool redact) {
  std::string out = absl::StrCat(
      "host=", QuoteConnValue(c.host), " port=", c.ports.empty() ? absl::StrCat(c.port) : c.ports,
      " dbname=", QuoteConnValue(c.dbname), " user=", QuoteConnValue(c.user),
      " sslmode=", c.sslmode,
      " connect_timeout=", std::max<int64_t>(1, absl::ToInt64Seconds(c.connect_timeout)),
      " application_name=chatgenius-db");
  // A silent peer (half-open connection, a stalled host) is noticed within
  // tcp_timeout (POSTGRES_TCP_TIMEOUT_MS): keepalives from half of it, three probes, and
  // unacknowledged data at most that long (ignored on Unix sockets, where
  // the SSH tunnel's own keepalive watches the bastion).
  const int64_t tcp_ms = absl::ToInt64Milliseconds(c.tcp_timeout);
  absl::StrAppend(&out, " keepalives=1 keepalives_idle=", std::max<int64_t>(1, tcp_ms / 2000),
                  " keepalives_interval=", std::max<int64_t>(1, tcp_ms / 6000),
                  " keepalives_count=3 tcp_user_timeout=", tcp_ms);
  // Session limits, so one stalled or slow session cannot hold up every
  // replica's writers: lock waits, transactions left open, statements.
  std::string options =
      absl::StrCat("-c lock_timeout=", absl::ToInt64Milliseconds(c.lock_timeout),
                   " -c idle_in_transaction_session_timeout=",
                   absl::ToInt64Milliseconds(c.idle_in_transaction_timeout),
                   " -c statement_timeout=", absl::ToInt64Milliseconds(c.statement_timeout));
  absl::StrAppend(&out, " options=", QuoteConnValue(options));
  if (!c.target_session_attrs.empty()) {
    absl::StrAppend(&out, " target_session_attrs=", c.target_session_attrs);
  }
  if (!c.password.empty()) {
    absl::StrAppend(&out, " password=", redact ? "***" : QuoteConnValue(c.password));
  }
  return out;
}

}  // namespace chatgenius
