// EventFilter's decisions, event by event, without a database.
#include "server/realtime/event_filter.h"

#include <vector>

#include "gtest/gtest.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

StoredEvent Event(v1::EventKind kind, const std::string& channel, const std::string& user = "") {
  StoredEvent e;
  e.event.set_kind(kind);
  e.event.set_channel_id(channel);
  e.user_id = user;
  e.channels = {channel};
  return e;
}
StoredEvent Status(const std::string& user, std::vector<std::string> channels) {
  StoredEvent e;
  e.event.set_kind(v1::EVENT_KIND_USER_STATUS_CHANGED);
  e.user_id = user;
  e.channels = std::move(channels);
  return e;
}
const auto kMessage = v1::EVENT_KIND_MESSAGE_CREATED;
const auto kJoined = v1::EVENT_KIND_MEMBER_JOINED;
const auto kLeft = v1::EVENT_KIND_MEMBER_LEFT;
const auto kDeleted = v1::EVENT_KIND_CHANNEL_DELETED;

TEST(EventFilterTest, UserStreamsFollowTheirOwnJoinsAndLeaves) {
  EventFilter f = EventFilter::ForUser("ada", {"a"});
  EXPECT_TRUE(f.Matches(Event(kMessage, "a")));
  EXPECT_FALSE(f.Matches(Event(kMessage, "b"))) << "not a member of b yet";
  EXPECT_FALSE(f.Matches(Event(kJoined, "b", "bob"))) << "someone else's join";
  EXPECT_TRUE(f.Matches(Event(kJoined, "b", "ada")));
  EXPECT_TRUE(f.Matches(Event(kMessage, "b")));
  EXPECT_TRUE(f.Matches(Event(kLeft, "a", "ada"))) << "one's own leave is delivered";
  EXPECT_FALSE(f.Matches(Event(kMessage, "a"))) << "then nothing more of a";
  EXPECT_TRUE(f.Matches(Event(kDeleted, "b")));
  EXPECT_FALSE(f.Matches(Event(kMessage, "b")));
  EXPECT_FALSE(f.lost_access()) << "user streams never end for this";
}

TEST(EventFilterTest, UserStreamsSeeStatusOfPeopleSharingAChannel) {
  EventFilter f = EventFilter::ForUser("ada", {"a"});
  EXPECT_TRUE(f.Matches(Status("ada", {})));
  EXPECT_TRUE(f.Matches(Status("bob", {"x", "a"})));
  EXPECT_FALSE(f.Matches(Status("eve", {"x"})));
}

TEST(EventFilterTest, ChannelStreamsDeliverOnlyTheRequestedChannels) {
  EventFilter f = EventFilter::ForChannels("ada", {"pub", "priv"}, {"pub"}, {"priv", "other"});
  EXPECT_TRUE(f.Matches(Event(kMessage, "pub")));
  EXPECT_TRUE(f.Matches(Event(kMessage, "priv")));
  EXPECT_FALSE(f.Matches(Event(kMessage, "other"))) << "a member, but not asked for";
  EXPECT_FALSE(f.Matches(Status("ada", {"other"})));
  EXPECT_TRUE(f.Matches(Status("bob", {"pub"})));
}

TEST(EventFilterTest, MayMatchDropsOnlyWhatNoEarlierEventCouldMakeDeliverable) {
  const EventFilter channels = EventFilter::ForChannels("ada", {"a", "p"}, {"a"}, {});
  EXPECT_TRUE(channels.MayMatch(Event(kMessage, "a")));
  EXPECT_TRUE(channels.MayMatch(Event(kMessage, "p"))) << "a join still to come may open it";
  EXPECT_FALSE(channels.MayMatch(Event(kMessage, "z"))) << "never requested: never delivered";
  EXPECT_FALSE(channels.MayMatch(Status("bob", {"z"})));
  EXPECT_TRUE(channels.MayMatch(Status("bob", {"z", "p"})));
  // A user stream's membership can grow with any join: everything may.
  const EventFilter user = EventFilter::ForUser("ada", {"a"});
  EXPECT_TRUE(user.MayMatch(Event(kMessage, "z")));
  // And MayMatch agrees with Matches: whatever it drops, Matches refuses
  // after any history (here: the viewer joining every channel first).
  EventFilter after_joins = EventFilter::ForChannels("ada", {"a", "p"}, {"a"}, {});
  for (const char* c : {"a", "p", "z"}) after_joins.Matches(Event(kJoined, c, "ada"));
  EXPECT_FALSE(after_joins.Matches(Event(kMessage, "z")));
  EXPECT_FALSE(after_joins.Matches(Status("bob", {"z"})));
}

TEST(EventFilterTest, ReplayFromBeforeAJoinStartsAtTheJoin) {
  // At the cursor ada was not yet a member of "priv".
  EventFilter f = EventFilter::ForChannels("ada", {"priv"}, {}, {});
  EXPECT_FALSE(f.Matches(Event(kMessage, "priv"))) << "before ada could read it";
  EXPECT_TRUE(f.Matches(Event(kJoined, "priv", "ada")));
  EXPECT_TRUE(f.Matches(Event(kMessage, "priv")));
  EXPECT_FALSE(f.lost_access());
}

TEST(EventFilterTest, LeavingAPrivateChannelEndsTheStream) {
  EventFilter f = EventFilter::ForChannels("ada", {"priv", "pub"}, {"pub"}, {"priv"});
  EXPECT_TRUE(f.Matches(Event(kLeft, "priv", "bob")));
  EXPECT_FALSE(f.lost_access()) << "someone else left";
  EXPECT_TRUE(f.Matches(Event(kLeft, "priv", "ada"))) << "the leave itself is delivered";
  EXPECT_TRUE(f.lost_access());
  EXPECT_FALSE(f.Matches(Event(kMessage, "pub"))) << "nothing after it, in any channel";
}

TEST(EventFilterTest, LeavingAPublicChannelKeepsReadingIt) {
  EventFilter f = EventFilter::ForChannels("ada", {"pub"}, {"pub"}, {"pub"});
  EXPECT_TRUE(f.Matches(Event(kLeft, "pub", "ada")));
  EXPECT_FALSE(f.lost_access()) << "public channels are readable by every live user";
  EXPECT_TRUE(f.Matches(Event(kMessage, "pub")));
}

TEST(EventFilterTest, ADeletedChannelEndsTheStream) {
  EventFilter f = EventFilter::ForChannels("ada", {"pub"}, {"pub"}, {});
  EXPECT_TRUE(f.Matches(Event(kDeleted, "pub")));
  EXPECT_TRUE(f.lost_access());
  EventFilter other = EventFilter::ForChannels("ada", {"pub"}, {"pub"}, {});
  EXPECT_FALSE(other.Matches(Event(kDeleted, "elsewhere")));
  EXPECT_FALSE(other.lost_access()) << "another channel's deletion";
}

}  // namespace
}  // namespace chatgenius
