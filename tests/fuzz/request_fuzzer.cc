// A libFuzzer target over what untrusted callers control before any SQL
// runs: field validation and page-token decoding. The first byte picks a
// validator; the rest is the value (also tried as a page token and as a
// bearer-token file). Beyond "no crash, no sanitizer report" it checks the
// contracts:
// - validators answer OK or INVALID_ARGUMENT naming the field; accepted
//   text is valid UTF-8 within its bounds, accepted ids are ULIDs;
// - a page token decodes only if it is exactly the canonical encoding of
//   what it decodes to (no malleable or forged tokens), and encodings of
//   up to 16 arbitrary keys (1 KiB) round-trip;
// - the token-file parser either rejects the text or yields >= 1 entry.
// scripts/fuzz.sh builds it with clang -fsanitize=fuzzer,address,undefined;
// fuzz_corpus_test replays tests/fuzz/corpus/ through it under Bazel.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "server/auth/bearer_tokens.h"
#include "server/common/page_token.h"
#include "server/common/ulid.h"
#include "server/common/validation.h"

namespace {

using chatgenius::BearerTokens;
using chatgenius::PageTokenCodec;

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz contract violated: %s\n", what);
    std::abort();
  }
}

void CheckStatus(const absl::Status& s, absl::string_view field) {
  if (s.ok()) return;
  Require(s.code() == absl::StatusCode::kInvalidArgument, "validators answer INVALID_ARGUMENT");
  Require(absl::StartsWith(s.message(), field), "validation errors name the field");
}

void Validate(uint8_t selector, absl::string_view value) {
  absl::Status s;
  switch (selector % 11) {
    case 0:
      s = chatgenius::ValidateId("id", value);
      CheckStatus(s, "id");
      if (s.ok()) Require(chatgenius::IsValidUlid(value), "accepted ids are ULIDs");
      return;
    case 1: {
      s = chatgenius::ValidateText("text", value, 1, 40);
      CheckStatus(s, "text");
      const int n = chatgenius::Utf8Length(value);
      if (s.ok()) Require(n >= 1 && n <= 40, "accepted text is UTF-8 within bounds");
      if (s.ok()) Require(value.find('\0') == absl::string_view::npos, "accepted text has no NUL");
      return;
    }
    case 2:
      s = chatgenius::ValidateEmail("email", value);
      CheckStatus(s, "email");
      if (s.ok()) Require(absl::StrContains(value, "@"), "accepted emails have an @");
      return;
    case 3:
      return CheckStatus(chatgenius::ValidateUsername("username", value), "username");
    case 4:
      return CheckStatus(chatgenius::ValidateChannelName("name", value), "name");
    case 5:
      return CheckStatus(chatgenius::ValidateOptionalUrl("url", value), "url");
    case 6:
      return CheckStatus(chatgenius::ValidateStorageUrl("url", value, {"https", "s3", "gs"}),
                         "url");
    case 7:
      s = chatgenius::ValidateSha256Hex("sha256", value);
      CheckStatus(s, "sha256");
      if (s.ok()) Require(value.size() == 64, "accepted hashes have 64 digits");
      return;
    case 8: {
      absl::StatusOr<std::string> normal = chatgenius::NormalizeContentType("content_type", value);
      CheckStatus(normal.status(), "content_type");
      if (normal.ok()) {
        // Normalising is idempotent: the stored form is accepted as it is.
        absl::StatusOr<std::string> again =
            chatgenius::NormalizeContentType("content_type", *normal);
        Require(again.ok() && *again == *normal, "a normalised content type is a fixed point");
      }
      return;
    }
    case 9:
      return CheckStatus(chatgenius::ValidateEmoji("emoji", value, true), "emoji");
    default: {
      int32_t requested = 0;
      for (size_t i = 0; i < value.size() && i < 4; ++i) {
        requested = static_cast<int32_t>((static_cast<uint32_t>(requested) << 8) |
                                         static_cast<uint8_t>(value[i]));
      }
      int page_size = -1;
      s = chatgenius::NormalizePageSize(requested, &page_size);
      if (s.ok()) {
        Require(page_size >= 1 && page_size <= chatgenius::kMaxPageSize, "page size in range");
      }
      return;
    }
  }
}

void PageTokens(absl::string_view value) {
  static const PageTokenCodec* codec = new PageTokenCodec("fuzz-key");
  absl::StatusOr<std::vector<std::string>> keys = codec->Decode("ListUsers\nq", value);
  if (keys.ok()) {
    Require(codec->Encode("ListUsers\nq", *keys) == value, "only canonical tokens decode");
  } else {
    Require(keys.status().code() == absl::StatusCode::kInvalidArgument, "bad tokens: INVALID");
  }
  // Arbitrary keys (split on NUL) must survive a round trip. Cursors are a
  // few ULIDs; tokens are capped at 2 KiB and 16 keys: only those apply.
  if (value.size() > 1024) return;
  std::vector<std::string> parts = absl::StrSplit(value, '\0');
  if (parts.size() > 16) return;  // Decode's cap on cursor keys
  absl::StatusOr<std::vector<std::string>> back = codec->Decode("q", codec->Encode("q", parts));
  Require(back.ok() && *back == parts, "encoded keys round-trip");
  Require(!codec->Decode("other", codec->Encode("q", parts)).ok(), "tokens bind to their query");
}

void TokenFile(absl::string_view value) {
  absl::StatusOr<BearerTokens> tokens = BearerTokens::Parse(value);
  if (!tokens.ok()) return;
  Require(tokens->size() >= 1, "a parsed token file has entries");
  Require(!tokens->Authenticate(value).ok() || absl::StartsWithIgnoreCase(value, "bearer "),
          "only Bearer headers authenticate");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view value(reinterpret_cast<const char*>(data + 1), size - 1);
  Validate(data[0], value);
  PageTokens(value);
  TokenFile(value);
  return 0;
}
