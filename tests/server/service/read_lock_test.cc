// Read RPCs take no row locks: a writer holding a channel row (as
// UpdateChannel, AddMember or ArchiveChannel do for their whole transaction)
// does not stall readers of that channel, and reads leave the rows they read
// untouched. Writes that depend on the channel's state still wait for it.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "tests/support/domain_fixture.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

class ReadLockTest : public testing::DomainTest {
 protected:
  void SetUp() override {
    ada_ = User("ada");
    bob_ = User("bob");
    general_ = Channel(ada_, "general");
    Join(general_, bob_, bob_);
    parent_ = Post(general_, ada_, "parent");
    Post(general_, bob_, "reply", parent_.id());

    v1::AddReactionRequest react;
    react.set_message_id(parent_.id());
    react.set_user_id(bob_.id());
    react.set_emoji("tada");
    v1::Reaction reaction;
    ASSERT_TRUE(reactions_->AddReaction(Ctx().get(), react, &reaction).ok());

    v1::AddAttachmentRequest attach;
    v1::Attachment* a = attach.mutable_attachment();
    a->set_message_id(parent_.id());
    a->set_uploader_id(ada_.id());
    a->set_name("plan.txt");
    a->set_content_type("text/plain");
    a->set_size_bytes(4);
    a->set_storage_url("s3://bucket/plan.txt");
    a->set_sha256(std::string(64, 'c'));
    v1::Attachment attachment;
    ASSERT_TRUE(messages_->AddAttachment(Ctx().get(), attach, &attachment).ok());
  }

  // Every read RPC that checks access to general_, by name; each returns
  // its call's status.
  std::vector<std::pair<std::string, std::function<grpc::Status(grpc::ClientContext*)>>> Reads() {
    return {
        {"GetMessage",
         [&](grpc::ClientContext* c) {
           v1::GetMessageRequest r;
           r.set_id(parent_.id());
           r.set_viewer_id(bob_.id());
           v1::Message out;
           return messages_->GetMessage(c, r, &out);
         }},
        {"ListMessages",
         [&](grpc::ClientContext* c) {
           v1::ListMessagesRequest r;
           r.set_channel_id(general_.id());
           r.set_viewer_id(bob_.id());
           v1::ListMessagesResponse out;
           return messages_->ListMessages(c, r, &out);
         }},
        {"ListThreadReplies",
         [&](grpc::ClientContext* c) {
           v1::ListThreadRepliesRequest r;
           r.set_thread_parent_id(parent_.id());
           r.set_viewer_id(bob_.id());
           v1::ListThreadRepliesResponse out;
           return messages_->ListThreadReplies(c, r, &out);
         }},
        {"ListAttachments",
         [&](grpc::ClientContext* c) {
           v1::ListAttachmentsRequest r;
           r.set_message_id(parent_.id());
           r.set_viewer_id(bob_.id());
           v1::ListAttachmentsResponse out;
           return messages_->ListAttachments(c, r, &out);
         }},
        {"ListReactions",
         [&](grpc::ClientContext* c) {
           v1::ListReactionsRequest r;
           r.set_message_id(parent_.id());
           r.set_viewer_id(bob_.id());
           v1::ListReactionsResponse out;
           return reactions_->ListReactions(c, r, &out);
         }},
        {"GetChannel",
         [&](grpc::ClientContext* c) {
           v1::GetChannelRequest r;
           r.set_id(general_.id());
           r.set_viewer_id(bob_.id());
           v1::Channel out;
           return channels_->GetChannel(c, r, &out);
         }},
        {"ListMembers",
         [&](grpc::ClientContext* c) {
           v1::ListMembersRequest r;
           r.set_channel_id(general_.id());
           r.set_viewer_id(bob_.id());
           v1::ListMembersResponse out;
           return channels_->ListMembers(c, r, &out);
         }},
        {"GetReadState",
         [&](grpc::ClientContext* c) {
           v1::GetReadStateRequest r;
           r.set_channel_id(general_.id());
           r.set_user_id(bob_.id());
           v1::ReadState out;
           return channels_->GetReadState(c, r, &out);
         }},
        {"ListChannels",
         [&](grpc::ClientContext* c) {
           v1::ListChannelsRequest r;
           r.set_member_id(bob_.id());
           v1::ListChannelsResponse out;
           return channels_->ListChannels(c, r, &out);
         }},
    };
  }

  // The channel row's xmax: the last transaction that locked or updated it.
  std::string ChannelXmax() {
    return db_.Query("SELECT xmax::text FROM channels WHERE id = '" + general_.id() + "'");
  }

  v1::User ada_, bob_;
  v1::Channel general_;
  v1::Message parent_;
};

TEST_F(ReadLockTest, ReadsDoNotWaitForAWriterHoldingTheChannel) {
  pqxx::connection blocker(db_.conninfo());
  pqxx::work hold(blocker);
  hold.exec("SELECT 1 FROM channels WHERE id = " + hold.quote(general_.id()) + " FOR UPDATE");

  for (const auto& [name, read] : Reads()) {
    grpc::ClientContext context;
    testing::SetDeadline(&context, absl::Seconds(5));
    grpc::Status status = read(&context);
    EXPECT_TRUE(status.ok()) << name << " waited for the writer's row lock: " << status.error_code()
                             << " " << status.error_message();
  }

  // A write that depends on the channel's state still waits for the writer.
  v1::PostMessageRequest post;
  post.set_channel_id(general_.id());
  post.set_author_id(bob_.id());
  post.set_content("while the channel is held");
  grpc::ClientContext context;
  testing::SetDeadline(&context, absl::Milliseconds(500));
  v1::Message posted;
  EXPECT_EQ(messages_->PostMessage(&context, post, &posted).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // The server cancels the waiting statement at its deadline (within its
  // 20 ms poll); release the row only after that, so the outcome is fixed.
  EXPECT_EQ(db_.WaitForLockWaiters(0, absl::Seconds(5)), 0)
      << "the timed-out post still waits in PostgreSQL";
  hold.commit();
  EXPECT_EQ(db_.Query("SELECT count(*) FROM messages WHERE content = 'while the channel is held'"),
            "0");
}

TEST_F(ReadLockTest, ReadsLeaveTheChannelRowUntouched) {
  const std::string before = ChannelXmax();
  for (const auto& [name, read] : Reads()) {
    ASSERT_TRUE(read(Ctx().get()).ok()) << name;
    EXPECT_EQ(ChannelXmax(), before) << name << " locked the channel row";
  }
  // A write that share-locks the channel does change it: the check can fail.
  Post(general_, bob_, "after the reads");
  EXPECT_NE(ChannelXmax(), before);
}

}  // namespace
}  // namespace chatgenius
