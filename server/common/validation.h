// validation.h
//
// Field validators shared by every request. Each returns INVALID_ARGUMENT
// with a message that starts with the field's name, e.g.
// "user.email: must contain exactly one '@'", so a caller can tell which
// input to fix. Validation happens before any database work, so a rejected
// request writes nothing.
#ifndef CHATGENIUS_SERVER_COMMON_VALIDATION_H_
#define CHATGENIUS_SERVER_COMMON_VALIDATION_H_

#include <cstdint>

#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chatgenius {

// kDefaultPageSize is used when a request's page_size is 0 (AIP-158).
inline constexpr int kDefaultPageSize = 50;
// kMaxPageSize bounds one page so one call cannot pull a whole table.
inline constexpr int kMaxPageSize = 1000;

// ValidateId checks that `value` is a canonical ULID. An empty value is
// accepted only when `required` is false.
[[nodiscard]] absl::Status ValidateId(absl::string_view field, absl::string_view value,
                                      bool required = true);

// ValidateText checks that `value` is valid UTF-8 without NUL characters and
// has between `min_chars` and `max_chars` Unicode code points.
[[nodiscard]] absl::Status ValidateText(absl::string_view field, absl::string_view value,
                                        int min_chars, int max_chars);

// ValidateEmail checks length (3..254), UTF-8, no whitespace or control
// characters, exactly one '@' with a non-empty local part, and a domain of
// non-empty dot-separated labels (e.g. "a@b.co"; not "a@b." or "a@.b").
[[nodiscard]] absl::Status ValidateEmail(absl::string_view field, absl::string_view value);

// ValidateUsername checks 1..80 characters of [a-z0-9._-] starting with a
// letter or digit.
[[nodiscard]] absl::Status ValidateUsername(absl::string_view field, absl::string_view value);

// ValidateSubject checks an identity provider subject (Auth0's `sub`):
// 1..255 characters of UTF-8 without control characters. Empty is accepted
// only when `required` is false.
[[nodiscard]] absl::Status ValidateSubject(absl::string_view field, absl::string_view value,
                                           bool required);

// ValidateChannelName checks Slack's rules: 1..80 characters of lowercase
// letters, digits, '-' and '_', starting with a letter or digit.
[[nodiscard]] absl::Status ValidateChannelName(absl::string_view field, absl::string_view value);

// ValidateUrl checks an optional http(s) URL of at most 2048 characters
// without whitespace; empty is accepted.
[[nodiscard]] absl::Status ValidateOptionalUrl(absl::string_view field, absl::string_view value);

// ValidateStorageUrl checks a required URL ("https://...", "s3://bucket/key")
// of at most 2048 characters without spaces whose scheme (compared in lower
// case) is one of `schemes`; "javascript:", "file:" and the like are
// refused unless listed.
[[nodiscard]] absl::Status ValidateStorageUrl(absl::string_view field, absl::string_view value,
                                              const std::set<std::string>& schemes);

// ValidateSha256Hex checks 64 lower-case hexadecimal digits.
[[nodiscard]] absl::Status ValidateSha256Hex(absl::string_view field, absl::string_view value);

// NormalizeContentType checks a media type (RFC 6838 type/subtype names,
// RFC 2045 parameters: `text/plain; charset=utf-8`, values as tokens or
// quoted strings; at most 255 characters) and returns it normalised: type,
// subtype and parameter names in lower case, "; " between parameters, no
// other spaces.
[[nodiscard]] absl::StatusOr<std::string> NormalizeContentType(absl::string_view field,
                                                               absl::string_view value);

// ValidateEmoji checks an optional emoji: at most 64 bytes of UTF-8, either
// a short name like ":thumbsup:" or text without whitespace.
[[nodiscard]] absl::Status ValidateEmoji(absl::string_view field, absl::string_view value,
                                         bool required);

// NormalizePageSize returns the effective page size for a request's
// `page_size`: 0 -> kDefaultPageSize; 1..kMaxPageSize as is; negative or
// larger -> INVALID_ARGUMENT.
[[nodiscard]] absl::Status NormalizePageSize(int32_t requested, int* page_size);

// Utf8Length returns the number of code points in `value`, or -1 if it is
// not valid UTF-8 (overlong forms, surrogates and values above U+10FFFF are
// invalid).
int Utf8Length(absl::string_view value);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_COMMON_VALIDATION_H_
