#include "server/db/lsn.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace chatgenius {

namespace {

bool ParseHalf(absl::string_view digits, uint32_t* out) {
  if (digits.empty() || digits.size() > 8) return false;
  for (char c : digits) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleHexAtoi(digits, out);
}

}  // namespace

absl::StatusOr<Lsn> ParseLsn(absl::string_view text) {
  const size_t slash = text.find('/');
  uint32_t high = 0;
  uint32_t low = 0;
  if (slash == absl::string_view::npos || !ParseHalf(text.substr(0, slash), &high) ||
      !ParseHalf(text.substr(slash + 1), &low)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a WAL position must look like '16/B374D848', got '",
                     absl::CEscape(text.substr(0, 40)), text.size() > 40 ? "...'" : "'"));
  }
  return (static_cast<Lsn>(high) << 32) | low;
}

std::string FormatLsn(Lsn lsn) {
  return absl::StrFormat("%X/%X", static_cast<uint32_t>(lsn >> 32), static_cast<uint32_t>(lsn));
}

}  // namespace chatgenius
