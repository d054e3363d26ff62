#include "tests/support/domain_fixture.h"

#include "absl/strings/match.h"

namespace chatgenius::testing {

namespace v1 = ::chatgenius::db::v1;

namespace {

// What Ctx() adds to every call of the running test (tests run one at a
// time in a process).
DomainTest::Metadata& TestMetadata() {
  static auto* metadata = new DomainTest::Metadata();
  return *metadata;
}

Config Configured(Config config, const std::function<void(Config&)>& configure) {
  if (configure) configure(config);
  return config;
}

}  // namespace

DomainTest::DomainTest() : DomainTest(nullptr, {}) {}

DomainTest::DomainTest(const std::function<void(Config&)>& configure, Metadata metadata)
    : server_(Configured(db_.config(), configure)) {
  TestMetadata() = std::move(metadata);
  users_ = v1::UserService::NewStub(server_.channel());
  channels_ = v1::ChannelService::NewStub(server_.channel());
  messages_ = v1::MessageService::NewStub(server_.channel());
  reactions_ = v1::ReactionService::NewStub(server_.channel());
}

DomainTest::~DomainTest() { TestMetadata().clear(); }

v1::Attachment DomainTest::NewAttachment(const std::string& message_id,
                                         const std::string& uploader_id) {
  v1::Attachment a;
  a.set_message_id(message_id);
  a.set_uploader_id(uploader_id);
  a.set_name("plan.txt");
  a.set_content_type("text/plain");
  a.set_size_bytes(4);
  a.set_storage_url("s3://bucket/plan.txt");
  a.set_sha256(std::string(64, 'c'));
  return a;
}

grpc::Status DomainTest::SetRole(const v1::Channel& channel, const v1::User& user,
                                 const v1::User& actor, v1::MemberRole role) {
  v1::UpdateMemberRoleRequest r;
  r.set_channel_id(channel.id());
  r.set_user_id(user.id());
  r.set_actor_id(actor.id());
  r.set_role(role);
  v1::ChannelMember out;
  return channels_->UpdateMemberRole(Ctx().get(), r, &out);
}

std::unique_ptr<grpc::ClientContext> DomainTest::Ctx() {
  auto context = std::make_unique<grpc::ClientContext>();
  SetDeadline(context.get());
  for (const auto& [key, value] : TestMetadata()) context->AddMetadata(key, value);
  return context;
}

v1::User DomainTest::User(const std::string& username) {
  v1::CreateUserRequest request;
  request.mutable_user()->set_username(username);
  request.mutable_user()->set_email(username + "@example.com");
  request.mutable_user()->set_display_name(username);
  v1::User user;
  grpc::Status s = users_->CreateUser(Ctx().get(), request, &user);
  EXPECT_TRUE(s.ok()) << "create user " << username << ": " << s.error_message();
  return user;
}

v1::Channel DomainTest::Channel(const v1::User& creator, const std::string& name,
                                v1::ChannelType type) {
  v1::CreateChannelRequest request;
  request.mutable_channel()->set_name(name);
  request.mutable_channel()->set_type(type);
  request.set_creator_id(creator.id());
  v1::Channel channel;
  grpc::Status s = channels_->CreateChannel(Ctx().get(), request, &channel);
  EXPECT_TRUE(s.ok()) << "create channel " << name << ": " << s.error_message();
  return channel;
}

void DomainTest::Join(const v1::Channel& channel, const v1::User& user, const v1::User& actor) {
  v1::AddMemberRequest request;
  request.set_channel_id(channel.id());
  request.set_user_id(user.id());
  request.set_actor_id(actor.id());
  v1::ChannelMember member;
  grpc::Status s = channels_->AddMember(Ctx().get(), request, &member);
  EXPECT_TRUE(s.ok()) << "add " << user.username() << ": " << s.error_message();
}

v1::Message DomainTest::Post(const v1::Channel& channel, const v1::User& author,
                             const std::string& content, const std::string& parent_id,
                             const std::string& client_msg_id) {
  v1::PostMessageRequest request;
  request.set_channel_id(channel.id());
  request.set_author_id(author.id());
  request.set_content(content);
  request.set_thread_parent_id(parent_id);
  request.set_client_msg_id(client_msg_id);
  v1::Message message;
  grpc::Status s = messages_->PostMessage(Ctx().get(), request, &message);
  EXPECT_TRUE(s.ok()) << "post '" << content.substr(0, 40) << "': " << s.error_message();
  return message;
}

void DomainTest::ExpectError(const grpc::Status& status, grpc::StatusCode code,
                             const std::string& text) {
  EXPECT_EQ(status.error_code(), code) << "message: " << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), text))
      << "message should mention '" << text << "': " << status.error_message();
}

}  // namespace chatgenius::testing
