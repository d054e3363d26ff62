// client.h
//
// chatgenius::client::Client: what another ChatGenius service links to talk
// to the database service. It owns one gRPC channel configured the way the
// service expects to be called:
// - a target such as "dns:///chatgenius-db:50051" (several addresses are
//   balanced round_robin across replicas) or "ipv4:127.0.0.1:5001,127.0.0.1:5002";
// - plaintext or TLS (server roots, optional client certificate for mTLS);
// - a default deadline on every call (callers can pass their own);
// - automatic retries with exponential backoff on UNAVAILABLE, through
//   gRPC's service config, for idempotent methods only (reads, Get*,
//   AddReaction, GetOrCreateDirectChannel, ...); writes that could double
//   are never retried by the library — PostMessage is safe to retry by the
//   caller with the same client_msg_id;
// - results as absl::StatusOr<T>;
// - event subscriptions that resume from the last delivered event id after
//   a disconnect, so the caller sees every event once;
// - read-your-writes across read replicas: every write's response carries
//   the WAL position its commit reached (trailing metadata
//   chatgenius-commit-lsn); the Client keeps the highest it has seen and
//   sends it on every later call (chatgenius-min-lsn), so its reads never
//   miss its own writes, whichever replica serves them. A gateway serving
//   many end users through one Client sees all their writes in one token;
//   to keep one per end user instead, store consistency_token() per user
//   session and send it as chatgenius-min-lsn (see the README).
//
// Example:
//   ClientOptions options;
//   options.target = "dns:///chatgenius-db:50051";
//   ASSIGN_OR_RETURN(std::unique_ptr<Client> db, Client::Create(options));
//   db::v1::CreateUserRequest request;
//   request.mutable_user()->set_username("ada");
//   request.mutable_user()->set_email("ada@example.com");
//   ASSIGN_OR_RETURN(db::v1::User ada, db->CreateUser(request));
#ifndef CHATGENIUS_CLIENT_CLIENT_H_
#define CHATGENIUS_CLIENT_CLIENT_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "chatgenius/db/v1/admin_service.grpc.pb.h"
#include "chatgenius/db/v1/channel_service.grpc.pb.h"
#include "chatgenius/db/v1/event_service.grpc.pb.h"
#include "chatgenius/db/v1/message_service.grpc.pb.h"
#include "chatgenius/db/v1/migration_service.grpc.pb.h"
#include "chatgenius/db/v1/reaction_service.grpc.pb.h"
#include "chatgenius/db/v1/user_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace chatgenius::client {

// ClientOptions configures a Client.
struct ClientOptions {
  std::string target = "127.0.0.1:50051";
  // TLS: off means plaintext (loopback and trusted networks only).
  bool tls = false;
  std::string tls_root_certs_pem;   // empty: the system roots
  std::string tls_client_cert_pem;  // for mTLS, with the key
  std::string tls_client_key_pem;
  std::string tls_server_name;  // override the name checked in the certificate
  // Bearer token sent as "authorization: Bearer <token>" (empty: none).
  std::string bearer_token;
  absl::Duration default_deadline = absl::Seconds(5);
  // Attempts per idempotent call (1 = no retry), with backoff 100 ms..2 s.
  int max_attempts = 4;
};

// kStartAfterMetadata is the Subscribe initial-metadata key naming the
// event id a stream starts after (see event_service.proto).
inline constexpr char kStartAfterMetadata[] = "chatgenius-start-after";

// IdempotentMethods lists "package.Service/Method" for every method whose
// .proto declares an idempotency_level (NO_SIDE_EFFECTS or IDEMPOTENT):
// the ones the client retries. The protos are the one list.
std::vector<std::string> IdempotentMethods();

// ServiceConfigJson returns the gRPC service config the client installs:
// round_robin and the retry policy for idempotent methods.
std::string ServiceConfigJson(int max_attempts);

// EventSubscription reads a Subscribe stream and resumes it from the last
// delivered event id when it breaks with a resumable error (UNAVAILABLE,
// RESOURCE_EXHAUSTED, INTERNAL), with backoff 100 ms..5 s. Before the first
// event it resumes from where the server said the stream started, so a
// live-only subscription misses nothing either. Not thread-safe except
// Cancel.
class EventSubscription {
 public:
  // Next blocks for the next event. Returns false when the subscription
  // ended for good (Cancel, or a non-resumable error: see status()).
  bool Next(db::v1::Event* event);
  // Cancel ends the subscription; Next returns false soon after.
  void Cancel();
  // status is why the subscription ended (OK after Cancel).
  absl::Status status() const { return status_; }
  // last_event_id is the cursor a new subscription would resume from.
  int64_t last_event_id() const { return request_.after_event_id(); }

 private:
  friend class Client;
  EventSubscription(db::v1::EventService::Stub* stub, db::v1::SubscribeRequest request,
                    std::string bearer_token);
  // Open starts one call and waits for the server's start metadata: true
  // once the stream has started (a live-only request takes the start id as
  // its cursor), false if the call failed first (reader_ to be finished).
  bool Open();
  // Connect opens calls, after `delay` and then with backoff, until one has
  // started (true) or the subscription ended (false: Cancel, or status_).
  bool Connect(absl::Duration delay);

  db::v1::EventService::Stub* const stub_;
  db::v1::SubscribeRequest request_;  // after_event_id tracks delivery
  const std::string bearer_token_;
  absl::Mutex mu_;  // guards context_ against Cancel from another thread
  std::unique_ptr<grpc::ClientContext> context_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::ClientReader<db::v1::Event>> reader_;
  absl::Notification cancelled_;  // notified under mu_ by Cancel
  absl::Status status_;           // the first non-resumable error
};

// ToStatus converts a gRPC status to absl::Status (same codes).
absl::Status ToStatus(const grpc::Status& status);

class Client {
 public:
  // Create builds the channel (it connects lazily). INVALID_ARGUMENT for
  // an empty target.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Client>> Create(ClientOptions options);

  // Typed calls with the default deadline. Each returns the server's status
  // on failure (code and message as documented in the protos).
  absl::StatusOr<db::v1::User> CreateUser(const db::v1::CreateUserRequest& r);
  absl::StatusOr<db::v1::User> GetUser(const std::string& id);
  absl::StatusOr<db::v1::User> LookupUser(const db::v1::LookupUserRequest& r);
  absl::StatusOr<db::v1::Channel> CreateChannel(const db::v1::CreateChannelRequest& r);
  absl::StatusOr<db::v1::ChannelMember> AddMember(const db::v1::AddMemberRequest& r);
  absl::StatusOr<db::v1::Message> PostMessage(const db::v1::PostMessageRequest& r);
  absl::StatusOr<db::v1::Message> GetMessage(const db::v1::GetMessageRequest& r);
  absl::StatusOr<db::v1::ListMessagesResponse> ListMessages(const db::v1::ListMessagesRequest& r);
  absl::StatusOr<db::v1::MigrationStatus> GetMigrationStatus();
  absl::StatusOr<db::v1::MigrationStatus> ApplyMigrations();
  absl::StatusOr<db::v1::PoolStats> GetPoolStats();
  absl::StatusOr<db::v1::TunnelStatus> GetTunnelStatus();
  absl::StatusOr<db::v1::DatabaseHosts> GetDatabaseHosts();
  absl::StatusOr<db::v1::ServerInfo> GetServerInfo();
  // Check asks grpc.health.v1.Health about `service` ("" = readiness).
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> Check(
      const std::string& service);

  // Subscribe opens a resuming event subscription. It returns once the
  // server has started the stream (or refused it: Next then returns false
  // with status()); every event committed after it returns is delivered.
  // While no server is reachable it waits, like a wait-for-ready call.
  std::unique_ptr<EventSubscription> Subscribe(db::v1::SubscribeRequest request);

  // The generated stubs, for everything the typed calls above do not cover.
  // Use NewContext() for their ClientContext (deadline and credentials).
  db::v1::UserService::Stub& users() { return *users_; }
  db::v1::ChannelService::Stub& channels() { return *channels_; }
  db::v1::MessageService::Stub& messages() { return *messages_; }
  db::v1::ReactionService::Stub& reactions() { return *reactions_; }
  db::v1::EventService::Stub& events() { return *events_; }
  db::v1::MigrationService::Stub& migrations() { return *migrations_; }
  db::v1::AdminService::Stub& admin() { return *admin_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }

  // NewContext returns a context with the default deadline, the bearer
  // token and the read-your-writes token (chatgenius-min-lsn).
  std::unique_ptr<grpc::ClientContext> NewContext() const;

  // NoteReply takes the write position (chatgenius-commit-lsn) from a
  // finished call's trailing metadata. Call already does; call it after
  // using a stub with NewContext() yourself.
  void NoteReply(const grpc::ClientContext& context);

  // consistency_token is the highest write position this Client has seen
  // ("" before the first write), in PostgreSQL's "16/B374D848" form.
  std::string consistency_token() const;

  // Call runs any unary method of the stubs above with NewContext():
  //   client.Call<v1::Channel>(
  //       [&](auto* c, auto& q, auto* p) { return client.channels().ArchiveChannel(c, q, p); },
  //       request);
  template <typename Response, typename Request, typename Method>
  absl::StatusOr<Response> Call(Method method, const Request& request) {
    std::unique_ptr<grpc::ClientContext> context = NewContext();
    Response response;
    grpc::Status status = method(context.get(), request, &response);
    NoteReply(*context);
    if (!status.ok()) return ToStatus(status);
    return response;
  }

 private:
  explicit Client(ClientOptions options) : options_(std::move(options)) {}

  const ClientOptions options_;
  std::atomic<uint64_t> commit_lsn_{0};  // read-your-writes: the highest seen
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<db::v1::UserService::Stub> users_;
  std::unique_ptr<db::v1::ChannelService::Stub> channels_;
  std::unique_ptr<db::v1::MessageService::Stub> messages_;
  std::unique_ptr<db::v1::ReactionService::Stub> reactions_;
  std::unique_ptr<db::v1::EventService::Stub> events_;
  std::unique_ptr<db::v1::MigrationService::Stub> migrations_;
  std::unique_ptr<db::v1::AdminService::Stub> admin_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

}  // namespace chatgenius::client

#endif  // CHATGENIUS_CLIENT_CLIENT_H_
