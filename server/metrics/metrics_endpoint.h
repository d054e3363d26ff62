// metrics_endpoint.h
//
// The admin HTTP endpoint: GET /metrics answers with the text a render
// function produces (Prometheus text format 0.0.4); anything else is 404.
// Served by cpp-httplib on its own threads; off unless METRICS_ADDRESS is
// set.
#ifndef CHATGENIUS_SERVER_METRICS_METRICS_ENDPOINT_H_
#define CHATGENIUS_SERVER_METRICS_METRICS_ENDPOINT_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace chatgenius {

class MetricsEndpoint {
 public:
  // Start listens on `address` ("host:port", port 0 = any free port).
  // INVALID_ARGUMENT/UNAVAILABLE name METRICS_ADDRESS when it cannot.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& address, std::function<std::string()> render);
  ~MetricsEndpoint();  // stops serving

  int port() const { return port_; }

 private:
  MetricsEndpoint() = default;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_METRICS_METRICS_ENDPOINT_H_
