#include "tests/support/test_server.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace chatgenius::testing {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

TestServer::TestServer(const Config& config) {
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config);
  if (!server.ok()) {
    ADD_FAILURE() << "server did not start: " << server.status();
    return;
  }
  server_ = std::move(*server);
  channel_ = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  health_ = grpc::health::v1::Health::NewStub(channel_);
}

TestServer::~TestServer() {
  if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
}

std::string TestServer::address() const {
  return absl::StrCat("127.0.0.1:", server_ == nullptr ? 0 : server_->port());
}

HealthCheckResponse::ServingStatus TestServer::HealthStatus(const std::string& service) {
  if (health_ == nullptr) return HealthCheckResponse::UNKNOWN;
  grpc::ClientContext context;
  SetDeadline(&context, absl::Seconds(2));
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  grpc::Status status = health_->Check(&context, request, &response);
  if (!status.ok()) return HealthCheckResponse::UNKNOWN;
  return response.status();
}

bool TestServer::WaitForHealth(const std::string& service, HealthCheckResponse::ServingStatus want,
                               absl::Duration timeout) {
  absl::Time until = absl::Now() + timeout;
  while (absl::Now() < until) {
    if (HealthStatus(service) == want) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return HealthStatus(service) == want;
}

void SetDeadline(grpc::ClientContext* context, absl::Duration d) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + d));
}

bool TestServer::WaitForEventHub(absl::Duration timeout) {
  for (absl::Time until = absl::Now() + timeout;
       !server_->hub().stats().connected && absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  return server_->hub().stats().connected;
}

std::shared_ptr<grpc::Channel> SeparateConnection(const std::string& address, bool small_window) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (small_window) {
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 65535);
  }
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

}  // namespace chatgenius::testing
