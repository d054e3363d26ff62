// host_port.h
//
// SplitHostPort parses the "host:port" addresses of LISTEN_ADDRESS and
// METRICS_ADDRESS ("127.0.0.1:50051", "[::1]:9090", "localhost:0"), and
// IsLoopbackHost says whether a host is this machine only (localhost,
// 127.0.0.0/8, ::1) — the test behind the plaintext and bearer-token rules.
#ifndef CHATGENIUS_SERVER_COMMON_HOST_PORT_H_
#define CHATGENIUS_SERVER_COMMON_HOST_PORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chatgenius {

struct HostPort {
  std::string host;  // without the brackets of an IPv6 literal; may be empty
  int port = 0;      // 0..65535; 0 asks the OS for a free port
};

// SplitHostPort splits at the last ':'. INVALID_ARGUMENT ("must be
// host:port, got '...'") without a colon, with a port that is not a number
// in 0..65535, or with an unbalanced IPv6 bracket.
absl::StatusOr<HostPort> SplitHostPort(absl::string_view address);

// IsLoopbackHost: "localhost", "::1" or an IPv4 address in 127.0.0.0/8.
bool IsLoopbackHost(absl::string_view host);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_COMMON_HOST_PORT_H_
