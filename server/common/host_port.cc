#include "server/common/host_port.h"

#include <arpa/inet.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chatgenius {

absl::StatusOr<HostPort> SplitHostPort(absl::string_view address) {
  auto invalid = [&] {
    return absl::InvalidArgumentError(absl::StrCat("must be host:port, got '", address, "'"));
  };
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return invalid();
  HostPort out;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &out.port) || out.port < 0 || out.port > 65535) {
    return invalid();
  }
  absl::string_view host = address.substr(0, colon);
  const bool open = absl::StartsWith(host, "["), close = absl::EndsWith(host, "]");
  if (open != close) return invalid();
  if (open) {
    host = host.substr(1, host.size() - 2);
  } else if (absl::StrContains(host, ':')) {
    return invalid();  // an IPv6 literal needs brackets: "[::1]:80"
  }
  out.host = std::string(host);
  return out;
}

bool IsLoopbackHost(absl::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr v4;
  const std::string text(host);
  return inet_pton(AF_INET, text.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

}  // namespace chatgenius
