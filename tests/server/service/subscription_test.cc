// ValidateSubscribe: the shape of a SubscribeRequest, before any read.
// (StartStream's cursor and access rules run against PostgreSQL in
// event_service_test and access_matrix_test.)
#include "server/service/subscription.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

constexpr char kChannel[] = "01HZZZZZZZZZZZZZZZZZZZZZZ1";
constexpr char kUser[] = "01HZZZZZZZZZZZZZZZZZZZZZZ2";

v1::SubscribeRequest ChannelStream() {
  v1::SubscribeRequest r;
  r.add_channel_ids(kChannel);
  r.set_viewer_id(kUser);
  return r;
}

// The request is refused INVALID_ARGUMENT with `field` first in the message.
void ExpectRefused(const v1::SubscribeRequest& r, const std::string& field) {
  const absl::Status s = ValidateSubscribe(r);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), field + ":")) << s;
}

TEST(ValidateSubscribeTest, AcceptsAChannelStreamAndAUserStream) {
  EXPECT_TRUE(ValidateSubscribe(ChannelStream()).ok()) << ValidateSubscribe(ChannelStream());
  v1::SubscribeRequest user;
  user.set_user_id(kUser);
  EXPECT_TRUE(ValidateSubscribe(user).ok()) << ValidateSubscribe(user);
  user.set_viewer_id(kUser);  // the same reader, said twice
  EXPECT_TRUE(ValidateSubscribe(user).ok()) << ValidateSubscribe(user);
}

TEST(ValidateSubscribeTest, NeedsExactlyOneOfChannelsOrUser) {
  ExpectRefused(v1::SubscribeRequest(), "channel_ids");
  v1::SubscribeRequest both = ChannelStream();
  both.set_user_id(kUser);
  ExpectRefused(both, "channel_ids");
}

TEST(ValidateSubscribeTest, AChannelStreamNeedsItsViewer) {
  v1::SubscribeRequest r = ChannelStream();
  r.clear_viewer_id();
  ExpectRefused(r, "viewer_id");
}

TEST(ValidateSubscribeTest, AUserStreamReadsAsItsUserOnly) {
  v1::SubscribeRequest r;
  r.set_user_id(kUser);
  r.set_viewer_id(kChannel);  // someone else
  ExpectRefused(r, "viewer_id");
}

TEST(ValidateSubscribeTest, ChannelIdsAreBoundedAndWellFormed) {
  v1::SubscribeRequest r = ChannelStream();
  r.add_channel_ids("not-an-id");
  ExpectRefused(r, "channel_ids[1]");
  v1::SubscribeRequest many = ChannelStream();
  for (int i = 1; i < kMaxSubscribeChannels; ++i) many.add_channel_ids(kChannel);
  EXPECT_TRUE(ValidateSubscribe(many).ok()) << "exactly the bound is allowed";
  many.add_channel_ids(kChannel);
  ExpectRefused(many, "channel_ids");
  EXPECT_TRUE(absl::StrContains(ValidateSubscribe(many).message(),
                                absl::StrCat("at most ", kMaxSubscribeChannels)));
}

TEST(ValidateSubscribeTest, ACursorIsNotNegative) {
  v1::SubscribeRequest r = ChannelStream();
  r.set_after_event_id(-1);
  ExpectRefused(r, "after_event_id");
}

}  // namespace
}  // namespace chatgenius
