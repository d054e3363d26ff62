#include "server/common/page_token.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace chatgenius {
namespace {

TEST(PageTokenTest, RoundTrip) {
  PageTokenCodec codec("k-0123456789abcdef");
  std::vector<std::string> keys = {"01ARYZ6S41TSV4RRFFQ69G5FAV", "", std::string("a\0b", 3)};
  std::string token = codec.Encode("q", keys);
  absl::StatusOr<std::vector<std::string>> decoded = codec.Decode("q", token);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, keys) << "keys must survive encoding unchanged";
  for (char c : token) {
    EXPECT_TRUE(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')
        << "token must be URL-safe, found '" << c << "'";
  }
}

TEST(PageTokenTest, EveryFlippedBitIsRejected) {
  PageTokenCodec codec("k-0123456789abcdef");
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(codec.Encode("q", {"01ARYZ6S41TSV4RRFFQ69G5FAV"}), &raw));
  for (size_t i = 0; i < raw.size() * 8; ++i) {
    std::string tampered = raw;
    tampered[i / 8] = static_cast<char>(tampered[i / 8] ^ (1 << (i % 8)));
    absl::StatusOr<std::vector<std::string>> decoded =
        codec.Decode("q", absl::WebSafeBase64Escape(tampered));
    ASSERT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument)
        << "flipping bit " << i << " must be detected";
    EXPECT_NE(decoded.status().message().find("page_token"), absl::string_view::npos)
        << decoded.status();
  }
}

TEST(PageTokenTest, RejectsOtherQueryOtherKeyAndGarbage) {
  PageTokenCodec codec("k-0123456789abcdef");
  PageTokenCodec other("k-other-key-000000");
  std::string token = codec.Encode("ListUsers\nada", {"x"});
  EXPECT_EQ(codec.Decode("ListUsers\nbob", token).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "a token is bound to its query's filters";
  EXPECT_EQ(other.Decode("ListUsers\nada", token).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "a token signed with another key must be refused";
  EXPECT_EQ(codec.Decode("q", "!!!").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(codec.Decode("q", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(codec.Decode("q", std::string(5000, 'A')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chatgenius
