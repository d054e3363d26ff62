// EventService through a real gRPC server and PostgreSQL: payloads and
// order, user filters that follow joins and leaves, resume without gap or
// duplicate, concurrent writers with delayed commits, a killed LISTEN
// backend, slow consumers, 1,000 subscribers, two server processes, pruned
// cursors and shutdown.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "chatgenius/db/v1/event_service.grpc.pb.h"
#include "server/common/ulid.h"
#include "server/db/transaction.h"
#include "server/service/event_service.h"
#include "server/store/event_store.h"
#include "tests/support/domain_fixture.h"
#include "tests/support/private_postgres.h"
#include "tests/support/server_process.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using grpc::StatusCode;

// Collector reads one Subscribe stream on its own thread.
class Collector {
 public:
  Collector(v1::EventService::Stub* stub, const v1::SubscribeRequest& request) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    reader_ = stub->Subscribe(&context_, request);
    thread_ = std::thread([this] {
      v1::Event e;
      while (reader_->Read(&e)) {
        absl::MutexLock lock(&mu_);
        events_.push_back(e);
      }
      grpc::Status s = reader_->Finish();
      absl::MutexLock lock(&mu_);
      status_ = s;
      finished_ = true;
    });
  }
  ~Collector() {
    context_.TryCancel();
    thread_.join();
  }

  bool WaitFor(size_t n, absl::Duration timeout = absl::Seconds(20)) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return events_.size() >= n || finished_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
    return events_.size() >= n;
  }
  // WaitForMessage waits for the event of the message with `content`. Used
  // as a sentinel: events come in id order, so once the one committed last
  // has arrived, anything that should not have been sent before it would
  // be here too — no quiet period needed.
  bool WaitForMessage(const std::string& content, absl::Duration timeout = absl::Seconds(20)) {
    absl::MutexLock lock(&mu_);
    auto arrived = [this, &content]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return finished_ || std::any_of(events_.begin(), events_.end(), [&](const v1::Event& e) {
               return e.message().content() == content;
             });
    };
    mu_.AwaitWithTimeout(absl::Condition(&arrived), timeout);
    return std::any_of(events_.begin(), events_.end(),
                       [&](const v1::Event& e) { return e.message().content() == content; });
  }
  bool WaitFinished(absl::Duration timeout = absl::Seconds(20)) {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return finished_; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  }
  std::vector<v1::Event> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  grpc::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  void Cancel() { context_.TryCancel(); }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader_;
  absl::Mutex mu_;
  std::vector<v1::Event> events_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

v1::SubscribeRequest ForChannel(const v1::User& viewer, const std::string& channel,
                                int64_t after = 0) {
  v1::SubscribeRequest r;
  r.add_channel_ids(channel);
  r.set_viewer_id(viewer.id());
  r.set_after_event_id(after);
  return r;
}

v1::SubscribeRequest ForUser(const std::string& user, int64_t after = 0) {
  v1::SubscribeRequest r;
  r.set_user_id(user);
  r.set_after_event_id(after);
  return r;
}

void ExpectIncreasingIds(const std::vector<v1::Event>& events) {
  for (size_t i = 1; i < events.size(); ++i) {
    ASSERT_LT(events[i - 1].id(), events[i].id()) << "ids must strictly increase at " << i;
  }
}

class EventServiceTest : public testing::DomainTest {
 protected:
  EventServiceTest() {
    events_ = v1::EventService::NewStub(server_.channel());
    ada_ = User("ada");
    bob_ = User("bob");
    general_ = Channel(ada_, "general");
    Join(general_, bob_, bob_);
    WaitForHubToCatchUp();
  }

  // Live-only subscriptions start at the hub's position; waiting for it to
  // pass the setup's events keeps them out of the tests' streams.
  void WaitForHubToCatchUp() {
    const int64_t latest = db_.LatestEventPosition();
    absl::Time until = absl::Now() + absl::Seconds(20);
    while (server_.server()->hub().stats().position < latest && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_GE(server_.server()->hub().stats().position, latest);
  }

  // Waits until the hub has `n` registered subscribers (a live-only
  // subscription sees events committed after that point).
  void WaitForSubscribers(int n, testing::TestServer* server = nullptr) {
    server = server != nullptr ? server : &server_;
    absl::Time until = absl::Now() + absl::Seconds(20);
    while (server->server()->hub().stats().subscribers < n && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_GE(server->server()->hub().stats().subscribers, n);
  }

  std::unique_ptr<v1::EventService::Stub> events_;
  v1::User ada_, bob_;
  v1::Channel general_;
};

TEST_F(EventServiceTest, LiveEventsCarryRenderablePayloadsInOrder) {
  Collector bobs(events_.get(), ForUser(bob_.id()));
  WaitForSubscribers(1);
  v1::Message m = Post(general_, ada_, "hello bob");
  v1::UpdateMessageRequest edit;
  edit.mutable_message()->set_id(m.id());
  edit.mutable_message()->set_content("hello, bob");
  edit.mutable_update_mask()->add_paths("content");
  edit.set_actor_id(ada_.id());
  v1::Message edited;
  ASSERT_TRUE(messages_->UpdateMessage(Ctx().get(), edit, &edited).ok());
  v1::AddReactionRequest react;
  react.set_message_id(m.id());
  react.set_user_id(bob_.id());
  react.set_emoji(":wave:");
  v1::Reaction reaction;
  ASSERT_TRUE(reactions_->AddReaction(Ctx().get(), react, &reaction).ok());
  ASSERT_TRUE(reactions_->AddReaction(Ctx().get(), react, &reaction).ok());  // no-op: no event
  v1::DeleteMessageRequest del;
  del.set_id(m.id());
  del.set_actor_id(ada_.id());
  google::protobuf::Empty empty;
  ASSERT_TRUE(messages_->DeleteMessage(Ctx().get(), del, &empty).ok());

  Post(general_, ada_, "sentinel");
  ASSERT_TRUE(bobs.WaitForMessage("sentinel")) << bobs.status().error_message();
  std::vector<v1::Event> got = bobs.events();
  ASSERT_EQ(got.size(), 5u) << "the repeated reaction must not produce an event";
  got.pop_back();  // the sentinel
  ExpectIncreasingIds(got);
  EXPECT_EQ(got[0].kind(), v1::EVENT_KIND_MESSAGE_CREATED);
  EXPECT_EQ(got[0].message().content(), "hello bob") << "the message as it was created";
  EXPECT_EQ(got[0].message().author().username(), "ada") << "author summary included";
  EXPECT_EQ(got[0].channel_id(), general_.id());
  EXPECT_EQ(got[0].actor_id(), ada_.id());
  EXPECT_GT(got[0].create_time().seconds(), 0);
  EXPECT_EQ(got[1].kind(), v1::EVENT_KIND_MESSAGE_UPDATED);
  EXPECT_EQ(got[1].message().content(), "hello, bob");
  EXPECT_EQ(got[2].kind(), v1::EVENT_KIND_REACTION_ADDED);
  EXPECT_EQ(got[2].reaction().emoji(), ":wave:");
  EXPECT_EQ(got[3].kind(), v1::EVENT_KIND_MESSAGE_DELETED);
  EXPECT_EQ(got[3].message().id(), m.id());
}

TEST_F(EventServiceTest, UserFilterFollowsJoinsAndLeaves) {
  v1::User eve = User("eve");
  Collector eves(events_.get(), ForUser(eve.id()));
  WaitForSubscribers(1);
  Post(general_, ada_, "before eve joined");
  Join(general_, eve, eve);
  Post(general_, ada_, "while eve is here");
  v1::RemoveMemberRequest leave;
  leave.set_channel_id(general_.id());
  leave.set_user_id(eve.id());
  leave.set_actor_id(eve.id());
  google::protobuf::Empty empty;
  ASSERT_TRUE(channels_->RemoveMember(Ctx().get(), leave, &empty).ok());
  Post(general_, ada_, "after eve left");
  v1::SetUserStatusRequest status;
  status.mutable_status()->set_user_id(eve.id());
  status.mutable_status()->set_presence(v1::PRESENCE_AWAY);
  v1::UserStatus out;
  ASSERT_TRUE(users_->SetUserStatus(Ctx().get(), status, &out).ok());

  // Sentinel: a message eve sees (her own DM would do; a channel she
  // joins again is simpler).
  Join(general_, eve, eve);
  Post(general_, ada_, "sentinel");
  ASSERT_TRUE(eves.WaitForMessage("sentinel")) << eves.status().error_message();
  std::vector<v1::Event> got = eves.events();
  ASSERT_EQ(got.size(), 6u) << "four, then the sentinel's join and message";
  EXPECT_EQ(got[0].kind(), v1::EVENT_KIND_MEMBER_JOINED);
  EXPECT_EQ(got[0].member().user().id(), eve.id());
  EXPECT_EQ(got[1].kind(), v1::EVENT_KIND_MESSAGE_CREATED);
  EXPECT_EQ(got[1].message().content(), "while eve is here");
  EXPECT_EQ(got[2].kind(), v1::EVENT_KIND_MEMBER_LEFT);
  EXPECT_EQ(got[3].kind(), v1::EVENT_KIND_USER_STATUS_CHANGED)
      << "the message after leaving is not delivered; her own status is";
  EXPECT_EQ(got[3].user_status().presence(), v1::PRESENCE_AWAY);

  // Bob shares general with ada: ada's status reaches him.
  Collector bobs(events_.get(), ForUser(bob_.id()));
  WaitForSubscribers(2);
  status.mutable_status()->set_user_id(ada_.id());
  ASSERT_TRUE(users_->SetUserStatus(Ctx().get(), status, &out).ok());
  ASSERT_TRUE(bobs.WaitFor(1));
  EXPECT_EQ(bobs.events()[0].kind(), v1::EVENT_KIND_USER_STATUS_CHANGED);
  EXPECT_EQ(bobs.events()[0].user_status().user_id(), ada_.id());
}

TEST_F(EventServiceTest, AttachmentsChangingUpdateTheMessage) {
  v1::Message m = Post(general_, ada_, "see attached");
  Collector c(events_.get(), ForChannel(bob_, general_.id()));
  WaitForSubscribers(1);
  v1::AddAttachmentRequest add;
  *add.mutable_attachment() = NewAttachment(m.id(), ada_.id());
  v1::Attachment added;
  ASSERT_TRUE(messages_->AddAttachment(Ctx().get(), add, &added).ok());
  v1::DeleteAttachmentRequest del;
  del.set_id(added.id());
  del.set_actor_id(ada_.id());
  google::protobuf::Empty out;
  ASSERT_TRUE(messages_->DeleteAttachment(Ctx().get(), del, &out).ok());
  ASSERT_TRUE(c.WaitFor(2));
  std::vector<v1::Event> got = c.events();
  ASSERT_EQ(got[0].kind(), v1::EVENT_KIND_MESSAGE_UPDATED);
  ASSERT_EQ(got[0].message().attachments_size(), 1) << "the message as it is now";
  EXPECT_EQ(got[0].message().attachments(0).id(), added.id());
  ASSERT_EQ(got[1].kind(), v1::EVENT_KIND_MESSAGE_UPDATED);
  EXPECT_EQ(got[1].message().id(), m.id());
  EXPECT_EQ(got[1].message().attachments_size(), 0);
}

TEST_F(EventServiceTest, ATransactionHeldOpenDelaysNobodyElsesEvents) {
  Collector c(events_.get(), ForChannel(ada_, general_.id()));
  WaitForSubscribers(1);
  ConnectionPool pool(PoolSettings{db_.conninfo(), 1});
  EventStore store(&pool);
  absl::Notification appended, release;
  absl::Status held;
  std::thread holder([&] {
    held = RunInTransaction(pool, absl::Now() + absl::Seconds(60), [&](pqxx::transaction_base& t) {
      v1::Event e = NewEvent(v1::EVENT_KIND_CHANNEL_UPDATED, general_.id(), ada_.id());
      e.mutable_channel()->set_id(general_.id());
      e.mutable_channel()->set_description("held open");
      EventStore::AppendIn(t, e);  // its id is drawn now, before everyone else's
      appended.Notify();
      release.WaitForNotificationWithTimeout(absl::Seconds(30));
      return absl::OkStatus();
    });
  });
  appended.WaitForNotification();
  // For 10 s the transaction stays open; posts meanwhile arrive as they
  // commit, each one before the held event (which has the lower id).
  const absl::Time open_until = absl::Now() + absl::Seconds(10);
  int posted = 0;
  for (; absl::Now() < open_until; ++posted) {
    Post(general_, ada_, absl::StrCat("posted while a transaction is open ", posted));
    ASSERT_TRUE(c.WaitFor(posted + 1)) << "post " << posted << " waits for nobody";
    EXPECT_EQ(c.events().back().message().content(),
              absl::StrCat("posted while a transaction is open ", posted));
    absl::SleepFor(absl::Milliseconds(500));
  }
  EXPECT_EQ(c.events().size(), static_cast<size_t>(posted)) << "the held event is not out yet";
  release.Notify();
  holder.join();
  ASSERT_TRUE(held.ok()) << held;
  ASSERT_TRUE(c.WaitFor(posted + 1));
  const std::vector<v1::Event> got = c.events();
  EXPECT_EQ(got.back().channel().description(), "held open") << "delivered once it committed";
  ExpectIncreasingIds(got);
}

TEST_F(EventServiceTest, PollingReaderCatchesUpEveryAcknowledgedMessage) {
  // Six users post for 3 s; a reader keeps disconnecting and resuming from
  // the last event it got — the documented catch-up path.
  std::vector<v1::User> posters;
  for (int i = 0; i < 6; ++i) {
    posters.push_back(User(absl::StrCat("poster", i)));
    Join(general_, posters.back(), posters.back());
  }
  const int64_t start = db_.LatestEventPosition();
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::set<std::string> acknowledged;
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      auto stub = v1::MessageService::NewStub(server_.channel());
      for (int n = 0; !stop.load(); ++n) {
        v1::PostMessageRequest r;
        r.set_channel_id(general_.id());
        r.set_author_id(posters[i].id());
        r.set_content(absl::StrCat("from ", i, " #", n));
        v1::Message out;
        if (stub->PostMessage(Ctx().get(), r, &out).ok()) {
          absl::MutexLock lock(&mu);
          acknowledged.insert(out.id());
        }
      }
    });
  }
  std::set<std::string> seen;
  int64_t cursor = start;
  int sessions = 0;
  auto read_for = [&](absl::Duration d) {
    Collector c(events_.get(), ForChannel(ada_, general_.id(), cursor));
    absl::SleepFor(d);
    for (const v1::Event& e : c.events()) {
      ASSERT_GT(e.id(), cursor) << "nothing at or before the cursor comes again";
      cursor = e.id();
      if (e.kind() == v1::EVENT_KIND_MESSAGE_CREATED) {
        EXPECT_TRUE(seen.insert(e.message().id()).second) << "no message twice";
      }
    }
    ++sessions;
  };
  for (absl::Time until = absl::Now() + absl::Seconds(3); absl::Now() < until;) {
    read_for(absl::Milliseconds(150));
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  read_for(absl::Seconds(1));  // the last ones
  absl::MutexLock lock(&mu);
  EXPECT_GT(acknowledged.size(), 50u);
  EXPECT_EQ(seen, acknowledged) << "every acknowledged message reached the resuming reader ("
                                << sessions << " sessions)";
}

TEST_F(EventServiceTest, ResumeAfterDisconnectHasNoGapAndNoDuplicate) {
  std::vector<v1::Event> first;
  int64_t start;
  {
    Collector c(events_.get(), ForChannel(ada_, general_.id()));
    WaitForSubscribers(1);
    for (int i = 0; i < 5; ++i) Post(general_, ada_, absl::StrCat("part one ", i));
    ASSERT_TRUE(c.WaitFor(5));
    first = c.events();
    start = first.front().id() - 1;
  }
  int64_t resume_after = first[2].id();  // pretend only three arrived
  for (int i = 0; i < 5; ++i) Post(general_, bob_, absl::StrCat("part two ", i));
  Collector resumed(events_.get(), ForChannel(ada_, general_.id(), resume_after));
  ASSERT_TRUE(resumed.WaitFor(7)) << resumed.status().error_message();
  std::vector<v1::Event> rest = resumed.events();
  ASSERT_EQ(rest.size(), 7u) << "2 missed from part one + 5 from part two";
  ExpectIncreasingIds(rest);
  EXPECT_EQ(rest[0].id(), first[3].id()) << "replay starts right after the cursor";
  EXPECT_EQ(rest[1].id(), first[4].id());
  EXPECT_EQ(rest[2].message().content(), "part two 0");
  std::string expected_count = db_.Query(
      absl::StrCat("SELECT count(*) FROM event_positions p JOIN events e ON e.id = p.event_id "
                   "WHERE e.channel_id = '",
                   general_.id(), "' AND p.seq > ", start));
  EXPECT_EQ(std::to_string(first.size() + 5), expected_count);
}

TEST_F(EventServiceTest, ConcurrentWritersWithDelayedCommitsSkipNothing) {
  Collector c(events_.get(), ForChannel(ada_, general_.id()));
  WaitForSubscribers(1);
  ConnectionPool pool(PoolSettings{db_.conninfo(), 32});
  EventStore store(&pool);
  constexpr int kWriters = 32;
  constexpr int kEach = 4;
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 rng(w);
      for (int i = 0; i < kEach; ++i) {
        absl::Status s =
            RunInTransaction(pool, absl::Now() + absl::Seconds(60), [&](pqxx::transaction_base& t) {
              v1::Event e = NewEvent(v1::EVENT_KIND_CHANNEL_UPDATED, general_.id(), ada_.id());
              e.mutable_channel()->set_id(general_.id());
              e.mutable_channel()->set_description(absl::StrCat(w, ":", i));
              // Work before the event, then a delayed commit after it.
              t.exec(absl::StrCat("SELECT pg_sleep(", (rng() % 15) / 1000.0, ")"));
              EventStore::AppendIn(t, e);
              t.exec(absl::StrCat("SELECT pg_sleep(", (rng() % 15) / 1000.0, ")"));
              return absl::OkStatus();
            });
        if (!s.ok()) ++failures;
      }
    });
  }
  // A second subscriber joins mid-way and resumes from the first's cursor.
  ASSERT_TRUE(c.WaitFor(5));
  const int64_t mid = c.events().back().id();
  for (auto& t : writers) t.join();
  ASSERT_EQ(failures.load(), 0);
  Post(general_, ada_, "sentinel");
  ASSERT_TRUE(c.WaitForMessage("sentinel"));
  std::vector<v1::Event> got = c.events();
  // Only the writers' events: the fixture's own (channel created, bob
  // joined) may also arrive, being newer than the hub's position when the
  // subscription registered.
  got.erase(
      std::remove_if(got.begin(), got.end(),
                     [](const v1::Event& e) { return e.kind() != v1::EVENT_KIND_CHANNEL_UPDATED; }),
      got.end());
  ASSERT_EQ(got.size(), static_cast<size_t>(kWriters * kEach)) << "every committed event, once";
  ExpectIncreasingIds(got);
  std::set<std::string> payloads;
  for (const auto& e : got) payloads.insert(e.channel().description());
  EXPECT_EQ(payloads.size(), static_cast<size_t>(kWriters * kEach));

  Collector late(events_.get(), ForChannel(ada_, general_.id(), mid));
  size_t expected_late = 0;
  for (const auto& e : got) expected_late += e.id() > mid;
  ASSERT_TRUE(late.WaitForMessage("sentinel"));
  std::vector<v1::Event> late_got = late.events();
  late_got.erase(
      std::remove_if(late_got.begin(), late_got.end(),
                     [](const v1::Event& e) { return e.kind() != v1::EVENT_KIND_CHANNEL_UPDATED; }),
      late_got.end());
  ASSERT_EQ(late_got.size(), expected_late);
  EXPECT_EQ(late_got.front().id(), got[got.size() - expected_late].id());
}

TEST_F(EventServiceTest, KilledListenBackendLosesNothing) {
  Collector c(events_.get(), ForChannel(ada_, general_.id()));
  WaitForSubscribers(1);
  Post(general_, ada_, "before the kill");
  ASSERT_TRUE(c.WaitFor(1));
  EXPECT_EQ(db_.AdminExec(absl::StrCat("SELECT count(pg_terminate_backend(pid)) FROM "
                                       "pg_stat_activity WHERE application_name = "
                                       "'chatgenius-db-listen' AND datname = '",
                                       db_.name(), "'")),
            "1")
      << "one LISTEN connection per server process";
  for (int i = 0; i < 5; ++i) Post(general_, ada_, absl::StrCat("during reconnect ", i));
  ASSERT_TRUE(c.WaitFor(6)) << "events written while the hub reconnects are caught up";
  std::vector<v1::Event> got = c.events();
  EXPECT_EQ(got.size(), 6u);
  ExpectIncreasingIds(got);
  EXPECT_GE(server_.server()->hub().stats().reconnects_total, 1);
}

TEST_F(EventServiceTest, TheHubReadsOncePerRoundNotOncePerWakeUp) {
  Collector c(events_.get(), ForChannel(ada_, general_.id()));
  WaitForSubscribers(1);
  Post(general_, ada_, "one");
  ASSERT_TRUE(c.WaitFor(1));
  const EventHub& hub = server_.server()->hub();
  // Settled: the round's in-process wake and its NOTIFY have both arrived.
  absl::SleepFor(absl::Milliseconds(200));
  const int64_t reads = hub.stats().reads_total;
  const int64_t position = hub.stats().position;
  // A NOTIFY naming a position the hub already has is no reason to read
  // (the local sequencer's rounds wake the hub in-process first).
  for (int i = 0; i < 5; ++i) {
    db_.Query(absl::StrCat("SELECT pg_notify('chatgenius_events', '", position, "')"));
  }
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(hub.stats().reads_total, reads) << "no read for positions already fanned out";
  // One naming a later position, or saying nothing, is.
  db_.Query(absl::StrCat("SELECT pg_notify('chatgenius_events', '", position + 1, "')"));
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(hub.stats().reads_total, reads + 1);
  db_.Query("SELECT pg_notify('chatgenius_events', '')");
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(hub.stats().reads_total, reads + 2);
  Post(general_, ada_, "two");
  ASSERT_TRUE(c.WaitFor(2)) << "and events still arrive";
}

TEST_F(EventServiceTest, PrunedCursorIsOutOfRange) {
  for (int i = 0; i < 3; ++i) Post(general_, ada_, absl::StrCat("old ", i));
  int64_t latest = db_.LatestEventPosition();
  ConnectionPool pool(PoolSettings{db_.conninfo()});
  EventStore store(&pool);
  absl::StatusOr<int64_t> pruned =
      store.Prune(absl::ZeroDuration(), 1000, absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_GE(*pruned, 3);
  Collector stale(events_.get(), ForChannel(ada_, general_.id(), 1));
  ASSERT_TRUE(stale.WaitFinished());
  EXPECT_EQ(stale.status().error_code(), StatusCode::OUT_OF_RANGE)
      << stale.status().error_message();
  Collector current(events_.get(), ForChannel(ada_, general_.id(), latest));
  WaitForSubscribers(1);
  Post(general_, ada_, "new");
  ASSERT_TRUE(current.WaitFor(1)) << "a cursor at the pruned boundary still works: "
                                  << current.status().error_message();
  Collector future(events_.get(), ForChannel(ada_, general_.id(), latest + 1000));
  ASSERT_TRUE(future.WaitFinished());
  EXPECT_EQ(future.status().error_code(), StatusCode::OUT_OF_RANGE);
}

TEST_F(EventServiceTest, CursorAheadOfTheHubIsAcceptedAndNotRepeated) {
  // An event committed without a wake-up: the hub reads it only at its next
  // poll (up to kPollInterval later), like a commit whose NOTIFY is still on
  // its way or an id learned from another replica. (If a poll happened to
  // fall between the insert and the subscription, this would pass on the
  // old code too — it cannot fail spuriously, only miss a regression once.)
  const std::string id = db_.Query(absl::StrCat(
      "INSERT INTO events (kind, channel_id, payload) VALUES (", v1::EVENT_KIND_CHANNEL_UPDATED,
      ", '", general_.id(), "', '{\"kind\": \"EVENT_KIND_CHANNEL_UPDATED\"}') RETURNING id"));
  // Its position, as soon as the sequencer (at its next poll: no commit
  // hook woke it) has stamped it.
  std::string unseen;
  for (absl::Time until = absl::Now() + absl::Seconds(10); unseen.empty() && absl::Now() < until;) {
    unseen = db_.Query(absl::StrCat("SELECT seq FROM event_positions WHERE event_id = ", id));
    if (unseen.empty()) absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_FALSE(unseen.empty()) << "the sequencer stamps events inserted by anyone";
  Collector c(events_.get(), ForChannel(ada_, general_.id(), std::stoll(unseen)));
  WaitForSubscribers(1);
  Post(general_, ada_, "after the cursor");
  ASSERT_TRUE(c.WaitFor(1)) << c.status().error_code() << " " << c.status().error_message();
  std::vector<v1::Event> got = c.events();
  EXPECT_EQ(got[0].message().content(), "after the cursor")
      << "the event at the cursor is the caller's already";
  EXPECT_GT(got[0].id(), std::stoll(unseen));
  // Beyond what the database holds is still the caller's error.
  Collector future(events_.get(), ForChannel(ada_, general_.id(), got[0].id() + 1));
  ASSERT_TRUE(future.WaitFinished());
  EXPECT_EQ(future.status().error_code(), StatusCode::OUT_OF_RANGE);
  EXPECT_TRUE(absl::StrContains(future.status().error_message(), "beyond the latest event"))
      << future.status().error_message();
}

TEST_F(EventServiceTest, ResumedUserStreamStartsFromTheMembershipAtItsCursor) {
  v1::User eve = User("eve");
  v1::Channel random = Channel(ada_, "random");
  Join(general_, eve, eve);
  // At the cursor eve is in general, not in random.
  const int64_t cursor = db_.LatestEventPosition();
  Post(random, ada_, "before eve joined random");
  Join(random, eve, eve);
  Post(random, ada_, "after eve joined random");
  Post(general_, ada_, "before eve left general");
  v1::RemoveMemberRequest leave;
  leave.set_channel_id(general_.id());
  leave.set_user_id(eve.id());
  leave.set_actor_id(eve.id());
  google::protobuf::Empty empty;
  ASSERT_TRUE(channels_->RemoveMember(Ctx().get(), leave, &empty).ok());
  Post(general_, ada_, "after eve left general");
  Post(random, ada_, "sentinel");

  // What a live stream from the cursor would have delivered.
  Collector resumed(events_.get(), ForUser(eve.id(), cursor));
  ASSERT_TRUE(resumed.WaitForMessage("sentinel")) << resumed.status().error_message();
  std::vector<v1::Event> got = resumed.events();
  ASSERT_EQ(got.size(), 5u) << "four, then the sentinel";
  EXPECT_EQ(got[0].kind(), v1::EVENT_KIND_MEMBER_JOINED);
  EXPECT_EQ(got[0].channel_id(), random.id()) << "not random's message from before she joined";
  EXPECT_EQ(got[1].message().content(), "after eve joined random");
  EXPECT_EQ(got[2].message().content(), "before eve left general")
      << "general's messages until she left, although she is not in it now";
  EXPECT_EQ(got[3].kind(), v1::EVENT_KIND_MEMBER_LEFT);
  EXPECT_EQ(got[3].channel_id(), general_.id());
}

TEST_F(EventServiceTest, UserStreamFollowsAJoinCommittedWhileItStarts) {
  v1::Channel random = Channel(ada_, "random");  // bob is not in it
  WaitForHubToCatchUp();
  // Hold the stream between reading the log's bounds and what follows...
  pqxx::connection conn(db_.conninfo());
  pqxx::work hold(conn);
  hold.exec0("LOCK TABLE event_retention IN ACCESS EXCLUSIVE MODE");
  Collector c(events_.get(), ForUser(bob_.id()));
  ASSERT_EQ(db_.WaitForLockWaiters(1, absl::Seconds(20)), 1);
  // ...commit a join meanwhile, then let it go on.
  Join(random, bob_, bob_);
  hold.abort();
  WaitForSubscribers(1);
  Post(random, ada_, "for bob, who just joined");
  ASSERT_TRUE(c.WaitFor(1)) << "the join must be in the stream's membership: "
                            << c.status().error_message();
  EXPECT_EQ(c.events().back().message().content(), "for bob, who just joined");
}

TEST_F(EventServiceTest, StreamsNameWhereTheyStartBeforeAnyEvent) {
  const int64_t latest = db_.LatestEventPosition();
  for (int64_t after : {int64_t{0}, latest - 1}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto reader = events_->Subscribe(&context, ForChannel(ada_, general_.id(), after));
    reader->WaitForInitialMetadata();  // no event is coming: it must be sent on its own
    const auto& metadata = context.GetServerInitialMetadata();
    auto it = metadata.find(kStartAfterMetadata);
    ASSERT_TRUE(it != metadata.end()) << "no " << kStartAfterMetadata << " for after=" << after;
    EXPECT_EQ(std::string(it->second.data(), it->second.size()),
              std::to_string(after == 0 ? latest : after))
        << "live-only starts at the latest event; a cursor starts at itself";
    context.TryCancel();
    reader->Finish();
  }
}

// The access rule on streams (channel_access.h), as of each event.
class StreamAccessTest : public EventServiceTest {
 protected:
  StreamAccessTest() {
    secret_ = Channel(ada_, "secret", v1::CHANNEL_TYPE_PRIVATE);
    Join(secret_, bob_, ada_);
    WaitForHubToCatchUp();
  }
  int64_t LatestEvent() { return db_.LatestEventPosition(); }
  void RemoveFromSecret(const v1::User& user) {
    v1::RemoveMemberRequest r;
    r.set_channel_id(secret_.id());
    r.set_user_id(user.id());
    r.set_actor_id(ada_.id());
    google::protobuf::Empty out;
    ASSERT_TRUE(channels_->RemoveMember(Ctx().get(), r, &out).ok());
  }
  static std::vector<v1::EventKind> Kinds(const std::vector<v1::Event>& events) {
    std::vector<v1::EventKind> kinds;
    for (const v1::Event& e : events) kinds.push_back(e.kind());
    return kinds;
  }
  v1::Channel secret_;
};

TEST_F(StreamAccessTest, ChannelStreamsNeedAViewerWhoMayReadThem) {
  v1::User eve = User("eve");
  struct Case {
    v1::SubscribeRequest request;
    StatusCode code;
    const char* text;
  };
  v1::SubscribeRequest no_viewer = ForChannel(bob_, secret_.id());
  no_viewer.clear_viewer_id();
  v1::SubscribeRequest mixed = ForChannel(eve, general_.id());
  mixed.add_channel_ids(secret_.id());
  for (const Case& c : std::vector<Case>{
           {no_viewer, StatusCode::INVALID_ARGUMENT, "viewer_id"},
           {ForChannel(eve, secret_.id()), StatusCode::PERMISSION_DENIED, "channel_ids[0]"},
           {mixed, StatusCode::PERMISSION_DENIED, "channel_ids[1]"},
           {ForChannel(eve, NewUlid()), StatusCode::NOT_FOUND, "channel_ids[0]"},
       }) {
    Collector stream(events_.get(), c.request);
    ASSERT_TRUE(stream.WaitFinished()) << c.request.DebugString();
    EXPECT_EQ(stream.status().error_code(), c.code) << c.request.DebugString();
    EXPECT_TRUE(absl::StrContains(stream.status().error_message(), c.text))
        << stream.status().error_message();
    EXPECT_TRUE(stream.events().empty());
  }
  // A public channel is readable by every live user, a member or not.
  Collector open(events_.get(), ForChannel(eve, general_.id()));
  WaitForSubscribers(1);
  Post(general_, ada_, "hello everyone");
  ASSERT_TRUE(open.WaitFor(1));
  EXPECT_EQ(open.events()[0].kind(), v1::EVENT_KIND_MESSAGE_CREATED);
}

TEST_F(StreamAccessTest, ARemovedMemberGetsTheLeaveThenPermissionDenied) {
  Collector bobs(events_.get(), ForChannel(bob_, secret_.id()));
  WaitForSubscribers(1);
  Post(secret_, ada_, "before");
  ASSERT_TRUE(bobs.WaitFor(1));
  RemoveFromSecret(bob_);
  Post(secret_, ada_, "after bob left");
  ASSERT_TRUE(bobs.WaitFinished());
  EXPECT_EQ(bobs.status().error_code(), StatusCode::PERMISSION_DENIED)
      << bobs.status().error_message();
  EXPECT_EQ(Kinds(bobs.events()), (std::vector<v1::EventKind>{v1::EVENT_KIND_MESSAGE_CREATED,
                                                              v1::EVENT_KIND_MEMBER_LEFT}))
      << "the leave is delivered, nothing after it";

  // Resuming from before the leave replays up to it and ends the same way.
  Collector resumed(events_.get(), ForChannel(bob_, secret_.id(), bobs.events()[0].id()));
  ASSERT_TRUE(resumed.WaitFinished());
  EXPECT_EQ(resumed.status().error_code(), StatusCode::PERMISSION_DENIED)
      << "bob is no longer a member: refused at the start";
  EXPECT_TRUE(resumed.events().empty());
}

TEST_F(StreamAccessTest, ADeletedChannelEndsItsStreams) {
  Collector stream(events_.get(), ForChannel(ada_, general_.id()));
  WaitForSubscribers(1);
  v1::DeleteChannelRequest r;
  r.set_id(general_.id());
  r.set_actor_id(ada_.id());
  google::protobuf::Empty out;
  ASSERT_TRUE(channels_->DeleteChannel(Ctx().get(), r, &out).ok());
  ASSERT_TRUE(stream.WaitFinished());
  EXPECT_EQ(stream.status().error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Kinds(stream.events()), std::vector<v1::EventKind>{v1::EVENT_KIND_CHANNEL_DELETED});
  Collector again(events_.get(), ForChannel(ada_, general_.id()));
  ASSERT_TRUE(again.WaitFinished());
  EXPECT_EQ(again.status().error_code(), StatusCode::NOT_FOUND) << "a deleted channel is not found";
}

TEST_F(StreamAccessTest, ReplayForALateJoinerStartsAtTheirJoin) {
  v1::User cat = User("cat");
  const int64_t cursor = LatestEvent();
  Post(secret_, ada_, "before cat joined");
  Join(secret_, cat, ada_);
  Post(secret_, ada_, "after cat joined");
  Post(secret_, ada_, "sentinel");
  Collector cats(events_.get(), ForChannel(cat, secret_.id(), cursor));
  ASSERT_TRUE(cats.WaitForMessage("sentinel"));
  std::vector<v1::Event> got = cats.events();
  ASSERT_EQ(Kinds(got), (std::vector<v1::EventKind>{v1::EVENT_KIND_MEMBER_JOINED,
                                                    v1::EVENT_KIND_MESSAGE_CREATED,
                                                    v1::EVENT_KIND_MESSAGE_CREATED}));
  EXPECT_EQ(got[1].message().content(), "after cat joined")
      << "nothing from before cat could read the channel";
  // Bob, a member throughout, gets all three from the same cursor.
  Collector bobs(events_.get(), ForChannel(bob_, secret_.id(), cursor));
  ASSERT_TRUE(bobs.WaitFor(3));
  EXPECT_EQ(bobs.events()[0].message().content(), "before cat joined");
}

TEST_F(StreamAccessTest, DeletedUsersCannotSubscribe) {
  v1::User gus = User("gus");
  Join(general_, gus, gus);
  v1::DeleteUserRequest del;
  del.set_id(gus.id());
  google::protobuf::Empty out;
  ASSERT_TRUE(users_->DeleteUser(Ctx().get(), del, &out).ok());
  for (const v1::SubscribeRequest& r : {ForUser(gus.id()), ForChannel(gus, general_.id())}) {
    Collector stream(events_.get(), r);
    ASSERT_TRUE(stream.WaitFinished());
    EXPECT_EQ(stream.status().error_code(), StatusCode::NOT_FOUND) << r.DebugString();
  }
}

TEST_F(EventServiceTest, BadRequestsAreInvalidArgument) {
  v1::SubscribeRequest both = ForUser(ada_.id());
  both.add_channel_ids(general_.id());
  for (const v1::SubscribeRequest& r : {v1::SubscribeRequest(), both, ForChannel(ada_, "nope"),
                                        ForChannel(ada_, general_.id(), -1)}) {
    Collector c(events_.get(), r);
    ASSERT_TRUE(c.WaitFinished());
    EXPECT_EQ(c.status().error_code(), StatusCode::INVALID_ARGUMENT) << r.DebugString();
  }
}

TEST_F(EventServiceTest, ShutdownEndsStreamsWithUnavailableAndResumeId) {
  Collector c(events_.get(), ForChannel(ada_, general_.id()));
  WaitForSubscribers(1);
  Post(general_, ada_, "last words");
  ASSERT_TRUE(c.WaitFor(1));
  server_.server()->Shutdown(absl::Seconds(2));
  ASSERT_TRUE(c.WaitFinished());
  EXPECT_EQ(c.status().error_code(), StatusCode::UNAVAILABLE);
  // The resume id is the last write gRPC confirmed: at most the last event
  // received (resuming may repeat one, never skip one).
  const std::string message = c.status().error_message();
  size_t at = message.find("after_event_id=");
  ASSERT_NE(at, std::string::npos) << message;
  int64_t resume = std::stoll(message.substr(at + strlen("after_event_id=")));
  EXPECT_LE(resume, c.events().back().id()) << message;
  EXPECT_GE(resume, c.events().front().id() - 1) << message;
}

// A server with a tiny per-stream queue, for the slow-consumer test.
class SmallQueueTest : public testing::DomainTest {
 protected:
  SmallQueueTest() : DomainTest([](Config& c) { c.event_stream_queue = 20; }, {}) {
    ada_ = User("ada");
    general_ = Channel(ada_, "general");
  }
  v1::User ada_;
  v1::Channel general_;
};

TEST_F(SmallQueueTest, SlowConsumerIsCutOffWhileAFastOneKeepsUp) {
  const v1::User& ada = ada_;
  const v1::Channel& general = general_;

  auto fast_stub = v1::EventService::NewStub(testing::SeparateConnection(server_.address(), false));
  auto slow_stub = v1::EventService::NewStub(testing::SeparateConnection(server_.address(), true));
  Collector fast(fast_stub.get(), ForChannel(ada, general.id()));
  // The slow one opens its stream and never reads.
  grpc::ClientContext slow_context;
  slow_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  std::unique_ptr<grpc::ClientReader<v1::Event>> slow =
      slow_stub->Subscribe(&slow_context, ForChannel(ada, general.id()));
  absl::Time until = absl::Now() + absl::Seconds(20);
  while (server_.server()->hub().stats().subscribers < 2 && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  constexpr int kPosts = 150;
  const std::string big(30000, 'x');  // fills HTTP/2 windows quickly
  for (int i = 0; i < kPosts; ++i) {
    Post(general, ada, absl::StrCat(i, big));
    // "Keeps up" made exact: the fast subscriber is never more than 10
    // events behind (its queue holds 20), however busy the machine is.
    if (i >= 10) {
      ASSERT_TRUE(fast.WaitFor(i - 9)) << "the fast subscriber stalled at " << i;
    }
  }
  ASSERT_TRUE(fast.WaitFor(kPosts))
      << "the fast subscriber gets everything: " << fast.events().size();
  v1::Event e;
  int slow_got = 0;
  while (slow->Read(&e)) ++slow_got;
  grpc::Status s = slow->Finish();
  EXPECT_EQ(s.error_code(), StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_NE(s.error_message().find("after_event_id="), std::string::npos) << s.error_message();
  EXPECT_LT(slow_got, kPosts) << "the slow subscriber was cut off";
}

TEST_F(SmallQueueTest, AFarBehindSubscriberCatchesUpWhileEventsKeepComing) {
  // Resumes 200 events back on a server whose streams queue 20, reading
  // slowly while 100 more arrive: the live backlog overflows during the
  // replay. Ending the stream there would hand back the same cursor (nothing
  // was written yet), for ever; instead the replay takes those from the log.
  const v1::User& ada = ada_;
  const v1::Channel& general = general_;
  // Big enough that a 64 KiB window holds two: the server sees the slow
  // reader (small windows below) instead of gRPC buffering for it.
  auto post = [&](int i) { Post(general, ada, absl::StrCat("m", i, std::string(30000, 'x'))); };
  const int64_t cursor = db_.LatestEventPosition();
  for (int i = 0; i < 200; ++i) post(i);

  auto stub = v1::EventService::NewStub(testing::SeparateConnection(server_.address(), true));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = stub->Subscribe(&context, ForChannel(ada, general.id(), cursor));
  std::vector<int64_t> ids;
  v1::Event e;
  ASSERT_TRUE(reader->Read(&e)) << "the replay has begun";
  ids.push_back(e.id());
  std::thread writer([&] {
    for (int i = 200; i < 300; ++i) post(i);
  });
  while (static_cast<int>(ids.size()) < 300 && reader->Read(&e)) {
    ids.push_back(e.id());
    absl::SleepFor(absl::Milliseconds(5));  // a slow reader
  }
  writer.join();
  context.TryCancel();
  grpc::Status s = reader->Finish();
  EXPECT_EQ(ids.size(), 300u) << "every event, the replayed and the new: " << s.error_message();
  for (size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]) << "in order, once";
}

TEST_F(EventServiceTest, ThousandSubscribersAllReceiveEveryEvent) {
  constexpr int kStreams = 1000;
  grpc::CompletionQueue cq;
  struct Stream {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientAsyncReader<v1::Event>> reader;
    v1::Event event;
    int received = 0;
  };
  std::vector<std::unique_ptr<Stream>> streams(kStreams);
  auto stub = v1::EventService::NewStub(server_.channel());
  for (int i = 0; i < kStreams; ++i) {
    streams[i] = std::make_unique<Stream>();
    streams[i]->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    streams[i]->reader =
        stub->AsyncSubscribe(&streams[i]->context, ForChannel(ada_, general_.id()), &cq,
                             reinterpret_cast<void*>(static_cast<intptr_t>(i * 2)));
  }
  WaitForSubscribers(kStreams);
  constexpr int kEvents = 3;
  for (int i = 0; i < kEvents; ++i) Post(general_, ada_, absl::StrCat("to all ", i));
  int complete = 0;
  absl::Time until = absl::Now() + absl::Seconds(60);
  while (complete < kStreams && absl::Now() < until) {
    void* tag;
    bool ok;
    if (cq.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + std::chrono::seconds(1)) !=
        grpc::CompletionQueue::GOT_EVENT) {
      continue;
    }
    intptr_t t = reinterpret_cast<intptr_t>(tag);
    Stream& s = *streams[t / 2];
    if (!ok) continue;
    if (t % 2 == 1 && ++s.received == kEvents) ++complete;
    if (s.received < kEvents) s.reader->Read(&s.event, reinterpret_cast<void*>(t | 1));
  }
  EXPECT_EQ(complete, kStreams) << "every stream got all " << kEvents << " events";
  for (auto& s : streams) s->context.TryCancel();
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(EventServiceTest, TwoServerProcessesDeliverEachOthersEvents) {
  // A second server process on the same database, started from the binary.
  const int port = testing::FreeLoopbackPort();
  pid_t pid = testing::StartServerProcess(db_.config(), port);
  auto other =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(other);
  bool serving = false;
  for (absl::Time until = absl::Now() + absl::Seconds(20); !serving && absl::Now() < until;) {
    grpc::ClientContext hc;
    hc.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    grpc::health::v1::HealthCheckResponse r;
    serving = health->Check(&hc, {}, &r).ok() &&
              r.status() == grpc::health::v1::HealthCheckResponse::SERVING;
    if (!serving) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(serving) << "second server process did not become ready";

  auto other_events = v1::EventService::NewStub(other);
  Collector on_other(other_events.get(), ForChannel(ada_, general_.id()));
  Collector on_this(events_.get(), ForChannel(ada_, general_.id()));
  WaitForSubscribers(1);
  absl::SleepFor(absl::Milliseconds(300));  // the other process registers its stream
  Post(general_, ada_, "written through process one");
  auto other_messages = v1::MessageService::NewStub(other);
  v1::PostMessageRequest p;
  p.set_channel_id(general_.id());
  p.set_author_id(bob_.id());
  p.set_content("written through process two");
  v1::Message m;
  grpc::ClientContext pc;
  ASSERT_TRUE(other_messages->PostMessage(&pc, p, &m).ok());

  EXPECT_TRUE(on_other.WaitFor(2)) << "process two sees process one's write";
  EXPECT_TRUE(on_this.WaitFor(2)) << "process one sees process two's write";
  if (on_other.events().size() >= 2 && on_this.events().size() >= 2) {
    EXPECT_EQ(on_other.events()[0].id(), on_this.events()[0].id());
    EXPECT_EQ(on_other.events()[1].message().content(), "written through process two");
  }
  on_other.Cancel();
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "graceful exit on SIGTERM";
}

// The backend holding the sequencer's leader lock in this test's database
// ("" if none): key 0x6367646200000003 as (classid, objid).
std::string LeaderBackend(const testing::TestDatabase& db) {
  return db.Query(
      "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
      "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 1667720290 AND l.objid = 3 "
      "AND d.datname = current_database()");
}

// PostLoad posts through `channels` (round robin) until Stop(), keeping the
// ids of acknowledged messages.
class PostLoad {
 public:
  PostLoad(std::vector<std::shared_ptr<grpc::Channel>> channels, const v1::Channel& channel,
           const v1::User& author)
      : thread_([this, channels, channel, author] {
          for (int n = 0; !stop_.load(); ++n) {
            auto stub = v1::MessageService::NewStub(channels[n % channels.size()]);
            v1::PostMessageRequest r;
            r.set_channel_id(channel.id());
            r.set_author_id(author.id());
            r.set_content(absl::StrCat("load ", n));
            v1::Message out;
            grpc::ClientContext context;
            context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
            if (stub->PostMessage(&context, r, &out).ok()) {
              absl::MutexLock lock(&mu_);
              acknowledged_.insert(out.id());
            }
          }
        }) {}
  ~PostLoad() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::set<std::string> acknowledged() {
    absl::MutexLock lock(&mu_);
    return acknowledged_;
  }

 private:
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::set<std::string> acknowledged_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// Every acknowledged message exactly once, in increasing positions.
void ExpectEveryMessageOnce(Collector& c, const std::set<std::string>& acknowledged) {
  ASSERT_TRUE(c.WaitFor(acknowledged.size(), absl::Seconds(30)));
  absl::SleepFor(absl::Milliseconds(300));  // nothing more may come
  std::vector<v1::Event> got = c.events();
  ExpectIncreasingIds(got);
  std::set<std::string> seen;
  for (const v1::Event& e : got) {
    if (e.kind() != v1::EVENT_KIND_MESSAGE_CREATED) continue;
    EXPECT_TRUE(seen.insert(e.message().id()).second) << "delivered twice: " << e.message().id();
  }
  EXPECT_EQ(seen, acknowledged);
}

TEST_F(EventServiceTest, SequencerLeaderTerminatedUnderLoadAnotherTakesOverLosingNothing) {
  testing::TestServer second(db_.config());
  ASSERT_TRUE(
      second.WaitForHealth("", grpc::health::v1::HealthCheckResponse::SERVING, absl::Seconds(15)));
  auto second_events = v1::EventService::NewStub(second.channel());
  Collector on_this(events_.get(), ForChannel(ada_, general_.id()));
  Collector on_second(second_events.get(), ForChannel(ada_, general_.id()));
  WaitForSubscribers(1);
  absl::SleepFor(absl::Milliseconds(200));
  PostLoad load({server_.channel(), second.channel()}, general_, ada_);
  // Kill whichever session leads, five times, while posts flow through both.
  int terminated = 0;
  for (int round = 0; round < 5; ++round) {
    absl::SleepFor(absl::Milliseconds(400));
    const std::string pid = LeaderBackend(db_);
    if (pid.empty()) continue;  // between leaders
    if (db_.Query(absl::StrCat("SELECT pg_terminate_backend(", pid, ")")) == "t") ++terminated;
  }
  absl::SleepFor(absl::Milliseconds(500));
  load.Stop();
  const std::set<std::string> acknowledged = load.acknowledged();
  EXPECT_GE(terminated, 3) << "the leader's session was ended repeatedly";
  const int64_t leaderships = server_.server()->sequencer().stats().leaderships_total +
                              second.server()->sequencer().stats().leaderships_total;
  EXPECT_GE(leaderships, terminated + 1) << "a new leader after every termination";
  EXPECT_GT(acknowledged.size(), 20u);
  ExpectEveryMessageOnce(on_this, acknowledged);
  ExpectEveryMessageOnce(on_second, acknowledged);
  EXPECT_EQ(on_this.events().back().id(), on_second.events().back().id())
      << "both replicas' streams follow the same positions";
}

TEST_F(EventServiceTest, SequencerLeaderProcessKilledTheSurvivorTakesOver) {
  const int port = testing::FreeLoopbackPort();
  pid_t pid = testing::StartServerProcess(db_.config(), port);
  // Make the process the leader: end this server's leading session until
  // the process's sequencer is the one holding the lock.
  bool process_leads = false;
  for (absl::Time until = absl::Now() + absl::Seconds(20); !process_leads && absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(300));
    const bool here = server_.server()->sequencer().stats().leader;
    const std::string leader = LeaderBackend(db_);
    process_leads = !here && !leader.empty();
    if (here && !leader.empty())
      db_.Query(absl::StrCat("SELECT pg_terminate_backend(", leader, ")"));
  }
  ASSERT_TRUE(process_leads) << "the server process took the leader lock";
  Collector c(events_.get(), ForChannel(ada_, general_.id()));
  WaitForSubscribers(1);
  PostLoad load({server_.channel()}, general_, ada_);
  absl::SleepFor(absl::Milliseconds(800));
  kill(pid, SIGKILL);  // mid-round or not: its session dies with it
  int status = 0;
  waitpid(pid, &status, 0);
  bool here = false;
  for (absl::Time until = absl::Now() + absl::Seconds(10); !here && absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(50));
    here = server_.server()->sequencer().stats().leader;
  }
  EXPECT_TRUE(here) << "the surviving replica leads once the dead one's session is gone";
  absl::SleepFor(absl::Milliseconds(800));
  load.Stop();
  const std::set<std::string> acknowledged = load.acknowledged();
  EXPECT_GT(acknowledged.size(), 20u);
  ExpectEveryMessageOnce(c, acknowledged);
}

}  // namespace
}  // namespace chatgenius
