#include "server/common/validation.h"

#include <string>

#include "gtest/gtest.h"

namespace chatgenius {
namespace {

void ExpectInvalid(const absl::Status& s, const std::string& field) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(s.message().substr(0, field.size() + 1), field + ":")
      << "message must start with the field name: " << s.message();
}

TEST(ValidationTest, Ids) {
  EXPECT_TRUE(ValidateId("id", "01ARYZ6S41TSV4RRFFQ69G5FAV").ok());
  ExpectInvalid(ValidateId("user.id", ""), "user.id");
  ExpectInvalid(ValidateId("user.id", "not-a-ulid"), "user.id");
  EXPECT_TRUE(ValidateId("parent", "", /*required=*/false).ok()) << "optional id may be empty";
}

TEST(ValidationTest, Utf8Length) {
  EXPECT_EQ(Utf8Length("abc"), 3);
  EXPECT_EQ(Utf8Length("h\xC3\xA9llo"), 5) << "é is one code point";
  EXPECT_EQ(Utf8Length("\xF0\x9F\x91\x8D"), 1) << "thumbs up emoji";
  EXPECT_EQ(Utf8Length("\xC3"), -1) << "truncated sequence";
  EXPECT_EQ(Utf8Length("\xC0\xAF"), -1) << "overlong '/'";
  EXPECT_EQ(Utf8Length("\xED\xA0\x80"), -1) << "UTF-16 surrogate";
  EXPECT_EQ(Utf8Length("\xF4\x90\x80\x80"), -1) << "above U+10FFFF";
  EXPECT_EQ(Utf8Length("\xFF"), -1) << "invalid lead byte";
}

TEST(ValidationTest, Text) {
  EXPECT_TRUE(ValidateText("name", "ok", 1, 10).ok());
  ExpectInvalid(ValidateText("name", "", 1, 10), "name");
  ExpectInvalid(ValidateText("name", std::string(11, 'a'), 1, 10), "name");
  ExpectInvalid(ValidateText("name", std::string("a\0b", 3), 0, 10), "name");
  ExpectInvalid(ValidateText("name", "\xFF", 0, 10), "name");
  EXPECT_TRUE(ValidateText("name", "\xC3\xA9\xC3\xA9", 0, 2).ok())
      << "limits count code points, not bytes";
}

TEST(ValidationTest, Email) {
  EXPECT_TRUE(ValidateEmail("email", "ada@example.com").ok());
  EXPECT_TRUE(ValidateEmail("email", "a+b@sub.example.co").ok());
  ExpectInvalid(ValidateEmail("email", "ada.example.com"), "email");
  ExpectInvalid(ValidateEmail("email", "a@@b.com"), "email");
  ExpectInvalid(ValidateEmail("email", "@b.com"), "email");
  ExpectInvalid(ValidateEmail("email", "a@b."), "email");
  ExpectInvalid(ValidateEmail("email", "a b@c.com"), "email");
  ExpectInvalid(ValidateEmail("email", std::string(250, 'a') + "@b.com"), "email");
}

TEST(ValidationTest, Username) {
  EXPECT_TRUE(ValidateUsername("u", "ada.lovelace_1-x").ok());
  ExpectInvalid(ValidateUsername("u", ""), "u");
  ExpectInvalid(ValidateUsername("u", "Ada"), "u");
  ExpectInvalid(ValidateUsername("u", ".ada"), "u");
  ExpectInvalid(ValidateUsername("u", "ada lovelace"), "u");
  ExpectInvalid(ValidateUsername("u", "robert'); DROP TABLE users;--"), "u");
  ExpectInvalid(ValidateUsername("u", std::string(81, 'a')), "u");
}

TEST(ValidationTest, UrlAndEmoji) {
  EXPECT_TRUE(ValidateOptionalUrl("avatar_url", "").ok());
  EXPECT_TRUE(ValidateOptionalUrl("avatar_url", "https://cdn.example.com/a.png").ok());
  ExpectInvalid(ValidateOptionalUrl("avatar_url", "javascript:alert(1)"), "avatar_url");
  ExpectInvalid(ValidateOptionalUrl("avatar_url", "https://a b"), "avatar_url");
  EXPECT_TRUE(ValidateEmoji("emoji", ":thumbsup:", true).ok());
  EXPECT_TRUE(ValidateEmoji("emoji", "\xF0\x9F\x91\x8D", true).ok());
  ExpectInvalid(ValidateEmoji("emoji", "", true), "emoji");
  ExpectInvalid(ValidateEmoji("emoji", std::string(65, 'a'), true), "emoji");
}

TEST(ValidationTest, ChannelNames) {
  EXPECT_TRUE(ValidateChannelName("name", "general").ok());
  EXPECT_TRUE(ValidateChannelName("name", "dev-ops_2").ok());
  ExpectInvalid(ValidateChannelName("name", ""), "name");
  ExpectInvalid(ValidateChannelName("name", "General"), "name");
  ExpectInvalid(ValidateChannelName("name", "two words"), "name");
  ExpectInvalid(ValidateChannelName("name", "-leading"), "name");
  ExpectInvalid(ValidateChannelName("name", "dot.name"), "name");
  ExpectInvalid(ValidateChannelName("name", std::string(81, 'a')), "name");
}

TEST(ValidationTest, AttachmentFields) {
  const std::set<std::string> schemes = {"https", "s3", "gs"};
  EXPECT_TRUE(ValidateStorageUrl("url", "https://cdn.example.com/x.png", schemes).ok());
  EXPECT_TRUE(ValidateStorageUrl("url", "s3://bucket/key", schemes).ok());
  EXPECT_TRUE(ValidateStorageUrl("url", "HTTPS://cdn.example.com/x", schemes).ok());
  ExpectInvalid(ValidateStorageUrl("url", "", schemes), "url");
  ExpectInvalid(ValidateStorageUrl("url", "no-scheme", schemes), "url");
  ExpectInvalid(ValidateStorageUrl("url", "https://", schemes), "url");
  ExpectInvalid(ValidateStorageUrl("url", "1x://host", schemes), "url");
  ExpectInvalid(ValidateStorageUrl("url", "https://a b", schemes), "url");
  for (const char* dangerous : {"javascript://%0aalert(1)", "file:///etc/passwd",
                                "http://plain.example.com/x", "data://text/html,x"}) {
    absl::Status s = ValidateStorageUrl("url", dangerous, schemes);
    ExpectInvalid(s, "url");
    EXPECT_NE(s.message().find("STORAGE_URL_SCHEMES"), absl::string_view::npos) << s;
  }
  EXPECT_TRUE(ValidateStorageUrl("url", "http://plain.example.com/x", {"http"}).ok())
      << "configurable";
  EXPECT_TRUE(ValidateSha256Hex("sha", std::string(64, 'f')).ok());
  ExpectInvalid(ValidateSha256Hex("sha", std::string(64, 'F')), "sha");
  ExpectInvalid(ValidateSha256Hex("sha", std::string(63, 'a')), "sha");
  ExpectInvalid(ValidateSha256Hex("sha", std::string(63, 'a') + "g"), "sha");
  auto normal = [](absl::string_view v) {
    absl::StatusOr<std::string> s = NormalizeContentType("type", v);
    return s.ok() ? *s : "error: " + s.status().ToString();
  };
  EXPECT_EQ(normal("image/png"), "image/png");
  EXPECT_EQ(normal("application/vnd.ms-excel"), "application/vnd.ms-excel");
  EXPECT_EQ(normal("Image/PNG"), "image/png") << "type names are case-insensitive";
  EXPECT_EQ(normal("text/plain; charset=utf-8"), "text/plain; charset=utf-8");
  EXPECT_EQ(normal("Text/Plain;Charset=UTF-8"), "text/plain; charset=UTF-8")
      << "names fold to lower case, values stay";
  EXPECT_EQ(normal("multipart/form-data ;  boundary=\"a;b c\""),
            "multipart/form-data; boundary=\"a;b c\"")
      << "a quoted value may hold ';' and spaces";
  ExpectInvalid(NormalizeContentType("type", "image").status(), "type");
  ExpectInvalid(NormalizeContentType("type", "image/").status(), "type");
  ExpectInvalid(NormalizeContentType("type", "/png").status(), "type");
  ExpectInvalid(NormalizeContentType("type", "text/plain; charset").status(), "type");
  ExpectInvalid(NormalizeContentType("type", "text/plain; charset=").status(), "type");
  ExpectInvalid(NormalizeContentType("type", "text/plain; a=\"open").status(), "type");
  ExpectInvalid(NormalizeContentType("type", "text/plain; a=b c").status(), "type");
  ExpectInvalid(NormalizeContentType("type", "text/pl@in").status(), "type");
  ExpectInvalid(NormalizeContentType("type", std::string(256, 'a')).status(), "type");
}

TEST(ValidationTest, PageSize) {
  int size = -1;
  ASSERT_TRUE(NormalizePageSize(0, &size).ok());
  EXPECT_EQ(size, kDefaultPageSize) << "0 means the default";
  ASSERT_TRUE(NormalizePageSize(kMaxPageSize, &size).ok());
  EXPECT_EQ(size, kMaxPageSize);
  ExpectInvalid(NormalizePageSize(-1, &size), "page_size");
  ExpectInvalid(NormalizePageSize(kMaxPageSize + 1, &size), "page_size");
}

}  // namespace
}  // namespace chatgenius
