#include "client/client.h"

#include "server/db/lsn.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace chatgenius::client {

namespace {
// The service's read-your-writes metadata (server/service/rpc_util.h).
constexpr char kCommitLsnHeader[] = "chatgenius-commit-lsn";
constexpr char kMinLsnHeader[] = "chatgenius-min-lsn";
}  // namespace
namespace {

namespace v1 = ::chatgenius::db::v1;

// The services whose methods the client may retry (their descriptors, as
// compiled in from the .proto files).
const std::vector<const google::protobuf::ServiceDescriptor*>& Services() {
  static const auto* services = [] {
    auto* out = new std::vector<const google::protobuf::ServiceDescriptor*>();
    for (const char* name :
         {v1::UserService::service_full_name(), v1::ChannelService::service_full_name(),
          v1::MessageService::service_full_name(), v1::ReactionService::service_full_name(),
          v1::EventService::service_full_name(), v1::MigrationService::service_full_name(),
          v1::AdminService::service_full_name()}) {
      out->push_back(google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name));
    }
    return out;
  }();
  return *services;
}

// Subscribe errors a subscription resumes after: server shutdown, a lost
// connection, a slow-consumer cut-off.
bool Resumable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::RESOURCE_EXHAUSTED ||
         code == grpc::StatusCode::INTERNAL;
}

}  // namespace

std::vector<std::string> IdempotentMethods() {
  std::vector<std::string> out;
  for (const google::protobuf::ServiceDescriptor* service : Services()) {
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = service->method(i);
      if (m->options().idempotency_level() !=
          google::protobuf::MethodOptions::IDEMPOTENCY_UNKNOWN) {
        out.push_back(absl::StrCat(service->full_name(), "/", m->name()));
      }
    }
  }
  return out;
}

std::string ServiceConfigJson(int max_attempts) {
  std::vector<std::string> names;
  for (const std::string& method : IdempotentMethods()) {
    const size_t slash = method.rfind('/');
    names.push_back(absl::StrCat(R"({"service":")", method.substr(0, slash), R"(","method":")",
                                 method.substr(slash + 1), R"("})"));
  }
  std::string retry;
  if (max_attempts > 1) {
    retry = absl::StrCat(R"(,"retryPolicy":{"maxAttempts":)", std::min(max_attempts, 5),
                         R"(,"initialBackoff":"0.1s","maxBackoff":"2s","backoffMultiplier":2,)",
                         R"("retryableStatusCodes":["UNAVAILABLE"]})");
  }
  return absl::StrCat(R"({"loadBalancingConfig":[{"round_robin":{}}],"methodConfig":[{"name":[)",
                      absl::StrJoin(names, ","), "]", retry, "}]}");
}

absl::Status ToStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  if (options.target.empty()) return absl::InvalidArgumentError("target: is required");
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_root_certs_pem;
    ssl.pem_cert_chain = options.tls_client_cert_pem;
    ssl.pem_private_key = options.tls_client_key_pem;
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(ServiceConfigJson(options.max_attempts));
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, options.max_attempts > 1 ? 1 : 0);
  if (!options.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options.tls_server_name);
  }
  std::unique_ptr<Client> c(new Client(std::move(options)));
  c->channel_ = grpc::CreateCustomChannel(c->options_.target, credentials, args);
  c->users_ = v1::UserService::NewStub(c->channel_);
  c->channels_ = v1::ChannelService::NewStub(c->channel_);
  c->messages_ = v1::MessageService::NewStub(c->channel_);
  c->reactions_ = v1::ReactionService::NewStub(c->channel_);
  c->events_ = v1::EventService::NewStub(c->channel_);
  c->migrations_ = v1::MigrationService::NewStub(c->channel_);
  c->admin_ = v1::AdminService::NewStub(c->channel_);
  c->health_ = grpc::health::v1::Health::NewStub(c->channel_);
  return c;
}

std::unique_ptr<grpc::ClientContext> Client::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.default_deadline));
  if (!options_.bearer_token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", options_.bearer_token));
  }
  if (const Lsn lsn = commit_lsn_.load(std::memory_order_relaxed); lsn != 0) {
    context->AddMetadata(kMinLsnHeader, FormatLsn(lsn));
  }
  return context;
}

void Client::NoteReply(const grpc::ClientContext& context) {
  const auto range = context.GetServerTrailingMetadata().equal_range(kCommitLsnHeader);
  for (auto it = range.first; it != range.second; ++it) {
    absl::StatusOr<Lsn> lsn = ParseLsn(absl::string_view(it->second.data(), it->second.size()));
    if (!lsn.ok()) continue;
    Lsn seen = commit_lsn_.load(std::memory_order_relaxed);
    while (*lsn > seen && !commit_lsn_.compare_exchange_weak(seen, *lsn)) {
    }
  }
}

std::string Client::consistency_token() const {
  const Lsn lsn = commit_lsn_.load(std::memory_order_relaxed);
  return lsn == 0 ? "" : FormatLsn(lsn);
}

absl::StatusOr<v1::User> Client::CreateUser(const v1::CreateUserRequest& r) {
  return Call<v1::User>([this](auto* c, auto& q, auto* p) { return users_->CreateUser(c, q, p); },
                        r);
}

absl::StatusOr<v1::User> Client::GetUser(const std::string& id) {
  v1::GetUserRequest r;
  r.set_id(id);
  return Call<v1::User>([this](auto* c, auto& q, auto* p) { return users_->GetUser(c, q, p); }, r);
}

absl::StatusOr<v1::User> Client::LookupUser(const v1::LookupUserRequest& r) {
  return Call<v1::User>([this](auto* c, auto& q, auto* p) { return users_->LookupUser(c, q, p); },
                        r);
}

absl::StatusOr<v1::Channel> Client::CreateChannel(const v1::CreateChannelRequest& r) {
  return Call<v1::Channel>(
      [this](auto* c, auto& q, auto* p) { return channels_->CreateChannel(c, q, p); }, r);
}

absl::StatusOr<v1::ChannelMember> Client::AddMember(const v1::AddMemberRequest& r) {
  return Call<v1::ChannelMember>(
      [this](auto* c, auto& q, auto* p) { return channels_->AddMember(c, q, p); }, r);
}

absl::StatusOr<v1::Message> Client::PostMessage(const v1::PostMessageRequest& r) {
  return Call<v1::Message>(
      [this](auto* c, auto& q, auto* p) { return messages_->PostMessage(c, q, p); }, r);
}

absl::StatusOr<v1::Message> Client::GetMessage(const v1::GetMessageRequest& r) {
  return Call<v1::Message>(
      [this](auto* c, auto& q, auto* p) { return messages_->GetMessage(c, q, p); }, r);
}

absl::StatusOr<v1::ListMessagesResponse> Client::ListMessages(const v1::ListMessagesRequest& r) {
  return Call<v1::ListMessagesResponse>(
      [this](auto* c, auto& q, auto* p) { return messages_->ListMessages(c, q, p); }, r);
}

absl::StatusOr<v1::MigrationStatus> Client::GetMigrationStatus() {
  return Call<v1::MigrationStatus>(
      [this](auto* c, auto& q, auto* p) { return migrations_->GetMigrationStatus(c, q, p); },
      v1::GetMigrationStatusRequest());
}

absl::StatusOr<v1::MigrationStatus> Client::ApplyMigrations() {
  return Call<v1::MigrationStatus>(
      [this](auto* c, auto& q, auto* p) { return migrations_->ApplyMigrations(c, q, p); },
      v1::ApplyMigrationsRequest());
}

absl::StatusOr<v1::PoolStats> Client::GetPoolStats() {
  return Call<v1::PoolStats>(
      [this](auto* c, auto& q, auto* p) { return admin_->GetPoolStats(c, q, p); },
      v1::GetPoolStatsRequest());
}

absl::StatusOr<v1::TunnelStatus> Client::GetTunnelStatus() {
  return Call<v1::TunnelStatus>(
      [this](auto* c, auto& q, auto* p) { return admin_->GetTunnelStatus(c, q, p); },
      v1::GetTunnelStatusRequest());
}

absl::StatusOr<v1::DatabaseHosts> Client::GetDatabaseHosts() {
  return Call<v1::DatabaseHosts>(
      [this](auto* c, auto& q, auto* p) { return admin_->GetDatabaseHosts(c, q, p); },
      v1::GetDatabaseHostsRequest());
}

absl::StatusOr<v1::ServerInfo> Client::GetServerInfo() {
  return Call<v1::ServerInfo>(
      [this](auto* c, auto& q, auto* p) { return admin_->GetServerInfo(c, q, p); },
      v1::GetServerInfoRequest());
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> Client::Check(
    const std::string& service) {
  grpc::health::v1::HealthCheckRequest r;
  r.set_service(service);
  absl::StatusOr<grpc::health::v1::HealthCheckResponse> response =
      Call<grpc::health::v1::HealthCheckResponse>(
          [this](auto* c, auto& q, auto* p) { return health_->Check(c, q, p); }, r);
  if (!response.ok()) return response.status();
  return response->status();
}

std::unique_ptr<EventSubscription> Client::Subscribe(v1::SubscribeRequest request) {
  return std::unique_ptr<EventSubscription>(
      new EventSubscription(events_.get(), std::move(request), options_.bearer_token));
}

EventSubscription::EventSubscription(v1::EventService::Stub* stub, v1::SubscribeRequest request,
                                     std::string bearer_token)
    : stub_(stub), request_(std::move(request)), bearer_token_(std::move(bearer_token)) {
  Connect(absl::ZeroDuration());
}

bool EventSubscription::Open() {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!bearer_token_.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", bearer_token_));
  }
  // Waits for the server when it is (re)starting instead of failing at once.
  context->set_wait_for_ready(true);
  grpc::ClientContext* call = context.get();
  reader_.reset();  // it refers to the old context
  {
    absl::MutexLock lock(&mu_);
    context_ = std::move(context);
    // Also cancels a call not started yet.
    if (cancelled_.HasBeenNotified()) context_->TryCancel();
  }
  reader_ = stub_->Subscribe(call, request_);
  reader_->WaitForInitialMetadata();
  const auto& metadata = call->GetServerInitialMetadata();
  auto it = metadata.find(kStartAfterMetadata);
  if (it == metadata.end()) return false;  // the call failed before it started
  int64_t start = 0;
  if (request_.after_event_id() == 0 &&
      absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &start)) {
    // Live-only: resume from where the stream started, not from "live" again,
    // which would skip what is committed while a broken stream is down.
    request_.set_after_event_id(start);
  }
  return true;
}

bool EventSubscription::Connect(absl::Duration delay) {
  absl::Duration backoff = absl::Milliseconds(100);
  while (!cancelled_.WaitForNotificationWithTimeout(delay)) {
    if (Open()) return true;
    const grpc::Status status = reader_->Finish();
    if (cancelled_.HasBeenNotified()) break;
    if (!Resumable(status.error_code())) {
      status_ = ToStatus(status);
      return false;
    }
    delay = backoff;
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
  return false;  // cancelled: status_ stays OK
}

bool EventSubscription::Next(v1::Event* event) {
  // Ended: a non-resumable error (status_) or Cancel.
  while (status_.ok() && !cancelled_.HasBeenNotified()) {
    if (reader_->Read(event)) {
      request_.set_after_event_id(event->id());  // resume point: delivered
      return true;
    }
    const grpc::Status status = reader_->Finish();
    if (cancelled_.HasBeenNotified()) break;
    if (!Resumable(status.error_code())) {
      status_ = ToStatus(status);
      return false;
    }
    Connect(absl::Milliseconds(100));  // resumes after the last delivered event
  }
  return false;
}

void EventSubscription::Cancel() {
  absl::MutexLock lock(&mu_);
  if (!cancelled_.HasBeenNotified()) cancelled_.Notify();  // at most once
  if (context_ != nullptr) context_->TryCancel();
}

}  // namespace chatgenius::client
