// lsn.h
//
// Lsn: a PostgreSQL write-ahead-log position (pg_lsn), the read-your-writes
// token of the service. PostgreSQL prints one as two hexadecimal halves,
// "16/B374D848"; as a number it is the byte offset in the WAL, so positions
// compare as integers. 0 means "no position" (no write seen, no minimum).
//
// Example:
//   absl::StatusOr<Lsn> lsn = ParseLsn("16/B374D848");
//   std::string text = FormatLsn(*lsn);  // "16/B374D848"
#ifndef CHATGENIUS_SERVER_DB_LSN_H_
#define CHATGENIUS_SERVER_DB_LSN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chatgenius {

using Lsn = uint64_t;

// ParseLsn reads PostgreSQL's text form: 1-8 hex digits, '/', 1-8 hex
// digits. INVALID_ARGUMENT for anything else (the message quotes at most 40
// characters of the input).
absl::StatusOr<Lsn> ParseLsn(absl::string_view text);

// FormatLsn writes PostgreSQL's text form (upper-case hex, no padding).
std::string FormatLsn(Lsn lsn);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_DB_LSN_H_
