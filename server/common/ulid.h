// ulid.h
//
// ULIDs (https://github.com/ulid/spec): 128-bit ids written as 26 characters
// of Crockford base32 — 48 bits of milliseconds since the Unix epoch, then 80
// random bits. The existing ChatGenius data uses them, and because the time
// comes first, sorting ids sorts by creation time, which the keyset pages
// rely on.
#ifndef CHATGENIUS_SERVER_COMMON_ULID_H_
#define CHATGENIUS_SERVER_COMMON_ULID_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace chatgenius {

// kUlidLength is the length of a ULID's text form.
inline constexpr int kUlidLength = 26;

// NewUlid returns a fresh ULID for time `now`. Within one process, ids made
// in the same millisecond increase strictly (the random part is incremented,
// the spec's monotonic mode), so ids from one server never sort out of
// order. Thread-safe.
//
// Example:
//   std::string id = NewUlid();  // "01HF3Z9Q7KX0V4N8M2B6C5D1EA"
std::string NewUlid(absl::Time now = absl::Now());

// IsValidUlid reports whether `text` is a canonical ULID: 26 characters of
// upper-case Crockford base32 whose first character is at most '7' (the
// 48-bit time does not overflow).
bool IsValidUlid(absl::string_view text);

// UlidTime returns the millisecond timestamp encoded in a valid ULID.
absl::Time UlidTime(absl::string_view ulid);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_COMMON_ULID_H_
