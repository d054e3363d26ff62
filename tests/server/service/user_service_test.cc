// UserService through a real gRPC server on loopback and a real PostgreSQL.
#include <set>
#include <string>
#include <vector>

#include <grpcpp/client_context.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "chatgenius/db/v1/user_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/common/ulid.h"
#include "tests/support/test_database.h"
#include "tests/support/test_server.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using testing::SetDeadline;

class UserServiceTest : public ::testing::Test {
 protected:
  UserServiceTest() : server_(db_.config()) { stub_ = v1::UserService::NewStub(server_.channel()); }

  grpc::Status Create(const std::string& username, v1::User* out, const std::string& email = "") {
    v1::CreateUserRequest request;
    request.mutable_user()->set_username(username);
    request.mutable_user()->set_email(email.empty() ? username + "@example.com" : email);
    request.mutable_user()->set_display_name("Name " + username);
    grpc::ClientContext context;
    SetDeadline(&context);
    return stub_->CreateUser(&context, request, out);
  }

  v1::User MustCreate(const std::string& username) {
    v1::User user;
    grpc::Status s = Create(username, &user);
    EXPECT_TRUE(s.ok()) << "create " << username << ": " << s.error_message();
    return user;
  }

  std::vector<v1::User> ListAll(const std::string& query = "") {
    std::vector<v1::User> all;
    std::string token;
    do {
      v1::ListUsersRequest request;
      request.set_page_size(1000);
      request.set_page_token(token);
      request.set_query(query);
      v1::ListUsersResponse response;
      grpc::ClientContext context;
      SetDeadline(&context);
      grpc::Status s = stub_->ListUsers(&context, request, &response);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      all.insert(all.end(), response.users().begin(), response.users().end());
      token = response.next_page_token();
    } while (!token.empty());
    return all;
  }

  static void ExpectCode(const grpc::Status& s, grpc::StatusCode code, const std::string& text) {
    EXPECT_EQ(s.error_code(), code) << "message: " << s.error_message();
    EXPECT_TRUE(absl::StrContains(s.error_message(), text))
        << "message should mention '" << text << "': " << s.error_message();
  }

  testing::TestDatabase db_;
  testing::TestServer server_;
  std::unique_ptr<v1::UserService::Stub> stub_;
};

TEST_F(UserServiceTest, CreateAndGet) {
  v1::User created = MustCreate("ada");
  EXPECT_TRUE(IsValidUlid(created.id())) << created.id();
  EXPECT_EQ(created.username(), "ada");
  EXPECT_EQ(created.email(), "ada@example.com");
  EXPECT_EQ(created.display_name(), "Name ada");
  EXPECT_GT(created.create_time().seconds(), 1700000000) << "create_time must be set";

  v1::GetUserRequest request;
  request.set_id(created.id());
  v1::User got;
  grpc::ClientContext context;
  SetDeadline(&context);
  ASSERT_TRUE(stub_->GetUser(&context, request, &got).ok());
  EXPECT_EQ(got.SerializeAsString(), created.SerializeAsString()) << got.DebugString();
}

TEST_F(UserServiceTest, DuplicatesAreAlreadyExists) {
  MustCreate("ada");
  v1::User out;
  ExpectCode(Create("ada", &out, "other@example.com"), grpc::StatusCode::ALREADY_EXISTS,
             "user.username");
  ExpectCode(Create("ada2", &out, "ADA@Example.com"), grpc::StatusCode::ALREADY_EXISTS,
             "user.email");
  EXPECT_EQ(ListAll().size(), 1u) << "failed creates must write nothing";
}

TEST_F(UserServiceTest, BadInputIsInvalidArgumentAndWritesNothing) {
  struct Case {
    std::string username, email, display_name, avatar_url, field;
  };
  std::vector<Case> cases = {
      {"Ada", "a@b.co", "", "", "user.username"},
      {"ada; DROP TABLE users", "a@b.co", "", "", "user.username"},
      {"ada", "not-an-email", "", "", "user.email"},
      {"ada", "a@b.co", std::string(81, 'x'), "", "user.display_name"},
      {"ada", "a@b.co", std::string("nul\0byte", 8), "", "user.display_name"},
      {"ada", "a@b.co", "", "ftp://x", "user.avatar_url"},
  };
  for (const Case& c : cases) {
    v1::CreateUserRequest request;
    request.mutable_user()->set_username(c.username);
    request.mutable_user()->set_email(c.email);
    request.mutable_user()->set_display_name(c.display_name);
    request.mutable_user()->set_avatar_url(c.avatar_url);
    v1::User out;
    grpc::ClientContext context;
    SetDeadline(&context);
    ExpectCode(stub_->CreateUser(&context, request, &out), grpc::StatusCode::INVALID_ARGUMENT,
               c.field);
  }
  v1::CreateUserRequest empty;
  v1::User out;
  grpc::ClientContext context;
  SetDeadline(&context);
  ExpectCode(stub_->CreateUser(&context, empty, &out), grpc::StatusCode::INVALID_ARGUMENT, "user");
  EXPECT_TRUE(ListAll().empty()) << "nothing may be written by rejected requests";
}

// Proto3 string fields must be UTF-8: gRPC's C++ deserializer refuses
// such a request with INTERNAL before the service runs (documented in the
// README's limitations). What matters here: nothing is written.
TEST_F(UserServiceTest, InvalidUtf8NeverReachesTheDatabase) {
  v1::CreateUserRequest request;
  request.mutable_user()->set_username("ada");
  request.mutable_user()->set_email("a@b.co");
  request.mutable_user()->set_display_name("bad \xFF utf8");
  v1::User out;
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Status s = stub_->CreateUser(&context, request, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL) << s.error_message();
  EXPECT_TRUE(ListAll().empty());
}

TEST_F(UserServiceTest, GetErrors) {
  v1::User out;
  {
    v1::GetUserRequest request;
    request.set_id("nope");
    grpc::ClientContext context;
    SetDeadline(&context);
    ExpectCode(stub_->GetUser(&context, request, &out), grpc::StatusCode::INVALID_ARGUMENT, "id");
  }
  {
    v1::GetUserRequest request;
    request.set_id(NewUlid());
    grpc::ClientContext context;
    SetDeadline(&context);
    ExpectCode(stub_->GetUser(&context, request, &out), grpc::StatusCode::NOT_FOUND, "not found");
  }
}

TEST_F(UserServiceTest, LookupByEmailAndUsername) {
  v1::User ada = MustCreate("ada");
  v1::User out;
  {
    v1::LookupUserRequest request;
    request.set_email("ADA@example.COM");
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub_->LookupUser(&context, request, &out).ok());
    EXPECT_EQ(out.id(), ada.id()) << "email lookup is case-insensitive";
  }
  {
    v1::LookupUserRequest request;
    request.set_username("ada");
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub_->LookupUser(&context, request, &out).ok());
    EXPECT_EQ(out.id(), ada.id());
  }
  {
    v1::LookupUserRequest request;
    request.set_username("bob");
    grpc::ClientContext context;
    SetDeadline(&context);
    ExpectCode(stub_->LookupUser(&context, request, &out), grpc::StatusCode::NOT_FOUND, "bob");
  }
  {
    v1::LookupUserRequest request;
    grpc::ClientContext context;
    SetDeadline(&context);
    ExpectCode(stub_->LookupUser(&context, request, &out), grpc::StatusCode::INVALID_ARGUMENT,
               "key");
  }
}

TEST_F(UserServiceTest, BatchGetKeepsOrderAndSkipsMissing) {
  v1::User a = MustCreate("a1");
  v1::User b = MustCreate("b1");
  v1::BatchGetUsersRequest request;
  request.add_ids(b.id());
  request.add_ids(NewUlid());
  request.add_ids(a.id());
  v1::BatchGetUsersResponse response;
  grpc::ClientContext context;
  SetDeadline(&context);
  ASSERT_TRUE(stub_->BatchGetUsers(&context, request, &response).ok());
  ASSERT_EQ(response.users_size(), 2);
  EXPECT_EQ(response.users(0).id(), b.id()) << "order of the request";
  EXPECT_EQ(response.users(1).id(), a.id());

  request.add_ids("bad");
  grpc::ClientContext context2;
  SetDeadline(&context2);
  ExpectCode(stub_->BatchGetUsers(&context2, request, &response),
             grpc::StatusCode::INVALID_ARGUMENT, "ids[3]");
}

TEST_F(UserServiceTest, UpdateWithFieldMask) {
  v1::User ada = MustCreate("ada");
  MustCreate("bob");
  absl::SleepFor(absl::Milliseconds(5));
  v1::UpdateUserRequest request;
  request.mutable_user()->set_id(ada.id());
  request.mutable_user()->set_display_name("Countess");
  request.mutable_user()->set_username("ignored-not-in-mask");
  request.mutable_update_mask()->add_paths("display_name");
  v1::User out;
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub_->UpdateUser(&context, request, &out).ok());
  }
  EXPECT_EQ(out.display_name(), "Countess");
  EXPECT_EQ(out.username(), "ada") << "fields outside the mask must not change";
  EXPECT_GT(out.update_time().seconds() * 1000000000LL + out.update_time().nanos(),
            ada.update_time().seconds() * 1000000000LL + ada.update_time().nanos())
      << "update_time must advance";

  request.mutable_update_mask()->Clear();
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ExpectCode(stub_->UpdateUser(&context, request, &out), grpc::StatusCode::INVALID_ARGUMENT,
               "update_mask");
  }
  request.mutable_update_mask()->add_paths("is_bot");
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ExpectCode(stub_->UpdateUser(&context, request, &out), grpc::StatusCode::INVALID_ARGUMENT,
               "is_bot");
  }
  request.mutable_update_mask()->Clear();
  request.mutable_update_mask()->add_paths("username");
  request.mutable_user()->set_username("bob");
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ExpectCode(stub_->UpdateUser(&context, request, &out), grpc::StatusCode::ALREADY_EXISTS,
               "user.username");
  }
  request.mutable_user()->set_id(NewUlid());
  request.mutable_user()->set_username("carol");
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ExpectCode(stub_->UpdateUser(&context, request, &out), grpc::StatusCode::NOT_FOUND,
               "not found");
  }
}

TEST_F(UserServiceTest, ListPagesWithKeysetTokens) {
  std::set<std::string> created;
  for (int i = 0; i < 25; ++i) created.insert(MustCreate(absl::StrCat("user", i)).id());

  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    v1::ListUsersRequest request;
    request.set_page_size(10);
    request.set_page_token(token);
    v1::ListUsersResponse response;
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub_->ListUsers(&context, request, &response).ok());
    for (const v1::User& u : response.users()) seen.push_back(u.id());
    token = response.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3) << "25 users in pages of 10";
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), created) << "no gap";
  EXPECT_EQ(seen.size(), created.size()) << "no duplicate";
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end())) << "ordered by id";
}

TEST_F(UserServiceTest, ListRejectsTamperedOrForeignTokens) {
  for (int i = 0; i < 3; ++i) MustCreate(absl::StrCat("user", i));
  v1::ListUsersRequest request;
  request.set_page_size(1);
  v1::ListUsersResponse response;
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub_->ListUsers(&context, request, &response).ok());
  }
  ASSERT_FALSE(response.next_page_token().empty());
  std::string token = response.next_page_token();

  std::string tampered = token;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  request.set_page_token(tampered);
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ExpectCode(stub_->ListUsers(&context, request, &response), grpc::StatusCode::INVALID_ARGUMENT,
               "page_token");
  }
  request.set_page_token(token);
  request.set_query("user");
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ExpectCode(stub_->ListUsers(&context, request, &response), grpc::StatusCode::INVALID_ARGUMENT,
               "page_token");
  }
  request.set_page_token("");
  request.set_page_size(1001);
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ExpectCode(stub_->ListUsers(&context, request, &response), grpc::StatusCode::INVALID_ARGUMENT,
               "page_size");
  }
}

TEST_F(UserServiceTest, ListQueryIsALiteralPrefix) {
  MustCreate("alice");
  MustCreate("alfred");
  MustCreate("bob");
  EXPECT_EQ(ListAll("al").size(), 2u);
  EXPECT_EQ(ListAll("NAME B").size(), 1u) << "display name prefix, case-insensitive";
  EXPECT_TRUE(ListAll("%").empty()) << "LIKE wildcards in the query are literal";
  EXPECT_TRUE(ListAll("_").empty()) << "LIKE wildcards in the query are literal";
}

TEST_F(UserServiceTest, SoftDelete) {
  v1::User ada = MustCreate("ada");
  google::protobuf::Empty empty;
  v1::DeleteUserRequest request;
  request.set_id(ada.id());
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub_->DeleteUser(&context, request, &empty).ok());
  }
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ExpectCode(stub_->DeleteUser(&context, request, &empty), grpc::StatusCode::NOT_FOUND,
               "not found");
  }
  v1::GetUserRequest get;
  get.set_id(ada.id());
  v1::User out;
  grpc::ClientContext context;
  SetDeadline(&context);
  ExpectCode(stub_->GetUser(&context, get, &out), grpc::StatusCode::NOT_FOUND, "not found");
  EXPECT_TRUE(ListAll().empty()) << "deleted users are not listed";
  v1::User again = MustCreate("ada");
  EXPECT_NE(again.id(), ada.id()) << "a deleted user's username can be reused";
}

TEST_F(UserServiceTest, Status) {
  v1::User ada = MustCreate("ada");
  v1::UserStatus out;
  {
    v1::GetUserStatusRequest request;
    request.set_user_id(ada.id());
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub_->GetUserStatus(&context, request, &out).ok());
    EXPECT_EQ(out.presence(), v1::PRESENCE_OFFLINE) << "never set -> offline";
  }
  v1::SetUserStatusRequest set;
  set.mutable_status()->set_user_id(ada.id());
  set.mutable_status()->set_presence(v1::PRESENCE_ONLINE);
  set.mutable_status()->set_status_text("In a meeting");
  set.mutable_status()->set_status_emoji(":calendar:");
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    grpc::Status s = stub_->SetUserStatus(&context, set, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(out.presence(), v1::PRESENCE_ONLINE);
    EXPECT_EQ(out.status_text(), "In a meeting");
  }
  // Expired a minute ago: presence stays, the custom status is gone.
  set.mutable_status()->mutable_status_expire_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) -
                                                                  60);
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub_->SetUserStatus(&context, set, &out).ok());
  }
  {
    v1::GetUserStatusRequest request;
    request.set_user_id(ada.id());
    grpc::ClientContext context;
    SetDeadline(&context);
    ASSERT_TRUE(stub_->GetUserStatus(&context, request, &out).ok());
    EXPECT_EQ(out.presence(), v1::PRESENCE_ONLINE);
    EXPECT_EQ(out.status_text(), "") << "expired status text is cleared";
    EXPECT_EQ(out.status_emoji(), "");
  }
  set.mutable_status()->set_presence(v1::PRESENCE_UNSPECIFIED);
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ExpectCode(stub_->SetUserStatus(&context, set, &out), grpc::StatusCode::INVALID_ARGUMENT,
               "status.presence");
  }
  set.mutable_status()->set_presence(v1::PRESENCE_AWAY);
  set.mutable_status()->set_user_id(NewUlid());
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    ExpectCode(stub_->SetUserStatus(&context, set, &out), grpc::StatusCode::NOT_FOUND, "not found");
  }
}

TEST_F(UserServiceTest, ExpiredDeadlineIsDeadlineExceeded) {
  v1::GetUserRequest request;
  request.set_id(NewUlid());
  v1::User out;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() - std::chrono::seconds(1));
  grpc::Status s = stub_->GetUser(&context, request, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
}

}  // namespace
}  // namespace chatgenius
