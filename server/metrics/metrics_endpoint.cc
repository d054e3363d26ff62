#include "server/metrics/metrics_endpoint.h"

#include <httplib.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/host_port.h"

namespace chatgenius {

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& address, std::function<std::string()> render) {
  absl::StatusOr<HostPort> parsed = SplitHostPort(address);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("METRICS_ADDRESS: ", parsed.status().message()));
  }
  const std::string& host = parsed->host;
  const int port = parsed->port;
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint());
  endpoint->http_ = std::make_unique<httplib::Server>();
  // Scrapes are rare: two threads instead of httplib's default of eight.
  endpoint->http_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  endpoint->http_->Get("/metrics", [render = std::move(render)](const httplib::Request&,
                                                                httplib::Response& response) {
    response.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  endpoint->port_ = port == 0 ? endpoint->http_->bind_to_any_port(host)
                              : (endpoint->http_->bind_to_port(host, port) ? port : -1);
  if (endpoint->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("METRICS_ADDRESS: cannot listen on ", address));
  }
  httplib::Server* http = endpoint->http_.get();
  endpoint->thread_ = std::thread([http] { http->listen_after_bind(); });
  return endpoint;
}

MetricsEndpoint::~MetricsEndpoint() {
  if (http_ != nullptr) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace chatgenius
