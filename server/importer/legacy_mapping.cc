#include "server/importer/legacy_mapping.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/ulid.h"

namespace chatgenius {

namespace {
constexpr size_t kNameBase = 72;
constexpr size_t kNameMax = 80;
}  // namespace

std::optional<std::string> CanonicalId(absl::string_view legacy_id) {
  std::string id = absl::AsciiStrToUpper(legacy_id);
  if (!IsValidUlid(id)) return std::nullopt;
  return id;
}

std::string NameFrom(absl::string_view legacy, bool keep_dots, absl::string_view fallback) {
  std::string out;
  bool pending_separator = false;
  for (char raw : legacy) {
    const char c = absl::ascii_tolower(static_cast<unsigned char>(raw));
    const bool word = absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                      (c == '_' && !out.empty()) || (keep_dots && c == '.' && !out.empty());
    if (!word) {
      pending_separator = !out.empty();
      continue;
    }
    if (pending_separator) out.push_back('-');
    pending_separator = false;
    out.push_back(c);
    if (out.size() >= kNameBase) break;
  }
  while (!out.empty() && (out.back() == '.' || out.back() == '_' || out.back() == '-')) {
    out.pop_back();
  }
  return out.empty() ? std::string(fallback) : out;
}

std::string FallbackName(absl::string_view prefix, absl::string_view id) {
  return absl::StrCat(prefix, "-",
                      absl::AsciiStrToLower(id.substr(id.size() > 10 ? id.size() - 10 : 0)));
}

std::string WithSuffix(const std::string& base, int n) {
  const std::string suffix = absl::StrCat("-", n);
  return base.substr(0, kNameMax - suffix.size()) + suffix;
}

std::string PlaceholderEmail(absl::string_view user_id) {
  return absl::StrCat("legacy-", absl::AsciiStrToLower(user_id), "@import.invalid");
}

int RoleRank(absl::string_view role) {
  if (role == "owner") return 3;
  if (role == "admin") return 2;
  if (role == "member") return 1;
  return 0;
}

std::string DmKey(std::vector<std::string> member_ids) {
  std::sort(member_ids.begin(), member_ids.end());
  member_ids.erase(std::unique(member_ids.begin(), member_ids.end()), member_ids.end());
  return absl::StrJoin(member_ids, ",");
}

std::string TruncateUtf8(absl::string_view text, int max_chars) {
  size_t i = 0;
  for (int chars = 0; i < text.size() && chars < max_chars; ++chars) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    i += lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  }
  return std::string(text.substr(0, std::min(i, text.size())));
}

}  // namespace chatgenius
