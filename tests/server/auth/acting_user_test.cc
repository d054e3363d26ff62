// The acting-user table against the protos, and CheckActingUser's verdicts.
#include "server/auth/acting_user.h"

#include <cstdlib>
#include <fstream>
#include <map>

#include <google/protobuf/descriptor.h>

#include "chatgenius/db/v1/admin_service.pb.h"
#include "chatgenius/db/v1/channel_service.pb.h"
#include "chatgenius/db/v1/event_service.pb.h"
#include "chatgenius/db/v1/message_service.pb.h"
#include "chatgenius/db/v1/migration_service.pb.h"
#include "chatgenius/db/v1/reaction_service.pb.h"
#include "chatgenius/db/v1/user_service.pb.h"
#include "gtest/gtest.h"
#include "tests/support/jwt_signer.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

constexpr char kSecret[] = "acting-user-test-secret-of-32-bytes!";
constexpr char kIssuer[] = "https://chatgenius.test/";
constexpr char kAudience[] = "chatgenius-db";

// End-user checks with a real verifier and a two-user directory.
class ActingUserCheck : public ::testing::Test {
 protected:
  ActingUserCheck() {
    const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/secret";
    std::ofstream(path) << kSecret;
    JwtSettings settings;
    settings.hs256_secret_file = path;
    settings.issuer = kIssuer;
    settings.audience = kAudience;
    verifier_ = std::move(*JwtVerifier::Create(settings));
    auth_.verifier = verifier_.get();
    auth_.resolve = [](const std::string& subject) -> absl::StatusOr<std::string> {
      if (subject == "auth0|ada") return std::string("01ADA");
      return absl::NotFoundError("nobody");
    };
  }
  absl::Status Check(const std::string& subject, const google::protobuf::Message& request,
                     long long exp_in_s = 3600) {
    std::multimap<grpc::string_ref, grpc::string_ref> metadata;
    token_ = testing::SignHs256(kSecret, testing::Claims(subject, kIssuer, kAudience, exp_in_s));
    if (!subject.empty()) metadata.emplace(kEndUserTokenMetadata, token_);
    return CheckActingUser(metadata, request, &auth_);
  }
  std::unique_ptr<JwtVerifier> verifier_;
  EndUserAuth auth_;
  std::string token_;
};

TEST(ActingUserTest, EveryMethodIsInTheTable) {
  int methods = 0;
  for (const google::protobuf::FileDescriptor* file :
       {v1::User::descriptor()->file(), v1::Channel::descriptor()->file(),
        v1::Message::descriptor()->file(), v1::Reaction::descriptor()->file(),
        v1::Event::descriptor()->file(), v1::MigrationStatus::descriptor()->file(),
        v1::PoolStats::descriptor()->file()}) {
    for (int s = 0; s < file->service_count(); ++s) {
      for (int m = 0; m < file->service(s)->method_count(); ++m) {
        const auto* method = file->service(s)->method(m);
        bool known = false;
        ActingUserFields(method->input_type()->full_name(), &known);
        EXPECT_TRUE(known) << method->full_name()
                           << ": say which field names its acting user (or none)";
        ++methods;
      }
    }
  }
  EXPECT_GE(methods, 40);
}

TEST_F(ActingUserCheck, OnlyTheTokensUserMayAct) {
  v1::PostMessageRequest post;
  post.set_author_id("01ADA");
  EXPECT_TRUE(Check("auth0|ada", post).ok());
  post.set_author_id("01BOB");
  absl::Status other = Check("auth0|ada", post);
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(other.message().find("author_id"), absl::string_view::npos) << other;
  v1::AddAttachmentRequest attach;  // a nested field
  attach.mutable_attachment()->set_uploader_id("01BOB");
  EXPECT_EQ(Check("auth0|ada", attach).code(), absl::StatusCode::kPermissionDenied);
  v1::ListChannelsRequest list;  // either field may name the user
  list.set_public_only(true);
  list.set_viewer_id("01BOB");
  EXPECT_EQ(Check("auth0|ada", list).code(), absl::StatusCode::kPermissionDenied);
  v1::GetUserRequest directory;  // nobody acts: anyone's profile
  directory.set_id("01BOB");
  EXPECT_TRUE(Check("auth0|ada", directory).ok());
  post.set_author_id("01ADA");
  EXPECT_EQ(Check("auth0|ada", post, -3600).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Check("auth0|gone", post).code(), absl::StatusCode::kPermissionDenied)
      << "a subject no live user has";
  // No token: the processor admitted the call (an admin caller).
  EXPECT_TRUE(Check("", post).ok());
  // End-user tokens off.
  EXPECT_TRUE(CheckActingUser({}, post, nullptr).ok());
}

TEST_F(ActingUserCheck, ANewUserIsTheTokensSubject) {
  v1::CreateUserRequest create;
  create.mutable_user()->set_auth0_id("auth0|new");
  EXPECT_TRUE(Check("auth0|new", create).ok()) << "no user has it yet";
  create.mutable_user()->set_auth0_id("auth0|someone-else");
  EXPECT_EQ(Check("auth0|new", create).code(), absl::StatusCode::kPermissionDenied);
  create.mutable_user()->clear_auth0_id();
  EXPECT_EQ(Check("auth0|new", create).code(), absl::StatusCode::kPermissionDenied);
}

TEST(ActingUserTest, PathsThatActForAUser) {
  EXPECT_TRUE(ActsForAUser("/chatgenius.db.v1.MessageService/PostMessage"));
  EXPECT_TRUE(ActsForAUser("/chatgenius.db.v1.UserService/CreateUser"));
  EXPECT_TRUE(ActsForAUser("/chatgenius.db.v1.EventService/Subscribe"));
  EXPECT_FALSE(ActsForAUser("/chatgenius.db.v1.UserService/GetUser"));
  EXPECT_FALSE(ActsForAUser("/chatgenius.db.v1.AdminService/GetPoolStats"));
  EXPECT_FALSE(ActsForAUser("/grpc.health.v1.Health/Check"));
  EXPECT_FALSE(ActsForAUser("/nonsense"));
}

}  // namespace
}  // namespace chatgenius
