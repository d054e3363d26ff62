#include "server/common/validation.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/common/ulid.h"
#include "server/metrics/limit_hits.h"

namespace chatgenius {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

bool HasControlOrSpace(absl::string_view value) {
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return true;
  }
  return false;
}

}  // namespace

int Utf8Length(absl::string_view value) {
  int count = 0;
  size_t i = 0;
  while (i < value.size()) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    int extra;
    uint32_t cp;
    if (c < 0x80) {
      extra = 0;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return -1;
    }
    if (i + extra >= value.size()) return -1;  // truncated sequence
    for (int k = 1; k <= extra; ++k) {
      unsigned char cc = static_cast<unsigned char>(value[i + k]);
      if ((cc & 0xC0) != 0x80) return -1;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Reject overlong encodings, UTF-16 surrogates and out-of-range values,
    // which PostgreSQL would refuse later with a less helpful error.
    static constexpr uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[extra] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return -1;
    }
    i += extra + 1;
    ++count;
  }
  return count;
}

absl::Status ValidateId(absl::string_view field, absl::string_view value, bool required) {
  if (value.empty()) {
    return required ? Invalid(field, "is required") : absl::OkStatus();
  }
  if (!IsValidUlid(value)) {
    return Invalid(field, "must be a ULID (26 characters of upper-case Crockford base32)");
  }
  return absl::OkStatus();
}

absl::Status ValidateText(absl::string_view field, absl::string_view value, int min_chars,
                          int max_chars) {
  if (absl::StrContains(value, '\0')) return Invalid(field, "must not contain NUL characters");
  int length = Utf8Length(value);
  if (length < 0) return Invalid(field, "must be valid UTF-8");
  if (length < min_chars) {
    return min_chars == 1
               ? Invalid(field, "is required")
               : Invalid(field, absl::StrCat("must be at least ", min_chars, " characters"));
  }
  if (length > max_chars) {
    return Invalid(field, absl::StrCat("must be at most ", max_chars, " characters, got ", length));
  }
  return absl::OkStatus();
}

absl::Status ValidateEmail(absl::string_view field, absl::string_view value) {
  if (absl::Status s = ValidateText(field, value, 3, 254); !s.ok()) return s;
  if (HasControlOrSpace(value)) return Invalid(field, "must not contain spaces");
  std::vector<absl::string_view> parts = absl::StrSplit(value, '@');
  if (parts.size() != 2) return Invalid(field, "must contain exactly one '@'");
  if (parts[0].empty()) return Invalid(field, "needs a local part before '@'");
  for (absl::string_view label : absl::StrSplit(parts[1], '.')) {
    if (label.empty()) return Invalid(field, "needs a domain like example.com after '@'");
  }
  return absl::OkStatus();
}

absl::Status ValidateUsername(absl::string_view field, absl::string_view value) {
  if (value.empty()) return Invalid(field, "is required");
  if (value.size() > 80) return Invalid(field, "must be at most 80 characters");
  auto allowed = [](char c, bool first) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
    return !first && (c == '.' || c == '_' || c == '-');
  };
  for (size_t i = 0; i < value.size(); ++i) {
    if (!allowed(value[i], i == 0)) {
      return Invalid(field,
                     "must be lowercase letters, digits, '.', '_' or '-', starting with a "
                     "letter or digit");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateSubject(absl::string_view field, absl::string_view value, bool required) {
  if (value.empty()) return required ? Invalid(field, "is required") : absl::OkStatus();
  if (absl::Status s = ValidateText(field, value, 1, 255); !s.ok()) return s;
  for (char c : value) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return Invalid(field, "must not contain control characters");
  }
  return absl::OkStatus();
}

absl::Status ValidateChannelName(absl::string_view field, absl::string_view value) {
  if (value.empty()) return Invalid(field, "is required");
  if (value.size() > 80) return Invalid(field, "must be at most 80 characters");
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '-' || c == '_'));
    if (!ok) {
      return Invalid(field,
                     "must be lowercase letters, digits, '-' or '_' (no spaces), starting with a "
                     "letter or digit");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateStorageUrl(absl::string_view field, absl::string_view value,
                                const std::set<std::string>& schemes) {
  if (value.empty()) return Invalid(field, "is required");
  if (absl::Status s = ValidateText(field, value, 1, 2048); !s.ok()) return s;
  if (HasControlOrSpace(value)) return Invalid(field, "must not contain spaces");
  size_t colon = value.find("://");
  bool scheme_ok = colon != absl::string_view::npos && colon > 0 &&
                   absl::ascii_isalpha(static_cast<unsigned char>(value[0]));
  for (size_t i = 0; scheme_ok && i < colon; ++i) {
    char c = value[i];
    scheme_ok =
        absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  }
  if (!scheme_ok || colon + 3 >= value.size()) {
    return Invalid(field, "must be a URL like https://host/path or s3://bucket/key");
  }
  if (schemes.count(absl::AsciiStrToLower(value.substr(0, colon))) == 0) {
    LimitHits::Count(Limit::kStorageUrlScheme);
    return Invalid(field, absl::StrCat("the scheme must be one of ", absl::StrJoin(schemes, ", "),
                                       " (STORAGE_URL_SCHEMES)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateSha256Hex(absl::string_view field, absl::string_view value) {
  if (value.size() != 64) return Invalid(field, "must be 64 lower-case hex digits");
  for (char c : value) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return Invalid(field, "must be 64 lower-case hex digits");
    }
  }
  return absl::OkStatus();
}

namespace {

// RFC 6838 restricted-name: 1..127 of alnum and !#$&-^_.+, alnum first.
bool IsMediaName(absl::string_view t) {
  if (t.empty() || t.size() > 127 || !absl::ascii_isalnum(static_cast<unsigned char>(t[0]))) {
    return false;
  }
  for (char c : t) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        absl::string_view("!#$&-^_.+").find(c) == absl::string_view::npos) {
      return false;
    }
  }
  return true;
}

// RFC 2045 token: printable US-ASCII except space and tspecials.
bool IsMimeToken(absl::string_view t) {
  if (t.empty()) return false;
  for (char c : t) {
    if (c <= ' ' || c >= 0x7f ||
        absl::string_view("()<>@,;:\\\"/[]?=").find(c) != absl::string_view::npos) {
      return false;
    }
  }
  return true;
}

// RFC 2045 quoted-string: "..." of printable characters and tabs, with
// backslash escapes.
bool IsQuotedString(absl::string_view t) {
  if (t.size() < 2 || t.front() != '"' || t.back() != '"') return false;
  for (size_t i = 1; i + 1 < t.size(); ++i) {
    const char c = t[i];
    if (c == '\\') {
      if (++i + 1 >= t.size()) return false;  // an escape needs a character
      continue;
    }
    if (c == '"' || (c < ' ' && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

absl::string_view TrimOws(absl::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

absl::StatusOr<std::string> NormalizeContentType(absl::string_view field, absl::string_view value) {
  const absl::Status bad =
      Invalid(field, "must be a media type like image/png or text/plain; charset=utf-8 (RFC 6838)");
  if (value.size() > 255) return Invalid(field, "must be at most 255 characters");
  // Split at ';' outside quoted strings.
  std::vector<absl::string_view> parts;
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i < value.size(); ++i) {
    if (quoted && value[i] == '\\') {
      ++i;
    } else if (value[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && value[i] == ';') {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  if (quoted) return bad;
  parts.push_back(value.substr(start));
  const absl::string_view type = TrimOws(parts[0]);
  const size_t slash = type.find('/');
  if (slash == absl::string_view::npos || !IsMediaName(type.substr(0, slash)) ||
      !IsMediaName(type.substr(slash + 1))) {
    return bad;
  }
  std::string out = absl::AsciiStrToLower(type);
  for (size_t p = 1; p < parts.size(); ++p) {
    const absl::string_view param = TrimOws(parts[p]);
    const size_t eq = param.find('=');
    if (eq == absl::string_view::npos) return bad;
    const absl::string_view name = param.substr(0, eq);
    const absl::string_view v = param.substr(eq + 1);
    if (!IsMimeToken(name) || !(IsMimeToken(v) || IsQuotedString(v))) return bad;
    absl::StrAppend(&out, "; ", absl::AsciiStrToLower(name), "=", v);
  }
  return out;
}

absl::Status ValidateOptionalUrl(absl::string_view field, absl::string_view value) {
  if (value.empty()) return absl::OkStatus();
  if (absl::Status s = ValidateText(field, value, 1, 2048); !s.ok()) return s;
  if (HasControlOrSpace(value)) return Invalid(field, "must not contain spaces");
  if (!absl::StartsWith(value, "https://") && !absl::StartsWith(value, "http://")) {
    return Invalid(field, "must be an http:// or https:// URL");
  }
  return absl::OkStatus();
}

absl::Status ValidateEmoji(absl::string_view field, absl::string_view value, bool required) {
  if (value.empty()) return required ? Invalid(field, "is required") : absl::OkStatus();
  if (value.size() > 64) return Invalid(field, "must be at most 64 bytes");
  if (Utf8Length(value) < 0) return Invalid(field, "must be valid UTF-8");
  if (HasControlOrSpace(value)) return Invalid(field, "must not contain spaces");
  return absl::OkStatus();
}

absl::Status NormalizePageSize(int32_t requested, int* page_size) {
  if (requested < 0 || requested > kMaxPageSize) {
    return Invalid("page_size",
                   absl::StrCat("must be between 0 and ", kMaxPageSize, ", got ", requested));
  }
  *page_size = requested == 0 ? kDefaultPageSize : requested;
  return absl::OkStatus();
}

}  // namespace chatgenius
