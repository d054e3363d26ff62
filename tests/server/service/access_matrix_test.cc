// The authorization matrix: every RPC of every chatgenius.db.v1 service
// (enumerated from the generated descriptors, so a new RPC without a row
// fails here), called through a real gRPC server against PostgreSQL by five
// acting users on a private channel:
//   entitled — a member allowed to do it (the owner for managing calls);
//   outsider — a live user who never belonged to the channel;
//   removed  — a former member, removed by the owner;
//   deleted  — a former admin and author whose user was deleted;
//   empty    — no acting user at all.
// Each refused call must return its exact code and write nothing: no row
// of any table and no event changes. The entitled call runs last.
//
// The same rows then run with end-user tokens on (END_USER_JWT_*): the
// gateway forwards the acting user's own token (OK), someone else's, an
// expired one, one with a bad signature, or none -> the exact code, and
// nothing written.
#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "chatgenius/db/v1/event_service.grpc.pb.h"
#include "server/auth/acting_user.h"
#include "server/common/ulid.h"
#include "tests/support/domain_fixture.h"
#include "tests/support/jwt_signer.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using grpc::StatusCode;

enum Actor { kEntitled, kOutsider, kRemoved, kDeleted, kEmpty };
constexpr Actor kActors[] = {kOutsider, kRemoved, kDeleted, kEmpty, kEntitled};  // run order
const char* ActorName(Actor a) {
  static const char* names[] = {"entitled", "outsider", "removed", "deleted", "empty"};
  return names[a];
}

// Expected codes by actor, in enum order.
struct Codes {
  StatusCode entitled, outsider, removed, deleted, empty;
  StatusCode For(Actor a) const {
    switch (a) {
      case kEntitled:
        return entitled;
      case kOutsider:
        return outsider;
      case kRemoved:
        return removed;
      case kDeleted:
        return deleted;
      default:
        return empty;
    }
  }
};
// The channel access rule: members only, deleted users are not found.
constexpr Codes kMembersOnly{StatusCode::OK, StatusCode::PERMISSION_DENIED,
                             StatusCode::PERMISSION_DENIED, StatusCode::NOT_FOUND,
                             StatusCode::INVALID_ARGUMENT};
// Calls about the acting user themself (their channels, profile, search
// over their own memberships): any live user.
constexpr Codes kAnyLiveUser{StatusCode::OK, StatusCode::OK, StatusCode::OK, StatusCode::NOT_FOUND,
                             StatusCode::INVALID_ARGUMENT};

// Every chatgenius.db.v1 method, "package.Service/Method", read from the
// .proto files the test ships with (//proto:v1_protos) and the generated
// descriptors.
std::vector<std::string> AllMethods() {
  const std::string dir =
      absl::StrCat(std::getenv("TEST_SRCDIR"), "/chatgenius_db/proto/chatgenius/db/v1");
  std::vector<std::string> methods;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    ADD_FAILURE() << "cannot list " << dir;
    return methods;
  }
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (!absl::EndsWith(name, ".proto")) continue;
    const google::protobuf::FileDescriptor* file =
        google::protobuf::DescriptorPool::generated_pool()->FindFileByName("chatgenius/db/v1/" +
                                                                           name);
    if (file == nullptr) {
      ADD_FAILURE() << name << " is not linked into the test";
      continue;
    }
    for (int s = 0; s < file->service_count(); ++s) {
      for (int m = 0; m < file->service(s)->method_count(); ++m) {
        methods.push_back(
            absl::StrCat(file->service(s)->full_name(), "/", file->service(s)->method(m)->name()));
      }
    }
  }
  closedir(d);
  return methods;
}

// End-user token settings for the JWT runs: sha256("s3cret-gateway") (the
// gateway, no role) and sha256("s3cret-ops") (roles=admin); an HS256 key.
constexpr char kTokens[] =
    "f32a02c54bd11004e2988582fa7a4a89650593f8592309c9a11be3781b4a4a80  chat-gateway\n"
    "28bfc45beaaf3948f86a6e59325166f5cae0f9d9be493f380bad4368f7225a63  ops  roles=admin\n";
constexpr char kJwtSecret[] = "matrix-test-hs256-secret-of-enough-bytes";
constexpr char kIssuer[] = "https://chatgenius.test/";
constexpr char kAudience[] = "chatgenius-db";

void WithEndUserTokens(Config& config) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  std::ofstream(dir + "/tokens") << kTokens;
  std::ofstream(dir + "/jwt-secret") << kJwtSecret;
  config.auth_tokens_file = dir + "/tokens";
  config.end_user_jwt.hs256_secret_file = dir + "/jwt-secret";
  config.end_user_jwt.issuer = kIssuer;
  config.end_user_jwt.audience = kAudience;
}

// Which end-user token a JWT-mode call carries.
enum class Token { kOwn, kSomeoneElses, kExpired, kBadSignature, kNone };

class AccessMatrixTest : public testing::DomainTest,
                         public ::testing::WithParamInterface<std::string> {
 protected:
  explicit AccessMatrixTest(bool jwt = false)
      : DomainTest(jwt ? WithEndUserTokens : std::function<void(Config&)>(),
                   jwt ? Metadata{{"authorization", "Bearer s3cret-ops"}} : Metadata{}),
        jwt_(jwt) {
    events_ = v1::EventService::NewStub(server_.channel());
    ada_ = User("ada");  // owner
    bob_ = User("bob");  // member
    rex_ = User("rex");  // removed
    dan_ = User("dan");  // admin, then deleted
    eve_ = User("eve");  // outsider
    secret_ = Channel(ada_, "secret", v1::CHANNEL_TYPE_PRIVATE);
    for (const v1::User* u : {&bob_, &rex_, &dan_}) Join(secret_, *u, ada_);
    EXPECT_TRUE(SetRole(secret_, dan_, ada_, v1::MEMBER_ROLE_ADMIN).ok());
    for (const v1::User* u : {&bob_, &rex_, &dan_}) {
      own_message_[u->id()] = Post(secret_, *u, absl::StrCat("by ", u->username())).id();
      own_attachment_[u->id()] = Attach(own_message_[u->id()], *u);
    }
    parent_ = own_message_[bob_.id()];
    for (const v1::User* u : {&bob_, &rex_, &dan_}) React(*u);
    Post(secret_, ada_, "a reply", parent_);

    v1::RemoveMemberRequest remove;
    remove.set_channel_id(secret_.id());
    remove.set_user_id(rex_.id());
    remove.set_actor_id(ada_.id());
    google::protobuf::Empty empty;
    EXPECT_TRUE(channels_->RemoveMember(Ctx().get(), remove, &empty).ok());
    v1::DeleteUserRequest del;
    del.set_id(dan_.id());
    EXPECT_TRUE(users_->DeleteUser(Ctx().get(), del, &empty).ok());
    // Each user signs in as auth0|<username>.
    db_.Query("UPDATE users SET auth0_id = 'auth0|' || username RETURNING 1");
  }

  // The context of a matrix call: as before, or in JWT mode the gateway's
  // bearer token and the end-user token `token_` says, for the acting user
  // the row's call chose last (Id()).
  std::unique_ptr<grpc::ClientContext> RowContext() {
    if (!jwt_) return Ctx();
    auto context = std::make_unique<grpc::ClientContext>();
    testing::SetDeadline(context.get());
    context->AddMetadata("authorization", "Bearer s3cret-gateway");
    const std::string token = EndUserToken(token_, last_actor_);
    if (!token.empty()) context->AddMetadata("x-end-user-token", token);
    return context;
  }
  std::string EndUserToken(Token kind, const std::string& user_id) const {
    std::string subject = "auth0|" + UsernameOf(user_id);
    if (kind == Token::kSomeoneElses) {
      subject = user_id == eve_.id() ? "auth0|bob" : "auth0|eve";
    }
    switch (kind) {
      case Token::kNone:
        return "";
      case Token::kExpired:
        return testing::SignHs256(kJwtSecret, testing::Claims(subject, kIssuer, kAudience, -3600));
      case Token::kBadSignature: {
        std::string t =
            testing::SignHs256(kJwtSecret, testing::Claims(subject, kIssuer, kAudience, 3600));
        t[t.size() - 3] = t[t.size() - 3] == 'x' ? 'y' : 'x';
        return t;
      }
      default:
        return testing::SignHs256(kJwtSecret, testing::Claims(subject, kIssuer, kAudience, 3600));
    }
  }
  std::string UsernameOf(const std::string& id) const {
    for (const v1::User* u : {&ada_, &bob_, &rex_, &dan_, &eve_}) {
      if (u->id() == id) return u->username();
    }
    return "nobody";
  }

  std::string Attach(const std::string& message_id, const v1::User& uploader) {
    v1::AddAttachmentRequest r;
    *r.mutable_attachment() = NewAttachment(message_id, uploader.id());
    v1::Attachment out;
    grpc::Status s = messages_->AddAttachment(Ctx().get(), r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.id();
  }
  void React(const v1::User& user) {
    v1::AddReactionRequest r;
    r.set_message_id(parent_);
    r.set_user_id(user.id());
    r.set_emoji(":eyes:");
    v1::Reaction out;
    grpc::Status s = reactions_->AddReaction(Ctx().get(), r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  // The acting user's id for `a`; `entitled` is who may do it.
  std::string Id(Actor a, const v1::User& entitled) const {
    last_actor_ = IdOf(a, entitled);
    return last_actor_;
  }
  std::string IdOf(Actor a, const v1::User& entitled) const {
    switch (a) {
      case kEntitled:
        return entitled.id();
      case kOutsider:
        return eve_.id();
      case kRemoved:
        return rex_.id();
      case kDeleted:
        return dan_.id();
      default:
        return "";
    }
  }
  // The actor's own message, attachment (the outsider has none: bob's).
  std::string OwnMessage(const std::string& id) const {
    auto it = own_message_.find(id);
    return it == own_message_.end() ? parent_ : it->second;
  }
  std::string OwnAttachment(const std::string& id) const {
    auto it = own_attachment_.find(id);
    return it == own_attachment_.end() ? own_attachment_.at(bob_.id()) : it->second;
  }

  // Everything the service stores, as one digest.
  std::string Snapshot() {
    std::string parts;
    for (const char* table : {"users", "user_status", "channels", "channel_members", "messages",
                              "reactions", "attachments", "events"}) {
      absl::StrAppend(&parts, table, "=",
                      db_.Query(absl::StrCat("SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY "
                                             "t::text)), '-') FROM ",
                                             table, " t")),
                      ";");
    }
    return parts;
  }

  // A channel-filtered Subscribe by `viewer`: OK once the stream started.
  grpc::Status Subscribe(const std::string& viewer) {
    v1::SubscribeRequest r;
    r.add_channel_ids(secret_.id());
    r.set_viewer_id(viewer);
    std::unique_ptr<grpc::ClientContext> context = RowContext();
    auto reader = events_->Subscribe(context.get(), r);
    reader->WaitForInitialMetadata();
    if (context->GetServerInitialMetadata().count("chatgenius-start-after") > 0) {
      context->TryCancel();
      reader->Finish();
      return grpc::Status::OK;
    }
    v1::Event e;
    while (reader->Read(&e)) {
    }
    return reader->Finish();
  }

  struct Row {
    Codes codes;
    // Makes the call as the acting user `a`.
    std::function<grpc::Status(Actor a)> call;
  };
  // An RPC without an acting user, and why it needs none.
  struct Exempt {
    std::string why;
  };

  std::map<std::string, Row> Rows();
  std::map<std::string, Exempt> Exemptions() {
    const std::string directory = "the user directory: profiles are readable by every caller";
    const std::string ops =
        "operator call, no end user: with AUTH_TOKENS_FILE it needs the admin role "
        "(auth_test PrivilegedMethodsNeedTheAdminRole)";
    return {
        {"chatgenius.db.v1.UserService/CreateUser", {"signs a new user up: nobody acts yet"}},
        {"chatgenius.db.v1.UserService/LookupUser", {directory}},
        {"chatgenius.db.v1.UserService/BatchGetUsers", {directory}},
        {"chatgenius.db.v1.UserService/ListUsers", {directory}},
        {"chatgenius.db.v1.MigrationService/GetMigrationStatus",
         {"the schema version, for every authenticated caller"}},
        {"chatgenius.db.v1.MigrationService/ApplyMigrations", {ops}},
        {"chatgenius.db.v1.AdminService/GetPoolStats", {ops}},
        {"chatgenius.db.v1.AdminService/GetServerInfo", {ops}},
        {"chatgenius.db.v1.AdminService/GetTunnelStatus", {ops}},
        {"chatgenius.db.v1.AdminService/GetDatabaseHosts", {ops}},
    };
  }

  const bool jwt_;
  Token token_ = Token::kOwn;
  mutable std::string last_actor_;
  std::unique_ptr<v1::EventService::Stub> events_;
  v1::User ada_, bob_, rex_, dan_, eve_;
  v1::Channel secret_;
  std::string parent_;
  std::map<std::string, std::string> own_message_, own_attachment_;
};

std::map<std::string, AccessMatrixTest::Row> AccessMatrixTest::Rows() {
  const std::string c = secret_.id();
  auto ctx = [this] { return RowContext(); };
  std::map<std::string, Row> rows;
  auto add = [&](const std::string& method, Codes codes, std::function<grpc::Status(Actor)> f) {
    rows[method] = Row{codes, std::move(f)};
  };
  const std::string ch = "chatgenius.db.v1.ChannelService/";
  const std::string msg = "chatgenius.db.v1.MessageService/";
  const std::string rx = "chatgenius.db.v1.ReactionService/";
  const std::string us = "chatgenius.db.v1.UserService/";

  // ChannelService.
  add(ch + "CreateChannel", kAnyLiveUser, [=](Actor a) {
    v1::CreateChannelRequest r;
    r.mutable_channel()->set_name(absl::StrCat("new-", ActorName(a)));
    r.mutable_channel()->set_type(v1::CHANNEL_TYPE_PRIVATE);
    r.set_creator_id(Id(a, bob_));
    v1::Channel out;
    return channels_->CreateChannel(ctx().get(), r, &out);
  });
  add(ch + "GetChannel", kMembersOnly, [=](Actor a) {
    v1::GetChannelRequest r;
    r.set_id(c);
    r.set_viewer_id(Id(a, bob_));
    v1::Channel out;
    return channels_->GetChannel(ctx().get(), r, &out);
  });
  add(ch + "UpdateChannel", kMembersOnly, [=](Actor a) {
    v1::UpdateChannelRequest r;
    r.mutable_channel()->set_id(c);
    r.mutable_channel()->set_description("changed");
    r.mutable_update_mask()->add_paths("description");
    r.set_actor_id(Id(a, ada_));
    v1::Channel out;
    return channels_->UpdateChannel(ctx().get(), r, &out);
  });
  add(ch + "ArchiveChannel", kMembersOnly, [=](Actor a) {
    v1::ArchiveChannelRequest r;
    r.set_id(c);
    r.set_actor_id(Id(a, ada_));
    v1::Channel out;
    return channels_->ArchiveChannel(ctx().get(), r, &out);
  });
  add(ch + "UnarchiveChannel", kMembersOnly, [=](Actor a) {
    v1::UnarchiveChannelRequest r;
    r.set_id(c);
    r.set_actor_id(Id(a, ada_));
    v1::Channel out;
    return channels_->UnarchiveChannel(ctx().get(), r, &out);
  });
  add(ch + "DeleteChannel", kMembersOnly, [=](Actor a) {
    v1::DeleteChannelRequest r;
    r.set_id(c);
    r.set_actor_id(Id(a, ada_));
    google::protobuf::Empty out;
    return channels_->DeleteChannel(ctx().get(), r, &out);
  });
  add(ch + "ListChannels", kAnyLiveUser, [=](Actor a) {
    v1::ListChannelsRequest r;
    r.set_member_id(Id(a, bob_));
    v1::ListChannelsResponse out;
    return channels_->ListChannels(ctx().get(), r, &out);
  });
  add(ch + "AddMember", kMembersOnly, [=](Actor a) {
    v1::AddMemberRequest r;
    r.set_channel_id(c);
    r.set_user_id(eve_.id());
    r.set_actor_id(Id(a, ada_));
    v1::ChannelMember out;
    return channels_->AddMember(ctx().get(), r, &out);
  });
  add(ch + "RemoveMember", kMembersOnly, [=](Actor a) {
    v1::RemoveMemberRequest r;  // the entitled member leaves; others try to remove bob
    r.set_channel_id(c);
    r.set_user_id(bob_.id());
    r.set_actor_id(Id(a, bob_));
    google::protobuf::Empty out;
    return channels_->RemoveMember(ctx().get(), r, &out);
  });
  add(ch + "UpdateMemberRole", kMembersOnly, [=](Actor a) {
    v1::UpdateMemberRoleRequest r;
    r.set_channel_id(c);
    r.set_user_id(bob_.id());
    r.set_role(v1::MEMBER_ROLE_ADMIN);
    r.set_actor_id(Id(a, ada_));
    v1::ChannelMember out;
    return channels_->UpdateMemberRole(ctx().get(), r, &out);
  });
  add(ch + "ListMembers", kMembersOnly, [=](Actor a) {
    v1::ListMembersRequest r;
    r.set_channel_id(c);
    r.set_viewer_id(Id(a, bob_));
    v1::ListMembersResponse out;
    return channels_->ListMembers(ctx().get(), r, &out);
  });
  add(ch + "GetOrCreateDirectChannel", kMembersOnly, [=](Actor a) {
    // Bob and ada's DM: only they may open it; dan may not open one at all.
    v1::GetOrCreateDirectChannelRequest r;
    r.add_user_ids(ada_.id());
    r.add_user_ids(a == kDeleted ? dan_.id() : bob_.id());
    r.set_actor_id(Id(a, bob_));
    v1::Channel out;
    return channels_->GetOrCreateDirectChannel(ctx().get(), r, &out);
  });
  add(ch + "MarkRead", kMembersOnly, [=](Actor a) {
    v1::MarkReadRequest r;
    r.set_channel_id(c);
    r.set_user_id(Id(a, bob_));
    r.set_message_id(parent_);
    v1::ReadState out;
    return channels_->MarkRead(ctx().get(), r, &out);
  });
  add(ch + "GetReadState", kMembersOnly, [=](Actor a) {
    v1::GetReadStateRequest r;
    r.set_channel_id(c);
    r.set_user_id(Id(a, bob_));
    v1::ReadState out;
    return channels_->GetReadState(ctx().get(), r, &out);
  });

  // MessageService.
  add(msg + "PostMessage", kMembersOnly, [=](Actor a) {
    v1::PostMessageRequest r;
    r.set_channel_id(c);
    r.set_author_id(Id(a, bob_));
    r.set_content("hello");
    v1::Message out;
    return messages_->PostMessage(ctx().get(), r, &out);
  });
  add(msg + "GetMessage", kMembersOnly, [=](Actor a) {
    v1::GetMessageRequest r;
    r.set_id(parent_);
    r.set_viewer_id(Id(a, bob_));
    v1::Message out;
    return messages_->GetMessage(ctx().get(), r, &out);
  });
  add(msg + "UpdateMessage", kMembersOnly, [=](Actor a) {
    const std::string actor = Id(a, bob_);
    v1::UpdateMessageRequest r;
    r.mutable_message()->set_id(OwnMessage(actor));
    r.mutable_message()->set_content("edited");
    r.mutable_update_mask()->add_paths("content");
    r.set_actor_id(actor);
    v1::Message out;
    return messages_->UpdateMessage(ctx().get(), r, &out);
  });
  add(msg + "DeleteMessage", kMembersOnly, [=](Actor a) {
    const std::string actor = Id(a, bob_);
    v1::DeleteMessageRequest r;
    r.set_id(OwnMessage(actor));
    r.set_actor_id(actor);
    google::protobuf::Empty out;
    return messages_->DeleteMessage(ctx().get(), r, &out);
  });
  add(msg + "ListMessages", kMembersOnly, [=](Actor a) {
    v1::ListMessagesRequest r;
    r.set_channel_id(c);
    r.set_viewer_id(Id(a, bob_));
    v1::ListMessagesResponse out;
    return messages_->ListMessages(ctx().get(), r, &out);
  });
  add(msg + "ListThreadReplies", kMembersOnly, [=](Actor a) {
    v1::ListThreadRepliesRequest r;
    r.set_thread_parent_id(parent_);
    r.set_viewer_id(Id(a, bob_));
    v1::ListThreadRepliesResponse out;
    return messages_->ListThreadReplies(ctx().get(), r, &out);
  });
  add(msg + "SearchMessages", kAnyLiveUser, [=](Actor a) {
    v1::SearchMessagesRequest r;
    r.set_user_id(Id(a, bob_));
    r.set_query("by");
    v1::SearchMessagesResponse out;
    grpc::Status s = messages_->SearchMessages(ctx().get(), r, &out);
    // Searching is open to every live user, over their own channels only.
    if (s.ok() && a != kEntitled && out.hits_size() > 0) {
      return grpc::Status(StatusCode::DATA_LOSS, "search leaked the private channel");
    }
    return s;
  });
  add(msg + "AddAttachment", kMembersOnly, [=](Actor a) {
    const std::string actor = Id(a, bob_);
    v1::AddAttachmentRequest r;
    *r.mutable_attachment() = NewAttachment(OwnMessage(actor), actor);
    v1::Attachment out;
    return messages_->AddAttachment(ctx().get(), r, &out);
  });
  add(msg + "ListAttachments", kMembersOnly, [=](Actor a) {
    v1::ListAttachmentsRequest r;
    r.set_channel_id(c);
    r.set_viewer_id(Id(a, bob_));
    v1::ListAttachmentsResponse out;
    return messages_->ListAttachments(ctx().get(), r, &out);
  });
  add(msg + "DeleteAttachment", kMembersOnly, [=](Actor a) {
    const std::string actor = Id(a, bob_);
    v1::DeleteAttachmentRequest r;
    r.set_id(OwnAttachment(actor));
    r.set_actor_id(actor);
    google::protobuf::Empty out;
    return messages_->DeleteAttachment(ctx().get(), r, &out);
  });

  // ReactionService.
  add(rx + "AddReaction", kMembersOnly, [=](Actor a) {
    v1::AddReactionRequest r;
    r.set_message_id(parent_);
    r.set_user_id(Id(a, bob_));
    r.set_emoji(":tada:");
    v1::Reaction out;
    return reactions_->AddReaction(ctx().get(), r, &out);
  });
  add(rx + "RemoveReaction", kMembersOnly, [=](Actor a) {
    v1::RemoveReactionRequest r;  // each former member reacted before
    r.set_message_id(parent_);
    r.set_user_id(Id(a, bob_));
    r.set_emoji(":eyes:");
    google::protobuf::Empty out;
    return reactions_->RemoveReaction(ctx().get(), r, &out);
  });
  add(rx + "ListReactions", kMembersOnly, [=](Actor a) {
    v1::ListReactionsRequest r;
    r.set_message_id(parent_);
    r.set_viewer_id(Id(a, bob_));
    v1::ListReactionsResponse out;
    return reactions_->ListReactions(ctx().get(), r, &out);
  });

  // EventService: a channel stream needs a viewer who may read it.
  add("chatgenius.db.v1.EventService/Subscribe", kMembersOnly,
      [=](Actor a) { return Subscribe(Id(a, bob_)); });

  // UserService calls about one user: the user must be live.
  add(us + "GetUser", kAnyLiveUser, [=](Actor a) {
    v1::GetUserRequest r;
    r.set_id(Id(a, bob_));
    v1::User out;
    return users_->GetUser(ctx().get(), r, &out);
  });
  add(us + "UpdateUser", kAnyLiveUser, [=](Actor a) {
    v1::UpdateUserRequest r;
    r.mutable_user()->set_id(Id(a, bob_));
    r.mutable_user()->set_display_name("New Name");
    r.mutable_update_mask()->add_paths("display_name");
    v1::User out;
    return users_->UpdateUser(ctx().get(), r, &out);
  });
  add(us + "DeleteUser", kAnyLiveUser, [=](Actor a) {
    v1::DeleteUserRequest r;
    r.set_id(Id(a, bob_));
    google::protobuf::Empty out;
    return users_->DeleteUser(ctx().get(), r, &out);
  });
  add(us + "SetUserStatus", kAnyLiveUser, [=](Actor a) {
    v1::SetUserStatusRequest r;
    r.mutable_status()->set_user_id(Id(a, bob_));
    r.mutable_status()->set_presence(v1::PRESENCE_AWAY);
    v1::UserStatus out;
    return users_->SetUserStatus(ctx().get(), r, &out);
  });
  add(us + "GetUserStatus", kAnyLiveUser, [=](Actor a) {
    v1::GetUserStatusRequest r;
    r.set_user_id(Id(a, bob_));
    v1::UserStatus out;
    return users_->GetUserStatus(ctx().get(), r, &out);
  });
  return rows;
}

TEST_P(AccessMatrixTest, ExactCodeAndNothingWrittenWhenRefused) {
  const std::string method = GetParam();
  if (Exemptions().count(method)) {
    EXPECT_FALSE(Rows().count(method)) << method << " has both a row and an exemption";
    return;
  }
  std::map<std::string, Row> rows = Rows();
  auto it = rows.find(method);
  ASSERT_TRUE(it != rows.end()) << method
                                << " has no row in the access matrix: say who may call it "
                                   "(a row) or why nobody acts in it (an exemption)";
  for (Actor a : kActors) {
    const StatusCode want = it->second.codes.For(a);
    const std::string before = Snapshot();
    grpc::Status got = it->second.call(a);
    EXPECT_EQ(got.error_code(), want)
        << method << " as " << ActorName(a) << ": " << got.error_message();
    if (want != StatusCode::OK) {
      EXPECT_EQ(Snapshot(), before) << method << " as " << ActorName(a)
                                    << " was refused but wrote something (a row or an event)";
      if (want == StatusCode::INVALID_ARGUMENT || want == StatusCode::NOT_FOUND) {
        EXPECT_FALSE(got.error_message().empty()) << method << " as " << ActorName(a);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryRpc, AccessMatrixTest, ::testing::ValuesIn(AllMethods()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(info.param.rfind('.') + 1);
                           for (char& ch : name) {
                             if (ch == '/') ch = '_';
                           }
                           return name;
                         });

class JwtAccessMatrixTest : public AccessMatrixTest {
 protected:
  JwtAccessMatrixTest() : AccessMatrixTest(/*jwt=*/true) {}
};

TEST_P(JwtAccessMatrixTest, OnlyTheTokensUserMayAct) {
  const std::string method = GetParam();
  std::map<std::string, Row> rows = Rows();
  auto it = rows.find(method);
  if (it == rows.end()) return;  // exempt: no acting user (checked above)
  const Row& row = it->second;
  if (!ActsForAUser("/" + method)) {
    token_ = Token::kNone;  // a directory read: the gateway alone may call it
    grpc::Status got = row.call(kEntitled);
    EXPECT_EQ(got.error_code(), row.codes.entitled) << method << ": " << got.error_message();
    return;
  }
  struct Case {
    Token token;
    StatusCode code;
    const char* name;
  };
  for (const Case& c : {Case{Token::kSomeoneElses, StatusCode::PERMISSION_DENIED, "another's"},
                        Case{Token::kExpired, StatusCode::UNAUTHENTICATED, "expired"},
                        Case{Token::kBadSignature, StatusCode::UNAUTHENTICATED, "bad signature"},
                        Case{Token::kNone, StatusCode::PERMISSION_DENIED, "no token"}}) {
    token_ = c.token;
    const std::string before = Snapshot();
    grpc::Status got = row.call(kEntitled);
    EXPECT_EQ(got.error_code(), c.code)
        << method << " with " << c.name << " token: " << got.error_message();
    EXPECT_EQ(Snapshot(), before) << method << " with " << c.name << " token wrote something";
  }
  token_ = Token::kOwn;
  grpc::Status got = row.call(kEntitled);
  EXPECT_EQ(got.error_code(), row.codes.entitled)
      << method << " with the user's own token: " << got.error_message();
}

INSTANTIATE_TEST_SUITE_P(EveryRpc, JwtAccessMatrixTest, ::testing::ValuesIn(AllMethods()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(info.param.rfind('.') + 1);
                           for (char& ch : name) {
                             if (ch == '/') ch = '_';
                           }
                           return name;
                         });

TEST_F(JwtAccessMatrixTest, AdminCallersMayActWithoutAToken) {
  v1::GetChannelRequest r;
  r.set_id(secret_.id());
  r.set_viewer_id(bob_.id());
  v1::Channel out;
  grpc::Status s = channels_->GetChannel(Ctx().get(), r, &out);  // ops: roles=admin
  EXPECT_TRUE(s.ok()) << s.error_message();
  r.set_viewer_id(eve_.id());
  EXPECT_EQ(channels_->GetChannel(Ctx().get(), r, &out).error_code(), StatusCode::PERMISSION_DENIED)
      << "acting as anyone still obeys the access rule";
}

TEST_F(JwtAccessMatrixTest, ADeletedUsersTokenActsForNobody) {
  token_ = Token::kOwn;
  last_actor_ = dan_.id();
  v1::ListChannelsRequest r;
  r.set_member_id(dan_.id());
  v1::ListChannelsResponse out;
  grpc::Status s = channels_->ListChannels(RowContext().get(), r, &out);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "no live user")) << s.error_message();
}

TEST_F(JwtAccessMatrixTest, ANewUserIsTheTokensSubject) {
  auto create = [&](const std::string& auth0_id, const std::string& token) {
    v1::CreateUserRequest r;
    r.mutable_user()->set_username("newbie");
    r.mutable_user()->set_email("newbie@example.com");
    r.mutable_user()->set_auth0_id(auth0_id);
    grpc::ClientContext context;
    testing::SetDeadline(&context);
    context.AddMetadata("authorization", "Bearer s3cret-gateway");
    if (!token.empty()) context.AddMetadata("x-end-user-token", token);
    v1::User out;
    return users_->CreateUser(&context, r, &out);
  };
  const std::string newbie =
      testing::SignHs256(kJwtSecret, testing::Claims("auth0|newbie", kIssuer, kAudience, 3600));
  EXPECT_EQ(create("auth0|someone", newbie).error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(create("auth0|newbie", "").error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM users WHERE username = 'newbie'"), "0");
  grpc::Status s = create("auth0|newbie", newbie);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(db_.Query("SELECT auth0_id FROM users WHERE username = 'newbie'"), "auth0|newbie");
}

// The enumeration itself: it must find the services (an empty list would
// make the matrix pass vacuously).
TEST(AccessMatrixCoverage, EnumeratesEveryService) {
  std::set<std::string> services;
  for (const std::string& m : AllMethods()) services.insert(m.substr(0, m.find('/')));
  EXPECT_EQ(services, (std::set<std::string>{
                          "chatgenius.db.v1.AdminService", "chatgenius.db.v1.ChannelService",
                          "chatgenius.db.v1.EventService", "chatgenius.db.v1.MessageService",
                          "chatgenius.db.v1.MigrationService", "chatgenius.db.v1.ReactionService",
                          "chatgenius.db.v1.UserService"}));
}

}  // namespace
}  // namespace chatgenius
