// MessageService through a real gRPC server and PostgreSQL: posting rules,
// idempotency, edit/delete permissions, tombstones, keyset paging in both
// directions, threads, search and attachments.
#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include <google/protobuf/util/message_differencer.h>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "server/common/ulid.h"
#include "server/metrics/limit_hits.h"
#include "tests/support/domain_fixture.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using grpc::StatusCode;

class MessageServiceTest : public testing::DomainTest {
 protected:
  MessageServiceTest() {
    ada_ = User("ada");
    bob_ = User("bob");
    eve_ = User("eve");  // never a member of anything
    general_ = Channel(ada_, "general");
    Join(general_, bob_, bob_);
  }

  grpc::Status TryPost(const std::string& channel, const std::string& author,
                       const std::string& content, v1::Message* out, const std::string& parent = "",
                       const std::string& client_id = "") {
    v1::PostMessageRequest r;
    r.set_channel_id(channel);
    r.set_author_id(author);
    r.set_content(content);
    r.set_thread_parent_id(parent);
    r.set_client_msg_id(client_id);
    return messages_->PostMessage(Ctx().get(), r, out);
  }

  // Walks a listing to the end and returns every message id in order.
  std::vector<std::string> WalkList(const std::string& viewer, int page_size,
                                    const std::string& before = "", const std::string& after = "") {
    std::vector<std::string> ids;
    std::string token;
    for (int pages = 0; pages < 1000; ++pages) {
      v1::ListMessagesRequest r;
      r.set_channel_id(general_.id());
      r.set_viewer_id(viewer);
      r.set_page_size(page_size);
      r.set_page_token(token);
      r.set_before_message_id(before);
      r.set_after_message_id(after);
      v1::ListMessagesResponse out;
      grpc::Status s = messages_->ListMessages(Ctx().get(), r, &out);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const v1::Message& m : out.messages()) ids.push_back(m.id());
      token = out.next_page_token();
      if (token.empty()) break;
    }
    return ids;
  }

  v1::Message Get(const std::string& id, const std::string& viewer = "") {
    v1::GetMessageRequest r;
    r.set_id(id);
    r.set_viewer_id(viewer.empty() ? ada_.id() : viewer);
    v1::Message out;
    grpc::Status s = messages_->GetMessage(Ctx().get(), r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  grpc::Status Delete(const std::string& id, const v1::User& actor) {
    v1::DeleteMessageRequest r;
    r.set_id(id);
    r.set_actor_id(actor.id());
    google::protobuf::Empty e;
    return messages_->DeleteMessage(Ctx().get(), r, &e);
  }

  v1::User ada_, bob_, eve_;
  v1::Channel general_;
};

TEST_F(MessageServiceTest, PostAndGetCarryAuthorSummary) {
  v1::Message m = Post(general_, ada_, "hello world");
  EXPECT_TRUE(IsValidUlid(m.id()));
  EXPECT_EQ(m.channel_id(), general_.id());
  EXPECT_EQ(m.author().id(), ada_.id());
  EXPECT_EQ(m.author().username(), "ada");
  EXPECT_EQ(m.content(), "hello world");
  EXPECT_GT(m.create_time().seconds(), 0);
  EXPECT_FALSE(m.has_edit_time());
  v1::Message got = Get(m.id(), bob_.id());
  EXPECT_EQ(got.SerializeAsString(), m.SerializeAsString()) << got.DebugString();
}

TEST_F(MessageServiceTest, PostRules) {
  v1::Message out;
  ExpectError(TryPost(general_.id(), eve_.id(), "hi", &out), StatusCode::PERMISSION_DENIED,
              "member");
  ExpectError(TryPost(general_.id(), ada_.id(), "", &out), StatusCode::INVALID_ARGUMENT, "content");
  ExpectError(TryPost(general_.id(), ada_.id(), std::string(40001, 'x'), &out),
              StatusCode::INVALID_ARGUMENT, "content");
  EXPECT_TRUE(TryPost(general_.id(), ada_.id(), std::string(40000, 'x'), &out).ok())
      << "exactly 40,000 characters is allowed";
  // 40,000 multi-byte characters count as 40,000, not 80,000.
  std::string accents;
  for (int i = 0; i < 40000; ++i) accents += "\xC3\xA9";
  EXPECT_TRUE(TryPost(general_.id(), ada_.id(), accents, &out).ok());
  ExpectError(TryPost(general_.id(), ada_.id(), std::string("a\0b", 3), &out),
              StatusCode::INVALID_ARGUMENT, "content");
  ExpectError(TryPost(NewUlid(), ada_.id(), "hi", &out), StatusCode::NOT_FOUND, "channel");
  ExpectError(TryPost("nope", ada_.id(), "hi", &out), StatusCode::INVALID_ARGUMENT, "channel_id");
  ExpectError(TryPost(general_.id(), ada_.id(), "hi", &out, "", std::string(65, 'k')),
              StatusCode::INVALID_ARGUMENT, "client_msg_id");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM messages"), "2") << "rejected posts write nothing";
}

TEST_F(MessageServiceTest, SqlMetacharactersAreData) {
  const std::string evil = "'); DROP TABLE messages; -- \\ % _ $1 \"";
  v1::Message m = Post(general_, ada_, evil);
  EXPECT_EQ(Get(m.id()).content(), evil);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM messages"), "1");
}

TEST_F(MessageServiceTest, ClientMsgIdMakesRetriesIdempotent) {
  v1::Message first = Post(general_, ada_, "once", "", "client-123");
  v1::Message retry = Post(general_, ada_, "once", "", "client-123");
  EXPECT_EQ(first.id(), retry.id()) << "a retry returns the stored message";
  EXPECT_EQ(db_.Query("SELECT count(*) FROM messages"), "1") << "nothing duplicated";
  v1::Message other = Post(general_, bob_, "once", "", "client-123");
  EXPECT_NE(other.id(), first.id()) << "client_msg_id is scoped to its author";

  // Concurrent retries of one post store it once.
  std::vector<std::string> ids(6);
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      v1::Message m;
      grpc::Status s = TryPost(general_.id(), ada_.id(), "racy", &m, "", "client-race");
      EXPECT_TRUE(s.ok()) << s.error_message();
      ids[i] = m.id();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM messages WHERE client_msg_id = 'client-race'"), "1");

  v1::Channel random = Channel(ada_, "random");
  v1::Message out;
  ExpectError(TryPost(random.id(), ada_.id(), "x", &out, "", "client-123"),
              StatusCode::ALREADY_EXISTS, "client_msg_id");
  // Any other differing field is another message too, not a retry.
  ExpectError(TryPost(general_.id(), ada_.id(), "once", &out, other.id(), "client-123"),
              StatusCode::ALREADY_EXISTS, "client_msg_id");
  ExpectError(TryPost(general_.id(), ada_.id(), "different words", &out, "", "client-123"),
              StatusCode::ALREADY_EXISTS, "client_msg_id");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM messages WHERE user_id = '" + ada_.id() + "'"), "2")
      << "refused reuses store nothing";
}

TEST_F(MessageServiceTest, AMemberRemovedWhileTheirPostWaitsCannotPost) {
  // Another transaction removes bob the way RemoveMember does: channel row
  // locked, membership deleted, not yet committed.
  pqxx::connection remover(db_.conninfo());
  pqxx::work removal(remover);
  removal.exec("SELECT 1 FROM channels WHERE id = '" + general_.id() + "' FOR UPDATE");
  removal.exec("DELETE FROM channel_members WHERE channel_id = '" + general_.id() +
               "' AND user_id = '" + bob_.id() + "'");
  grpc::Status posted;
  v1::Message out;
  std::thread post([&] { posted = TryPost(general_.id(), bob_.id(), "racing the removal", &out); });
  ASSERT_EQ(db_.WaitForLockWaiters(1, absl::Seconds(10)), 1)
      << "the post waits for the channel row";
  removal.commit();
  post.join();
  ExpectError(posted, StatusCode::PERMISSION_DENIED, "not a member");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM messages"), "0")
      << "the membership is read after the lock, not from before the wait";
}

TEST_F(MessageServiceTest, PagesStopAtTheByteBudgetSoEveryPageIsReadable) {
  // 30 messages of 40,000 four-byte emoji: 4.8 MB, more than gRPC's 4 MiB
  // default receive limit in one page of 50.
  std::string big;
  for (int i = 0; i < 40000; ++i) big += "\xF0\x9F\x98\x80";
  std::set<std::string> posted;
  for (int i = 0; i < 30; ++i) posted.insert(Post(general_, ada_, big).id());
  v1::ListMessagesRequest r;
  r.set_channel_id(general_.id());
  r.set_viewer_id(ada_.id());
  r.set_page_size(50);
  v1::ListMessagesResponse first;
  const int64_t hits = LimitHits::Get(Limit::kResponseBytes);
  grpc::Status s = messages_->ListMessages(Ctx().get(), r, &first);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_LT(first.messages_size(), 30) << "the budget (3 MiB) ended the page early";
  EXPECT_EQ(LimitHits::Get(Limit::kResponseBytes) - hits, 1)
      << "counted as a MAX_RESPONSE_BYTES hit";
  EXPECT_GT(first.messages_size(), 0);
  EXPECT_FALSE(first.next_page_token().empty()) << "and it says there is more";
  EXPECT_LT(first.ByteSizeLong(), 4u << 20);
  const std::vector<std::string> walked = WalkList(ada_.id(), 50);
  EXPECT_EQ(walked.size(), 30u) << "every message once, across budget-sized pages";
  EXPECT_EQ(std::set<std::string>(walked.begin(), walked.end()), posted);
}

TEST_F(MessageServiceTest, SearchPagesStopAtTheByteBudgetToo) {
  std::string big = "findable ";
  for (int i = 0; i < 39990; ++i) big += "\xF0\x9F\x98\x80";
  std::set<std::string> posted;
  for (int i = 0; i < 30; ++i) posted.insert(Post(general_, ada_, big).id());
  std::set<std::string> found;
  const int64_t hits = LimitHits::Get(Limit::kResponseBytes);
  std::string token;
  int pages = 0;
  do {
    v1::SearchMessagesRequest r;
    r.set_user_id(ada_.id());
    r.set_query("findable");
    r.set_page_size(50);
    r.set_page_token(token);
    v1::SearchMessagesResponse page;
    grpc::Status s = messages_->SearchMessages(Ctx().get(), r, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_GT(page.hits_size(), 0);
    EXPECT_LT(page.ByteSizeLong(), 4u << 20) << "every search page fits the 4 MiB limit";
    if (pages == 0) EXPECT_LT(page.hits_size(), 30) << "the budget (3 MiB) ended the first page";
    for (const v1::SearchHit& hit : page.hits()) {
      EXPECT_TRUE(found.insert(hit.message().id()).second) << "no hit twice";
    }
    token = page.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_GT(pages, 1);
  EXPECT_EQ(found, posted) << "every match once, across budget-sized pages";
  EXPECT_GE(LimitHits::Get(Limit::kResponseBytes) - hits, pages - 1) << "each cut page counted";
}

TEST_F(MessageServiceTest, EditIsAuthorOnly) {
  v1::Message m = Post(general_, ada_, "typo");
  v1::UpdateMessageRequest r;
  r.mutable_message()->set_id(m.id());
  r.mutable_message()->set_content("fixed");
  r.mutable_update_mask()->add_paths("content");
  r.set_actor_id(bob_.id());
  v1::Message out;
  ExpectError(messages_->UpdateMessage(Ctx().get(), r, &out), StatusCode::PERMISSION_DENIED,
              "author");
  r.set_actor_id(ada_.id());
  ASSERT_TRUE(messages_->UpdateMessage(Ctx().get(), r, &out).ok());
  EXPECT_EQ(out.content(), "fixed");
  EXPECT_TRUE(out.has_edit_time()) << "edits set edit_time";
  r.mutable_update_mask()->Clear();
  ExpectError(messages_->UpdateMessage(Ctx().get(), r, &out), StatusCode::INVALID_ARGUMENT,
              "update_mask");
  r.mutable_update_mask()->add_paths("content");
  r.mutable_message()->set_id(NewUlid());
  ExpectError(messages_->UpdateMessage(Ctx().get(), r, &out), StatusCode::NOT_FOUND, "not found");
}

TEST_F(MessageServiceTest, DeleteRulesAndTombstones) {
  v1::Message lonely = Post(general_, bob_, "bye");
  v1::Message parent = Post(general_, bob_, "thread start");
  Post(general_, ada_, "a reply", parent.id());

  ExpectError(Delete(lonely.id(), eve_), StatusCode::PERMISSION_DENIED, "not a member");
  v1::Message adas = Post(general_, ada_, "the owner's");
  ExpectError(Delete(adas.id(), bob_), StatusCode::PERMISSION_DENIED, "author");
  ASSERT_TRUE(Delete(adas.id(), ada_).ok());
  ASSERT_TRUE(Delete(lonely.id(), ada_).ok()) << "a channel owner may delete others' messages";
  ASSERT_TRUE(Delete(parent.id(), bob_).ok()) << "the author may delete";
  ExpectError(Delete(lonely.id(), bob_), StatusCode::NOT_FOUND, "not found");

  std::vector<std::string> listed = WalkList(ada_.id(), 50);
  EXPECT_EQ(listed, std::vector<std::string>{parent.id()})
      << "the parent with replies stays as a tombstone; the other is gone";
  v1::Message tomb = Get(parent.id());
  EXPECT_TRUE(tomb.has_delete_time());
  EXPECT_EQ(tomb.content(), "") << "a tombstone keeps no content";
  EXPECT_EQ(tomb.reply_count(), 1);
  v1::GetMessageRequest g;
  g.set_id(lonely.id());
  g.set_viewer_id(ada_.id());
  v1::Message out;
  ExpectError(messages_->GetMessage(Ctx().get(), g, &out), StatusCode::NOT_FOUND, "not found");
}

TEST_F(MessageServiceTest, ThreadsAndReplySummaries) {
  v1::Message parent = Post(general_, ada_, "question?");
  v1::Message r1 = Post(general_, bob_, "answer 1", parent.id());
  v1::Message r2 = Post(general_, ada_, "answer 2", parent.id());
  v1::Message out;
  ExpectError(TryPost(general_.id(), bob_.id(), "nested", &out, r1.id()),
              StatusCode::INVALID_ARGUMENT, "top-level");
  v1::Channel other = Channel(ada_, "other");
  ExpectError(TryPost(other.id(), ada_.id(), "cross", &out, parent.id()),
              StatusCode::INVALID_ARGUMENT, "another channel");
  ExpectError(TryPost(general_.id(), ada_.id(), "ghost", &out, NewUlid()), StatusCode::NOT_FOUND,
              "thread_parent_id");

  v1::Message top = Get(parent.id());
  EXPECT_EQ(top.reply_count(), 2);
  EXPECT_EQ(top.last_reply_time().seconds(), r2.create_time().seconds());
  EXPECT_EQ(WalkList(ada_.id(), 50), std::vector<std::string>{parent.id()})
      << "replies are not top-level messages";

  v1::ListThreadRepliesRequest r;
  r.set_thread_parent_id(parent.id());
  r.set_viewer_id(bob_.id());
  r.set_page_size(1);
  v1::ListThreadRepliesResponse page1, page2;
  ASSERT_TRUE(messages_->ListThreadReplies(Ctx().get(), r, &page1).ok());
  EXPECT_EQ(page1.parent().id(), parent.id()) << "first page carries the parent";
  ASSERT_EQ(page1.replies_size(), 1);
  EXPECT_EQ(page1.replies(0).id(), r1.id()) << "oldest first";
  r.set_page_token(page1.next_page_token());
  ASSERT_TRUE(messages_->ListThreadReplies(Ctx().get(), r, &page2).ok());
  ASSERT_EQ(page2.replies_size(), 1);
  EXPECT_EQ(page2.replies(0).id(), r2.id());
  EXPECT_FALSE(page2.has_parent());
  EXPECT_TRUE(page2.next_page_token().empty());
}

TEST_F(MessageServiceTest, PrivateChannelsAreReadByMembersOnly) {
  v1::Channel secret = Channel(ada_, "secret", v1::CHANNEL_TYPE_PRIVATE);
  v1::Message m = Post(secret, ada_, "classified");
  v1::GetMessageRequest g;
  g.set_id(m.id());
  g.set_viewer_id(eve_.id());
  v1::Message out;
  ExpectError(messages_->GetMessage(Ctx().get(), g, &out), StatusCode::PERMISSION_DENIED, "member");
  v1::ListMessagesRequest l;
  l.set_channel_id(secret.id());
  l.set_viewer_id(eve_.id());
  v1::ListMessagesResponse list;
  ExpectError(messages_->ListMessages(Ctx().get(), l, &list), StatusCode::PERMISSION_DENIED,
              "member");
  l.set_viewer_id(ada_.id());
  ASSERT_TRUE(messages_->ListMessages(Ctx().get(), l, &list).ok());
  EXPECT_EQ(list.messages_size(), 1);
  EXPECT_EQ(Get(m.id(), ada_.id()).content(), "classified") << "members read";
  Post(secret, ada_, "reply", m.id());
  v1::ListThreadRepliesRequest t;
  t.set_thread_parent_id(m.id());
  t.set_viewer_id(eve_.id());
  v1::ListThreadRepliesResponse thread;
  ExpectError(messages_->ListThreadReplies(Ctx().get(), t, &thread), StatusCode::PERMISSION_DENIED,
              "member");
  t.set_viewer_id(ada_.id());
  ASSERT_TRUE(messages_->ListThreadReplies(Ctx().get(), t, &thread).ok());
  EXPECT_EQ(thread.replies_size(), 1);

  // Public channels are readable by anyone; a deleted channel's messages
  // are NOT_FOUND for a viewer (the access check and the message are read
  // by one statement).
  v1::Message open = Post(general_, ada_, "hello");
  EXPECT_EQ(Get(open.id(), eve_.id()).content(), "hello");
  v1::DeleteChannelRequest d;
  d.set_id(secret.id());
  d.set_actor_id(ada_.id());
  google::protobuf::Empty deleted;
  ASSERT_TRUE(channels_->DeleteChannel(Ctx().get(), d, &deleted).ok());
  g.set_viewer_id(ada_.id());
  ExpectError(messages_->GetMessage(Ctx().get(), g, &out), StatusCode::NOT_FOUND,
              "channel " + secret.id() + " not found");
  ExpectError(messages_->ListThreadReplies(Ctx().get(), t, &thread), StatusCode::NOT_FOUND,
              "channel " + secret.id() + " not found");
}

TEST_F(MessageServiceTest, KeysetPagingWalksBothWaysWhileMessagesArrive) {
  constexpr int kMessages = 1000;
  std::vector<std::string> posted;
  for (int i = 0; i < kMessages; ++i)
    posted.push_back(Post(general_, ada_, absl::StrCat("m", i)).id());
  ASSERT_TRUE(std::is_sorted(posted.begin(), posted.end())) << "ids are in posting order";

  // Newest first, with new messages arriving during the walk.
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 200 && !stop; ++i) Post(general_, bob_, absl::StrCat("late", i));
  });
  std::vector<std::string> backwards;
  {
    std::string token;
    v1::ListMessagesRequest r;
    r.set_channel_id(general_.id());
    r.set_viewer_id(ada_.id());
    r.set_page_size(37);
    do {
      r.set_page_token(token);
      v1::ListMessagesResponse out;
      ASSERT_TRUE(messages_->ListMessages(Ctx().get(), r, &out).ok());
      for (const v1::Message& m : out.messages()) backwards.push_back(m.id());
      token = out.next_page_token();
    } while (!token.empty());
  }
  stop = true;
  writer.join();
  EXPECT_EQ(std::set<std::string>(backwards.begin(), backwards.end()).size(), backwards.size())
      << "no duplicate although messages arrived during the walk";
  EXPECT_TRUE(std::is_sorted(backwards.rbegin(), backwards.rend())) << "newest first";
  std::set<std::string> posted_set(posted.begin(), posted.end());
  std::vector<std::string> old_ones;
  for (const std::string& id : backwards) {
    if (posted_set.count(id)) old_ones.push_back(id);
  }
  EXPECT_EQ(old_ones, std::vector<std::string>(posted.rbegin(), posted.rend()))
      << "every message that existed when the walk began is seen: no gap";

  std::vector<std::string> forwards = WalkList(ada_.id(), 41, "", posted.front());
  ASSERT_GE(forwards.size(), posted.size() - 1);
  std::vector<std::string> head(forwards.begin(), forwards.begin() + (kMessages - 1));
  EXPECT_EQ(head, std::vector<std::string>(posted.begin() + 1, posted.end()))
      << "oldest first after a message: no gap, no duplicate";
  EXPECT_TRUE(std::is_sorted(forwards.begin(), forwards.end()));
  EXPECT_EQ(std::set<std::string>(forwards.begin(), forwards.end()).size(), forwards.size());

  v1::ListMessagesRequest both;
  both.set_channel_id(general_.id());
  both.set_viewer_id(ada_.id());
  both.set_before_message_id(posted[5]);
  both.set_after_message_id(posted[1]);
  v1::ListMessagesResponse out;
  ExpectError(messages_->ListMessages(Ctx().get(), both, &out), StatusCode::INVALID_ARGUMENT,
              "not both");
}

TEST_F(MessageServiceTest, ListCarriesReactionsSummaryForTheViewer) {
  v1::Message m = Post(general_, ada_, "react to me");
  for (const auto& [user, emoji] : std::vector<std::pair<v1::User, std::string>>{
           {ada_, ":+1:"}, {bob_, ":+1:"}, {bob_, ":tada:"}}) {
    v1::AddReactionRequest r;
    r.set_message_id(m.id());
    r.set_user_id(user.id());
    r.set_emoji(emoji);
    v1::Reaction out;
    ASSERT_TRUE(reactions_->AddReaction(Ctx().get(), r, &out).ok());
  }
  v1::ListMessagesRequest r;
  r.set_channel_id(general_.id());
  r.set_viewer_id(ada_.id());
  v1::ListMessagesResponse out;
  ASSERT_TRUE(messages_->ListMessages(Ctx().get(), r, &out).ok());
  ASSERT_EQ(out.messages_size(), 1);
  const v1::Message& listed = out.messages(0);
  ASSERT_EQ(listed.reactions_size(), 2);
  EXPECT_EQ(listed.reactions(0).emoji(), ":+1:");
  EXPECT_EQ(listed.reactions(0).count(), 2);
  EXPECT_TRUE(listed.reactions(0).viewer_reacted());
  EXPECT_EQ(listed.reactions(1).emoji(), ":tada:");
  EXPECT_FALSE(listed.reactions(1).viewer_reacted()) << "ada did not use :tada:";
}

TEST_F(MessageServiceTest, SearchFindsStemsAndNeverLeaksOtherChannels) {
  v1::Channel secret = Channel(ada_, "secret", v1::CHANNEL_TYPE_PRIVATE);
  Post(general_, ada_, "We are deploying the new release tonight");
  Post(general_, bob_, "Deployment finished without errors");
  Post(general_, bob_, "Lunch anyone?");
  Post(secret, ada_, "deploy credentials rotated");

  v1::SearchMessagesRequest r;
  r.set_user_id(bob_.id());
  r.set_query("deploy");
  v1::SearchMessagesResponse out;
  ASSERT_TRUE(messages_->SearchMessages(Ctx().get(), r, &out).ok());
  std::set<std::string> contents;
  for (const v1::SearchHit& h : out.hits()) {
    contents.insert(h.message().content());
    EXPECT_NE(h.snippet().find("<b>"), std::string::npos) << "highlighted: " << h.snippet();
    EXPECT_GT(h.rank(), 0);
  }
  EXPECT_EQ(contents, (std::set<std::string>{"We are deploying the new release tonight",
                                             "Deployment finished without errors"}))
      << "stemmed matches in bob's channels only; never the private channel";

  r.set_user_id(ada_.id());
  r.set_author_id(ada_.id());
  ASSERT_TRUE(messages_->SearchMessages(Ctx().get(), r, &out).ok());
  EXPECT_EQ(out.hits_size(), 2) << "ada sees her message in both channels";
  r.add_channel_ids(secret.id());
  ASSERT_TRUE(messages_->SearchMessages(Ctx().get(), r, &out).ok());
  ASSERT_EQ(out.hits_size(), 1);
  EXPECT_EQ(out.hits(0).message().channel_id(), secret.id());

  v1::SearchMessagesRequest paged;
  paged.set_user_id(bob_.id());
  paged.set_query("deploy OR lunch");
  paged.set_page_size(1);
  std::set<std::string> ids;
  std::string token;
  int pages = 0;
  do {
    paged.set_page_token(token);
    ASSERT_TRUE(messages_->SearchMessages(Ctx().get(), paged, &out).ok());
    for (const auto& h : out.hits()) ids.insert(h.message().id());
    token = out.next_page_token();
  } while (!token.empty() && ++pages < 10);
  EXPECT_EQ(ids.size(), 3u) << "search pages cover every hit once";

  v1::SearchMessagesRequest empty;
  empty.set_user_id(bob_.id());
  ExpectError(messages_->SearchMessages(Ctx().get(), empty, &out), StatusCode::INVALID_ARGUMENT,
              "query");
}

TEST_F(MessageServiceTest, Attachments) {
  v1::Message m = Post(general_, ada_, "see file");
  v1::AddAttachmentRequest r;
  v1::Attachment* a = r.mutable_attachment();
  a->set_message_id(m.id());
  a->set_uploader_id(ada_.id());
  a->set_name("plan.pdf");
  a->set_content_type("application/pdf");
  a->set_size_bytes(12345);
  a->set_storage_url("s3://bucket/plan.pdf");
  a->set_sha256(std::string(64, 'a'));
  v1::Attachment stored;
  ASSERT_TRUE(messages_->AddAttachment(Ctx().get(), r, &stored).ok());
  EXPECT_EQ(stored.channel_id(), general_.id());
  EXPECT_EQ(stored.size_bytes(), 12345);

  a->set_uploader_id(bob_.id());
  v1::Attachment out;
  ExpectError(messages_->AddAttachment(Ctx().get(), r, &out), StatusCode::PERMISSION_DENIED,
              "author");
  a->set_uploader_id(ada_.id());
  a->set_sha256("XYZ");
  ExpectError(messages_->AddAttachment(Ctx().get(), r, &out), StatusCode::INVALID_ARGUMENT,
              "attachment.sha256");
  a->set_sha256(std::string(64, 'b'));
  a->set_content_type("not a mime");
  ExpectError(messages_->AddAttachment(Ctx().get(), r, &out), StatusCode::INVALID_ARGUMENT,
              "attachment.content_type");

  EXPECT_EQ(Get(m.id()).attachments_size(), 1) << "messages carry their attachments";
  EXPECT_EQ(Get(m.id()).attachments(0).name(), "plan.pdf");
  // Rendered inside the message (from the row's JSON extras) with every
  // field AddAttachment answered (from a row of its own).
  const v1::Attachment rendered = Get(m.id()).attachments(0);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(rendered, stored))
      << rendered.DebugString() << "vs\n"
      << stored.DebugString();
  EXPECT_GT(rendered.create_time().seconds(), 0);

  v1::ListAttachmentsRequest l;
  l.set_channel_id(general_.id());
  l.set_viewer_id(bob_.id());
  v1::ListAttachmentsResponse list;
  ASSERT_TRUE(messages_->ListAttachments(Ctx().get(), l, &list).ok());
  ASSERT_EQ(list.attachments_size(), 1);
  l.set_message_id(m.id());
  ASSERT_TRUE(messages_->ListAttachments(Ctx().get(), l, &list).ok());
  EXPECT_EQ(list.attachments_size(), 1);

  v1::DeleteAttachmentRequest d;
  d.set_id(stored.id());
  d.set_actor_id(bob_.id());
  google::protobuf::Empty e;
  ExpectError(messages_->DeleteAttachment(Ctx().get(), d, &e), StatusCode::PERMISSION_DENIED,
              "uploader");
  d.set_actor_id(ada_.id());
  ASSERT_TRUE(messages_->DeleteAttachment(Ctx().get(), d, &e).ok());
  ExpectError(messages_->DeleteAttachment(Ctx().get(), d, &e), StatusCode::NOT_FOUND, "not found");
}

TEST_F(MessageServiceTest, DeadlineBoundsTheQuery) {
  v1::GetMessageRequest r;
  r.set_id(Post(general_, ada_, "x").id());
  r.set_viewer_id(ada_.id());
  v1::Message out;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1));
  absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(messages_->GetMessage(&context, r, &out).error_code(), StatusCode::DEADLINE_EXCEEDED);
}

}  // namespace
}  // namespace chatgenius
