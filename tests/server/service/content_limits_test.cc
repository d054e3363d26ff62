// What may pile onto one message (ContentLimits, STORAGE_URL_SCHEMES),
// through a real server with small limits.
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/metrics/limit_hits.h"
#include "tests/support/domain_fixture.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using grpc::StatusCode;

class ContentLimitsTest : public testing::DomainTest {
 protected:
  ContentLimitsTest()
      : DomainTest(
            [](Config& c) {
              c.content_limits.max_attachments_per_message = 2;
              c.content_limits.max_emoji_per_message = 3;
              c.content_limits.max_reactions_per_user_per_message = 2;
            },
            {}) {
    ada_ = User("ada");
    general_ = Channel(ada_, "general");
    message_ = Post(general_, ada_, "pile on");
  }
  grpc::Status Attach(const std::string& url = "s3://bucket/a.txt") {
    v1::AddAttachmentRequest r;
    *r.mutable_attachment() = NewAttachment(message_.id(), ada_.id());
    r.mutable_attachment()->set_storage_url(url);
    v1::Attachment out;
    return messages_->AddAttachment(Ctx().get(), r, &out);
  }
  grpc::Status React(const v1::User& user, const std::string& emoji) {
    v1::AddReactionRequest r;
    r.set_message_id(message_.id());
    r.set_user_id(user.id());
    r.set_emoji(emoji);
    v1::Reaction out;
    return reactions_->AddReaction(Ctx().get(), r, &out);
  }
  v1::User ada_;
  v1::Channel general_;
  v1::Message message_;
};

TEST_F(ContentLimitsTest, AttachmentsPerMessage) {
  const int64_t hits = LimitHits::Get(Limit::kAttachmentsPerMessage);
  ASSERT_TRUE(Attach().ok());
  ASSERT_TRUE(Attach().ok());
  grpc::Status third = Attach();
  EXPECT_EQ(third.error_code(), StatusCode::FAILED_PRECONDITION) << third.error_message();
  EXPECT_TRUE(absl::StrContains(third.error_message(), "MAX_ATTACHMENTS_PER_MESSAGE"))
      << third.error_message();
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attachments"), "2");
  EXPECT_EQ(LimitHits::Get(Limit::kAttachmentsPerMessage) - hits, 1)
      << "chatgenius_limit_hits_total{limit=\"MAX_ATTACHMENTS_PER_MESSAGE\"} counts it";
}

TEST_F(ContentLimitsTest, ConcurrentAttachersCannotOvershoot) {
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) threads.emplace_back([&] { (void)Attach(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attachments"), "2");
}

TEST_F(ContentLimitsTest, StorageUrlSchemes) {
  const int64_t hits = LimitHits::Get(Limit::kStorageUrlScheme);
  for (const char* url : {"javascript://%0aalert(1)", "file:///etc/passwd", "http://x/y"}) {
    grpc::Status s = Attach(url);
    EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << url;
    EXPECT_TRUE(absl::StartsWith(s.error_message(), "attachment.storage_url:"))
        << s.error_message();
  }
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attachments"), "0");
  EXPECT_EQ(LimitHits::Get(Limit::kStorageUrlScheme) - hits, 3);
  EXPECT_TRUE(Attach("https://cdn.example.com/a.txt").ok());
}

TEST_F(ContentLimitsTest, DistinctEmojiAndReactionsPerUser) {
  const int64_t per_user = LimitHits::Get(Limit::kReactionsPerUser);
  const int64_t emoji = LimitHits::Get(Limit::kEmojiPerMessage);
  ASSERT_TRUE(React(ada_, ":a:").ok());
  ASSERT_TRUE(React(ada_, ":b:").ok());
  grpc::Status third = React(ada_, ":c:");
  EXPECT_EQ(third.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(third.error_message(), "MAX_REACTIONS_PER_USER_PER_MESSAGE"))
      << third.error_message();
  EXPECT_TRUE(React(ada_, ":a:").ok()) << "repeating a reaction is a no-op, not a new one";

  v1::User bob = User("bob");
  Join(general_, bob, bob);
  ASSERT_TRUE(React(bob, ":c:").ok());
  grpc::Status fourth = React(bob, ":d:");
  EXPECT_EQ(fourth.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(fourth.error_message(), "MAX_EMOJI_PER_MESSAGE"))
      << fourth.error_message();
  EXPECT_TRUE(React(bob, ":a:").ok()) << "an emoji already there is no new kind";
  EXPECT_EQ(db_.Query("SELECT count(DISTINCT emoji) FROM reactions"), "3");
  EXPECT_EQ(LimitHits::Get(Limit::kReactionsPerUser) - per_user, 1);
  EXPECT_EQ(LimitHits::Get(Limit::kEmojiPerMessage) - emoji, 1);
}

TEST_F(ContentLimitsTest, ConcurrentReactorsCannotOvershoot) {
  std::vector<v1::User> users;
  for (int i = 0; i < 8; ++i) {
    users.push_back(User(absl::StrCat("u", i)));
    Join(general_, users.back(), users.back());
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { (void)React(users[i], absl::StrCat(":e", i, ":")); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(db_.Query("SELECT count(DISTINCT emoji) FROM reactions"), "3")
      << "the cap holds when eight users add eight new emoji at once";
}

}  // namespace
}  // namespace chatgenius
