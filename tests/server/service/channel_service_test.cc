// ChannelService through a real gRPC server and PostgreSQL.
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/ulid.h"
#include "server/store/channel_store.h"
#include "tests/support/domain_fixture.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using grpc::StatusCode;

class ChannelServiceTest : public testing::DomainTest {
 protected:
  grpc::Status Create(const std::string& name, const std::string& creator, v1::Channel* out,
                      v1::ChannelType type = v1::CHANNEL_TYPE_PUBLIC) {
    v1::CreateChannelRequest r;
    r.mutable_channel()->set_name(name);
    r.mutable_channel()->set_type(type);
    r.set_creator_id(creator);
    return channels_->CreateChannel(Ctx().get(), r, out);
  }
  grpc::Status Add(const v1::Channel& c, const v1::User& user, const v1::User& actor,
                   v1::MemberRole role = v1::MEMBER_ROLE_MEMBER) {
    v1::AddMemberRequest r;
    r.set_channel_id(c.id());
    r.set_user_id(user.id());
    r.set_actor_id(actor.id());
    r.set_role(role);
    v1::ChannelMember out;
    return channels_->AddMember(Ctx().get(), r, &out);
  }
  grpc::Status Remove(const v1::Channel& c, const v1::User& user, const v1::User& actor) {
    v1::RemoveMemberRequest r;
    r.set_channel_id(c.id());
    r.set_user_id(user.id());
    r.set_actor_id(actor.id());
    google::protobuf::Empty out;
    return channels_->RemoveMember(Ctx().get(), r, &out);
  }
  grpc::Status Archive(const v1::Channel& c, const v1::User& actor, bool archived = true) {
    v1::Channel out;
    if (archived) {
      v1::ArchiveChannelRequest r;
      r.set_id(c.id());
      r.set_actor_id(actor.id());
      return channels_->ArchiveChannel(Ctx().get(), r, &out);
    }
    v1::UnarchiveChannelRequest r;
    r.set_id(c.id());
    r.set_actor_id(actor.id());
    return channels_->UnarchiveChannel(Ctx().get(), r, &out);
  }
  std::vector<v1::ChannelMember> Members(const v1::Channel& c, int page_size = 0) {
    std::vector<v1::ChannelMember> all;
    std::string token;
    do {
      v1::ListMembersRequest r;
      r.set_channel_id(c.id());
      r.set_viewer_id(c.created_by());
      r.set_page_size(page_size);
      r.set_page_token(token);
      v1::ListMembersResponse out;
      grpc::Status s = channels_->ListMembers(Ctx().get(), r, &out);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      all.insert(all.end(), out.members().begin(), out.members().end());
      token = out.next_page_token();
    } while (!token.empty());
    return all;
  }
  v1::ListChannelsResponse ListFor(const v1::User& user, bool include_archived = false) {
    v1::ListChannelsRequest r;
    r.set_member_id(user.id());
    r.set_include_archived(include_archived);
    v1::ListChannelsResponse out;
    grpc::Status s = channels_->ListChannels(Ctx().get(), r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }
};

TEST_F(ChannelServiceTest, CreateMakesCreatorOwner) {
  v1::User ada = User("ada");
  v1::Channel general = Channel(ada, "general");
  EXPECT_TRUE(IsValidUlid(general.id()));
  EXPECT_EQ(general.name(), "general");
  EXPECT_EQ(general.type(), v1::CHANNEL_TYPE_PUBLIC);
  EXPECT_EQ(general.created_by(), ada.id());
  EXPECT_EQ(general.member_count(), 1);
  std::vector<v1::ChannelMember> members = Members(general);
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].user().id(), ada.id());
  EXPECT_EQ(members[0].role(), v1::MEMBER_ROLE_OWNER) << "the creator owns the channel";
}

TEST_F(ChannelServiceTest, CreateValidatesAndRefusesDuplicates) {
  v1::User ada = User("ada");
  Channel(ada, "general");
  v1::Channel out;
  ExpectError(Create("general", ada.id(), &out), StatusCode::ALREADY_EXISTS, "channel.name");
  ExpectError(Create("General", ada.id(), &out), StatusCode::INVALID_ARGUMENT, "channel.name");
  ExpectError(Create("has space", ada.id(), &out), StatusCode::INVALID_ARGUMENT, "channel.name");
  ExpectError(Create(std::string(81, 'a'), ada.id(), &out), StatusCode::INVALID_ARGUMENT,
              "channel.name");
  ExpectError(Create("x", ada.id(), &out, v1::CHANNEL_TYPE_DIRECT), StatusCode::INVALID_ARGUMENT,
              "channel.type");
  ExpectError(Create("x", "bad", &out), StatusCode::INVALID_ARGUMENT, "creator_id");
  ExpectError(Create("x", NewUlid(), &out), StatusCode::NOT_FOUND, "creator_id");
  v1::ListChannelsRequest r;
  r.set_public_only(true);
  r.set_viewer_id(ada.id());
  v1::ListChannelsResponse list;
  ASSERT_TRUE(channels_->ListChannels(Ctx().get(), r, &list).ok());
  EXPECT_EQ(list.channels_size(), 1) << "failed creates write nothing";
}

TEST_F(ChannelServiceTest, GetAndNotFound) {
  v1::User ada = User("ada");
  v1::Channel c = Channel(ada, "general");
  v1::GetChannelRequest r;
  r.set_id(c.id());
  r.set_viewer_id(ada.id());
  v1::Channel got;
  ASSERT_TRUE(channels_->GetChannel(Ctx().get(), r, &got).ok());
  EXPECT_EQ(got.name(), "general");
  r.set_id(NewUlid());
  ExpectError(channels_->GetChannel(Ctx().get(), r, &got), StatusCode::NOT_FOUND, "not found");
  r.set_id("x");
  ExpectError(channels_->GetChannel(Ctx().get(), r, &got), StatusCode::INVALID_ARGUMENT, "id");
}

TEST_F(ChannelServiceTest, UpdateByManagersOnly) {
  v1::User ada = User("ada");
  v1::User bob = User("bob");
  v1::Channel c = Channel(ada, "general");
  Join(c, bob, bob);
  v1::UpdateChannelRequest r;
  r.mutable_channel()->set_id(c.id());
  r.mutable_channel()->set_name("renamed");
  r.mutable_channel()->set_description("new topic");
  r.mutable_update_mask()->add_paths("description");
  r.set_actor_id(ada.id());
  v1::Channel out;
  ASSERT_TRUE(channels_->UpdateChannel(Ctx().get(), r, &out).ok());
  EXPECT_EQ(out.description(), "new topic");
  EXPECT_EQ(out.name(), "general") << "name not in the mask";

  r.set_actor_id(bob.id());
  ExpectError(channels_->UpdateChannel(Ctx().get(), r, &out), StatusCode::PERMISSION_DENIED,
              "owner or admin");
  r.set_actor_id(ada.id());
  r.mutable_update_mask()->add_paths("type");
  ExpectError(channels_->UpdateChannel(Ctx().get(), r, &out), StatusCode::INVALID_ARGUMENT,
              "update_mask");
}

TEST_F(ChannelServiceTest, ArchivedChannelRefusesChanges) {
  v1::User ada = User("ada");
  v1::User bob = User("bob");
  v1::Channel c = Channel(ada, "general");
  ExpectError(Archive(c, bob), StatusCode::PERMISSION_DENIED, "owner or admin");
  ASSERT_TRUE(Archive(c, ada).ok());
  ASSERT_TRUE(Archive(c, ada).ok()) << "archiving twice is a no-op";
  ExpectError(Add(c, bob, bob), StatusCode::FAILED_PRECONDITION, "archived");

  v1::PostMessageRequest post;
  post.set_channel_id(c.id());
  post.set_author_id(ada.id());
  post.set_content("hello?");
  v1::Message m;
  ExpectError(messages_->PostMessage(Ctx().get(), post, &m), StatusCode::FAILED_PRECONDITION,
              "archived");

  EXPECT_EQ(ListFor(ada).channels_size(), 0) << "archived channels are hidden by default";
  EXPECT_EQ(ListFor(ada, true).channels_size(), 1);
  ASSERT_TRUE(Archive(c, ada, false).ok());
  EXPECT_TRUE(Add(c, bob, bob).ok()) << "unarchived channels accept members again";
}

TEST_F(ChannelServiceTest, DeleteIsOwnerOnlyAndSoft) {
  v1::User ada = User("ada");
  v1::User bob = User("bob");
  v1::Channel c = Channel(ada, "general");
  ASSERT_TRUE(Add(c, bob, ada, v1::MEMBER_ROLE_ADMIN).ok());
  v1::DeleteChannelRequest r;
  r.set_id(c.id());
  r.set_actor_id(bob.id());
  google::protobuf::Empty e;
  ExpectError(channels_->DeleteChannel(Ctx().get(), r, &e), StatusCode::PERMISSION_DENIED, "owner");
  r.set_actor_id(ada.id());
  ASSERT_TRUE(channels_->DeleteChannel(Ctx().get(), r, &e).ok());
  v1::GetChannelRequest g;
  g.set_id(c.id());
  g.set_viewer_id(ada.id());
  v1::Channel out;
  ExpectError(channels_->GetChannel(Ctx().get(), g, &out), StatusCode::NOT_FOUND, "not found");
  EXPECT_EQ(ListFor(ada).channels_size(), 0);
  v1::Channel again;
  EXPECT_TRUE(Create("general", ada.id(), &again).ok()) << "a deleted channel's name is free";
}

TEST_F(ChannelServiceTest, MembershipRules) {
  v1::User ada = User("ada");
  v1::User bob = User("bob");
  v1::User eve = User("eve");
  v1::Channel pub = Channel(ada, "general");
  v1::Channel priv = Channel(ada, "secret", v1::CHANNEL_TYPE_PRIVATE);

  EXPECT_TRUE(Add(pub, bob, bob).ok()) << "anyone joins a public channel";
  EXPECT_TRUE(Add(pub, bob, bob).ok()) << "joining twice is idempotent";
  EXPECT_EQ(Members(pub).size(), 2u) << "no duplicate membership";
  ExpectError(Add(priv, eve, eve), StatusCode::PERMISSION_DENIED, "owner or admin");
  ExpectError(Add(pub, eve, bob), StatusCode::PERMISSION_DENIED, "owner or admin");
  EXPECT_TRUE(Add(priv, eve, ada).ok()) << "owners invite to private channels";
  v1::User ghost;
  ghost.set_id(NewUlid());
  ExpectError(Add(pub, ghost, ada), StatusCode::NOT_FOUND, "user_id");

  ExpectError(Remove(pub, ada, bob), StatusCode::PERMISSION_DENIED, "");
  ExpectError(Remove(pub, ada, ada), StatusCode::FAILED_PRECONDITION, "last owner");
  ExpectError(SetRole(pub, ada, ada, v1::MEMBER_ROLE_MEMBER), StatusCode::FAILED_PRECONDITION,
              "last owner");
  ExpectError(SetRole(pub, bob, bob, v1::MEMBER_ROLE_ADMIN), StatusCode::PERMISSION_DENIED, "");
  ASSERT_TRUE(SetRole(pub, bob, ada, v1::MEMBER_ROLE_OWNER).ok());
  EXPECT_TRUE(Remove(pub, ada, ada).ok()) << "with a second owner the first may leave";
  ExpectError(Remove(pub, eve, bob), StatusCode::NOT_FOUND, "not a member");
  ExpectError(SetRole(pub, bob, bob, v1::MEMBER_ROLE_UNSPECIFIED), StatusCode::INVALID_ARGUMENT,
              "role");
}

TEST_F(ChannelServiceTest, DeletedUsersAreNeitherMembersNorAddable) {
  v1::User ada = User("ada");
  v1::User bob = User("bob");
  v1::User dan = User("dan");
  v1::Channel pub = Channel(ada, "general");
  v1::Channel priv = Channel(ada, "secret", v1::CHANNEL_TYPE_PRIVATE);
  ASSERT_TRUE(Add(pub, bob, bob).ok());
  ASSERT_TRUE(Add(pub, dan, ada, v1::MEMBER_ROLE_OWNER).ok());
  v1::DeleteUserRequest del;
  del.set_id(dan.id());
  google::protobuf::Empty e;
  ASSERT_TRUE(users_->DeleteUser(Ctx().get(), del, &e).ok());

  std::set<std::string> listed;
  for (const v1::ChannelMember& m : Members(pub)) listed.insert(m.user().id());
  EXPECT_EQ(listed, (std::set<std::string>{ada.id(), bob.id()})) << "dan is deleted";
  v1::GetChannelRequest g;
  g.set_id(pub.id());
  g.set_viewer_id(bob.id());
  v1::Channel got;
  ASSERT_TRUE(channels_->GetChannel(Ctx().get(), g, &got).ok());
  EXPECT_EQ(got.member_count(), 2) << "deleted users are not counted";
  ExpectError(Add(priv, dan, ada), StatusCode::NOT_FOUND, "user_id");
  // A deleted owner does not count as another owner.
  ExpectError(Remove(pub, ada, ada), StatusCode::FAILED_PRECONDITION, "last owner");
  v1::Channel out;
  ExpectError(Create("dans", dan.id(), &out), StatusCode::NOT_FOUND, "creator_id");
}

TEST_F(ChannelServiceTest, LastOwnerHoldsUnderConcurrentDemotions) {
  v1::User ada = User("ada");
  v1::User bob = User("bob");
  v1::Channel c = Channel(ada, "general");
  ASSERT_TRUE(Add(c, bob, ada, v1::MEMBER_ROLE_OWNER).ok());
  // Each owner demotes the other at the same time: at most one may win.
  grpc::Status a, b;
  std::thread t1([&] { a = SetRole(c, bob, ada, v1::MEMBER_ROLE_MEMBER); });
  std::thread t2([&] { b = SetRole(c, ada, bob, v1::MEMBER_ROLE_MEMBER); });
  t1.join();
  t2.join();
  int owners = 0;
  for (const v1::ChannelMember& m : Members(c)) owners += m.role() == v1::MEMBER_ROLE_OWNER;
  EXPECT_EQ(owners, 1) << "exactly one owner remains (" << a.error_message() << " / "
                       << b.error_message() << ")";
}

TEST_F(ChannelServiceTest, ListMembersPages) {
  v1::User ada = User("ada");
  v1::Channel c = Channel(ada, "general");
  std::set<std::string> expected = {ada.id()};
  for (int i = 0; i < 12; ++i) {
    v1::User u = User(absl::StrCat("user", i));
    Join(c, u, u);
    expected.insert(u.id());
  }
  std::vector<v1::ChannelMember> all = Members(c, 5);
  std::set<std::string> seen;
  for (const v1::ChannelMember& m : all) seen.insert(m.user().id());
  EXPECT_EQ(all.size(), 13u) << "no duplicates across pages";
  EXPECT_EQ(seen, expected) << "no gaps across pages";
}

TEST_F(ChannelServiceTest, ListChannelsForMemberAndPublic) {
  v1::User ada = User("ada");
  v1::User bob = User("bob");
  Channel(ada, "zeta");
  v1::Channel alpha = Channel(ada, "alpha");
  Channel(ada, "hidden", v1::CHANNEL_TYPE_PRIVATE);
  Join(alpha, bob, bob);

  v1::ListChannelsResponse bobs = ListFor(bob);
  ASSERT_EQ(bobs.channels_size(), 1);
  EXPECT_EQ(bobs.channels(0).channel().id(), alpha.id());
  EXPECT_EQ(bobs.channels(0).role(), v1::MEMBER_ROLE_MEMBER);
  EXPECT_EQ(ListFor(ada).channels_size(), 3);

  v1::ListChannelsRequest r;
  r.set_public_only(true);
  r.set_viewer_id(bob.id());
  r.set_page_size(1);
  std::vector<std::string> names;
  std::string token;
  do {
    r.set_page_token(token);
    v1::ListChannelsResponse out;
    ASSERT_TRUE(channels_->ListChannels(Ctx().get(), r, &out).ok());
    for (const auto& e : out.channels()) names.push_back(e.channel().name());
    token = out.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(names, (std::vector<std::string>{"alpha", "zeta"}))
      << "public channels by name, private ones never";

  v1::ListChannelsRequest bad;
  v1::ListChannelsResponse out;
  ExpectError(channels_->ListChannels(Ctx().get(), bad, &out), StatusCode::INVALID_ARGUMENT,
              "member_id");
}

TEST_F(ChannelServiceTest, DirectChannelsAreOnePerSetOfUsers) {
  v1::User ada = User("ada");
  v1::User bob = User("bob");
  v1::User cat = User("cat");
  v1::GetOrCreateDirectChannelRequest r;
  r.add_user_ids(ada.id());
  r.add_user_ids(bob.id());
  r.set_actor_id(ada.id());
  v1::Channel first, second, group;
  ASSERT_TRUE(channels_->GetOrCreateDirectChannel(Ctx().get(), r, &first).ok());
  EXPECT_EQ(first.type(), v1::CHANNEL_TYPE_DIRECT);
  EXPECT_EQ(first.member_count(), 2);
  v1::GetOrCreateDirectChannelRequest reversed;
  reversed.add_user_ids(bob.id());
  reversed.add_user_ids(ada.id());
  reversed.set_actor_id(bob.id());
  ASSERT_TRUE(channels_->GetOrCreateDirectChannel(Ctx().get(), reversed, &second).ok());
  EXPECT_EQ(first.id(), second.id()) << "order of users does not matter";
  r.add_user_ids(cat.id());
  ASSERT_TRUE(channels_->GetOrCreateDirectChannel(Ctx().get(), r, &group).ok());
  EXPECT_NE(group.id(), first.id()) << "a group DM is another channel";
  EXPECT_EQ(group.member_count(), 3);

  v1::GetOrCreateDirectChannelRequest bad;
  bad.add_user_ids(ada.id());
  bad.set_actor_id(ada.id());
  ExpectError(channels_->GetOrCreateDirectChannel(Ctx().get(), bad, &group),
              StatusCode::INVALID_ARGUMENT, "user_ids");
  bad.add_user_ids(ada.id());
  ExpectError(channels_->GetOrCreateDirectChannel(Ctx().get(), bad, &group),
              StatusCode::INVALID_ARGUMENT, "distinct");
  v1::GetOrCreateDirectChannelRequest ghost;
  ghost.add_user_ids(ada.id());
  ghost.add_user_ids(NewUlid());
  ghost.set_actor_id(ada.id());
  ExpectError(channels_->GetOrCreateDirectChannel(Ctx().get(), ghost, &group),
              StatusCode::NOT_FOUND, "user_ids");
  // The asker must be one of the users: nobody learns another pair's DM.
  v1::GetOrCreateDirectChannelRequest nosy = r;
  nosy.set_actor_id(NewUlid());
  ExpectError(channels_->GetOrCreateDirectChannel(Ctx().get(), nosy, &group),
              StatusCode::PERMISSION_DENIED, "actor_id");
  nosy.clear_actor_id();
  ExpectError(channels_->GetOrCreateDirectChannel(Ctx().get(), nosy, &group),
              StatusCode::INVALID_ARGUMENT, "actor_id");
  ExpectError(Add(first, cat, ada), StatusCode::FAILED_PRECONDITION, "direct");
}

TEST_F(ChannelServiceTest, ConcurrentDirectChannelCreationYieldsOneChannel) {
  v1::User ada = User("ada");
  v1::User bob = User("bob");
  constexpr int kCallers = 8;
  std::vector<std::string> ids(kCallers);
  std::vector<grpc::Status> statuses(kCallers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      v1::GetOrCreateDirectChannelRequest r;
      r.add_user_ids(i % 2 ? ada.id() : bob.id());
      r.add_user_ids(i % 2 ? bob.id() : ada.id());
      r.set_actor_id(ada.id());
      v1::Channel c;
      statuses[i] = channels_->GetOrCreateDirectChannel(Ctx().get(), r, &c);
      ids[i] = c.id();
    });
  }
  for (auto& t : threads) t.join();
  for (const grpc::Status& s : statuses) EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u)
      << "every racing caller gets the same channel";
  EXPECT_EQ(db_.Query("SELECT count(*) FROM channels WHERE type = 'dm'"), "1")
      << "one row in the database";
  EXPECT_EQ(db_.Query("SELECT count(*) FROM channel_members"), "2") << "two memberships";
}

// A member who never read a busy channel: the count stops at the cap
// (1000 = "1000 or more") instead of reading the whole channel.
TEST_F(ChannelServiceTest, UnreadCountsStopAtTheCap) {
  v1::User ada = User("ada");
  v1::User bob = User("bob");
  v1::Channel c = Channel(ada, "busy");
  Join(c, bob, bob);
  db_.Query(
      absl::StrCat("INSERT INTO messages (id, channel_id, user_id, content) SELECT '7ZZZZZ' || "
                   "lpad(n::text, 20, '0'), '",
                   c.id(), "', '", ada.id(), "', 'message ' || n FROM generate_series(1, ",
                   kUnreadCountCap + 5, ") n"));
  v1::GetReadStateRequest g;
  g.set_channel_id(c.id());
  g.set_user_id(bob.id());
  v1::ReadState state;
  ASSERT_TRUE(channels_->GetReadState(Ctx().get(), g, &state).ok());
  EXPECT_EQ(state.unread_count(), kUnreadCountCap);
  v1::ListChannelsResponse list = ListFor(bob);
  ASSERT_EQ(list.channels_size(), 1);
  EXPECT_EQ(list.channels(0).unread_count(), kUnreadCountCap);
  // Under the cap the count is exact.
  v1::MarkReadRequest r;
  r.set_channel_id(c.id());
  r.set_user_id(bob.id());
  r.set_message_id(db_.Query(absl::StrCat("SELECT id FROM messages WHERE channel_id = '", c.id(),
                                          "' ORDER BY id DESC OFFSET 7 LIMIT 1")));
  ASSERT_TRUE(channels_->MarkRead(Ctx().get(), r, &state).ok());
  EXPECT_EQ(state.unread_count(), 7);
}

TEST_F(ChannelServiceTest, ReadStateNeverMovesBackwards) {
  v1::User ada = User("ada");
  v1::User bob = User("bob");
  v1::Channel c = Channel(ada, "general");
  Join(c, bob, bob);
  v1::Message m1 = Post(c, ada, "one");
  v1::Message m2 = Post(c, ada, "two");
  Post(c, ada, "three");
  Post(c, bob, "bob's own message is not unread for bob");

  v1::GetReadStateRequest g;
  g.set_channel_id(c.id());
  g.set_user_id(bob.id());
  v1::ReadState state;
  ASSERT_TRUE(channels_->GetReadState(Ctx().get(), g, &state).ok());
  EXPECT_EQ(state.unread_count(), 3);

  v1::MarkReadRequest r;
  r.set_channel_id(c.id());
  r.set_user_id(bob.id());
  r.set_message_id(m2.id());
  ASSERT_TRUE(channels_->MarkRead(Ctx().get(), r, &state).ok());
  EXPECT_EQ(state.last_read_message_id(), m2.id());
  EXPECT_EQ(state.unread_count(), 1);
  r.set_message_id(m1.id());
  ASSERT_TRUE(channels_->MarkRead(Ctx().get(), r, &state).ok());
  EXPECT_EQ(state.last_read_message_id(), m2.id()) << "the marker never moves backwards";

  v1::ListChannelsResponse list = ListFor(bob);
  ASSERT_EQ(list.channels_size(), 1);
  EXPECT_EQ(list.channels(0).unread_count(), 1) << "ListChannels carries unread counts";

  v1::Channel other = Channel(ada, "other");
  v1::Message elsewhere = Post(other, ada, "elsewhere");
  r.set_message_id(elsewhere.id());
  ExpectError(channels_->MarkRead(Ctx().get(), r, &state), StatusCode::NOT_FOUND, "message_id");
  v1::User eve = User("eve");
  r.set_user_id(eve.id());
  r.set_message_id(m1.id());
  ExpectError(channels_->MarkRead(Ctx().get(), r, &state), StatusCode::PERMISSION_DENIED, "member");
}

}  // namespace
}  // namespace chatgenius
