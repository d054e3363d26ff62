// ReactionService through a real gRPC server and PostgreSQL.
#include "server/common/ulid.h"
#include "tests/support/domain_fixture.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using grpc::StatusCode;

class ReactionServiceTest : public testing::DomainTest {
 protected:
  ReactionServiceTest() {
    ada_ = User("ada");
    bob_ = User("bob");
    eve_ = User("eve");
    general_ = Channel(ada_, "general");
    Join(general_, bob_, bob_);
    message_ = Post(general_, ada_, "react here");
  }

  grpc::Status Add(const v1::User& user, const std::string& emoji,
                   const std::string& message_id = "") {
    v1::AddReactionRequest r;
    r.set_message_id(message_id.empty() ? message_.id() : message_id);
    r.set_user_id(user.id());
    r.set_emoji(emoji);
    v1::Reaction out;
    return reactions_->AddReaction(Ctx().get(), r, &out);
  }
  grpc::Status Remove(const v1::User& user, const std::string& emoji) {
    v1::RemoveReactionRequest r;
    r.set_message_id(message_.id());
    r.set_user_id(user.id());
    r.set_emoji(emoji);
    google::protobuf::Empty e;
    return reactions_->RemoveReaction(Ctx().get(), r, &e);
  }
  v1::ListReactionsResponse List(const v1::User& viewer) {
    v1::ListReactionsRequest r;
    r.set_message_id(message_.id());
    r.set_viewer_id(viewer.id());
    v1::ListReactionsResponse out;
    grpc::Status s = reactions_->ListReactions(Ctx().get(), r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  v1::User ada_, bob_, eve_;
  v1::Channel general_;
  v1::Message message_;
};

TEST_F(ReactionServiceTest, AddIsIdempotentAndListGroupsByEmoji) {
  ASSERT_TRUE(Add(bob_, ":thumbsup:").ok());
  ASSERT_TRUE(Add(bob_, ":thumbsup:").ok()) << "adding again is a no-op";
  ASSERT_TRUE(Add(ada_, ":thumbsup:").ok());
  ASSERT_TRUE(Add(ada_, "\xF0\x9F\x8E\x89").ok()) << "Unicode emoji";
  EXPECT_EQ(db_.Query("SELECT count(*) FROM reactions"), "3") << "no duplicate row";

  v1::ListReactionsResponse list = List(bob_);
  ASSERT_EQ(list.groups_size(), 2);
  EXPECT_EQ(list.groups(0).emoji(), ":thumbsup:") << "first reacted emoji first";
  ASSERT_EQ(list.groups(0).users_size(), 2);
  EXPECT_EQ(list.groups(0).users(0).id(), bob_.id()) << "users in reaction order";
  EXPECT_TRUE(list.groups(0).viewer_reacted());
  EXPECT_FALSE(list.groups(1).viewer_reacted());
}

TEST_F(ReactionServiceTest, RemoveAndErrors) {
  ASSERT_TRUE(Add(bob_, ":x:").ok());
  ASSERT_TRUE(Remove(bob_, ":x:").ok());
  ExpectError(Remove(bob_, ":x:"), StatusCode::NOT_FOUND, ":x:");
  ExpectError(Add(eve_, ":x:"), StatusCode::PERMISSION_DENIED, "member");
  ExpectError(Add(bob_, ""), StatusCode::INVALID_ARGUMENT, "emoji");
  ExpectError(Add(bob_, std::string(65, 'a')), StatusCode::INVALID_ARGUMENT, "emoji");
  ExpectError(Add(bob_, ":x:", NewUlid()), StatusCode::NOT_FOUND, "message_id");
  ExpectError(Add(bob_, ":x:", "bad"), StatusCode::INVALID_ARGUMENT, "message_id");
  EXPECT_EQ(List(ada_).groups_size(), 0);
}

TEST_F(ReactionServiceTest, ArchivedChannelRefusesReactions) {
  v1::ArchiveChannelRequest r;
  r.set_id(general_.id());
  r.set_actor_id(ada_.id());
  v1::Channel out;
  ASSERT_TRUE(channels_->ArchiveChannel(Ctx().get(), r, &out).ok());
  ExpectError(Add(bob_, ":x:"), StatusCode::FAILED_PRECONDITION, "archived");
}

}  // namespace
}  // namespace chatgenius
