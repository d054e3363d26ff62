// test_server.h
//
// TestServer: a real chatgenius Server (Server::Start, as in production)
// on 127.0.0.1 with a free port, plus a client channel to it and a helper
// that waits for a health status. Used by every gRPC integration test.
#ifndef CHATGENIUS_TESTS_SUPPORT_TEST_SERVER_H_
#define CHATGENIUS_TESTS_SUPPORT_TEST_SERVER_H_

#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/app/config.h"
#include "server/app/server.h"

namespace chatgenius::testing {

class TestServer {
 public:
  // Starts a server with `config`; ADD_FAILURE()s if it cannot.
  explicit TestServer(const Config& config);
  ~TestServer();

  Server* server() { return server_.get(); }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  std::string address() const;

  // HealthStatus returns the Check answer for `service` (UNKNOWN on error).
  grpc::health::v1::HealthCheckResponse::ServingStatus HealthStatus(const std::string& service);

  // WaitForEventHub waits until the event hub has connected (until then
  // Subscribe is refused UNAVAILABLE); returns whether it did.
  bool WaitForEventHub(absl::Duration timeout = absl::Seconds(20));

  // WaitForHealth polls Check until it reports `want` or `timeout` passes;
  // returns whether it did.
  bool WaitForHealth(const std::string& service,
                     grpc::health::v1::HealthCheckResponse::ServingStatus want,
                     absl::Duration timeout);

 private:
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

// Deadline sets a context deadline `d` from now; every test call uses one
// so a hung server fails the test instead of hanging it.
void SetDeadline(grpc::ClientContext* context, absl::Duration d = absl::Seconds(10));

// SeparateConnection is a channel to `address` on a TCP connection of its
// own. `small_window` turns off BDP probing and keeps HTTP/2 windows at
// 64 KiB, like a client that cannot keep up: otherwise gRPC grows the
// window to megabytes and absorbs a backlog before the server ever sees
// backpressure.
std::shared_ptr<grpc::Channel> SeparateConnection(const std::string& address,
                                                  bool small_window = false);

}  // namespace chatgenius::testing

#endif  // CHATGENIUS_TESTS_SUPPORT_TEST_SERVER_H_
