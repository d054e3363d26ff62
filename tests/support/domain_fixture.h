// domain_fixture.h
//
// DomainTest: a gtest fixture with a fresh database, a real server and a
// stub per domain service, plus one-line helpers that create users,
// channels and messages (failing the test if they cannot), so each test
// states only what it is about.
#ifndef CHATGENIUS_TESTS_SUPPORT_DOMAIN_FIXTURE_H_
#define CHATGENIUS_TESTS_SUPPORT_DOMAIN_FIXTURE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/client_context.h>

#include "chatgenius/db/v1/channel_service.grpc.pb.h"
#include "chatgenius/db/v1/message_service.grpc.pb.h"
#include "chatgenius/db/v1/reaction_service.grpc.pb.h"
#include "chatgenius/db/v1/user_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/test_database.h"
#include "tests/support/test_server.h"

namespace chatgenius::testing {

class DomainTest : public ::testing::Test {
 public:
  using Metadata = std::vector<std::pair<std::string, std::string>>;

 protected:
  DomainTest();
  // A server whose config `configure` adjusts (e.g. caller auth), and
  // `metadata` (e.g. a bearer token) on every Ctx() of this test.
  DomainTest(const std::function<void(Config&)>& configure, Metadata metadata);
  ~DomainTest() override;

  // Fresh context with a 10 s deadline (and the test's metadata).
  static std::unique_ptr<grpc::ClientContext> Ctx();

  db::v1::User User(const std::string& username);
  db::v1::Channel Channel(const db::v1::User& creator, const std::string& name,
                          db::v1::ChannelType type = db::v1::CHANNEL_TYPE_PUBLIC);
  // SetRole changes `user`'s role in `channel`, acting as `actor`.
  grpc::Status SetRole(const db::v1::Channel& channel, const db::v1::User& user,
                       const db::v1::User& actor, db::v1::MemberRole role);
  // Adds `user` to `channel`, acting as `actor` (an owner or the user).
  void Join(const db::v1::Channel& channel, const db::v1::User& user, const db::v1::User& actor);
  db::v1::Message Post(const db::v1::Channel& channel, const db::v1::User& author,
                       const std::string& content, const std::string& parent_id = "",
                       const std::string& client_msg_id = "");

  // NewAttachment is valid attachment metadata for `message_id` by
  // `uploader_id` (plan.txt on s3).
  static db::v1::Attachment NewAttachment(const std::string& message_id,
                                          const std::string& uploader_id);

  // ExpectError checks the code and that the message mentions `text`.
  static void ExpectError(const grpc::Status& status, grpc::StatusCode code,
                          const std::string& text);

  TestDatabase db_;
  TestServer server_;
  std::unique_ptr<db::v1::UserService::Stub> users_;
  std::unique_ptr<db::v1::ChannelService::Stub> channels_;
  std::unique_ptr<db::v1::MessageService::Stub> messages_;
  std::unique_ptr<db::v1::ReactionService::Stub> reactions_;
};

}  // namespace chatgenius::testing

#endif  // CHATGENIUS_TESTS_SUPPORT_DOMAIN_FIXTURE_H_
