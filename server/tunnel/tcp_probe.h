// tcp_probe.h
//
// TcpAnswers: whether host:port accepts a TCP connection within a timeout.
// The tunnel uses it while backing off from a bastion that refused or did
// not answer connections: the moment the port answers again it retries at
// once instead of sleeping out a doubled delay. Costs one TCP handshake (no
// SSH banner is read or sent).
//
// Example:
//   if (TcpAnswers("bastion.example.com", 22, absl::Milliseconds(300))) ...
#ifndef CHATGENIUS_SERVER_TUNNEL_TCP_PROBE_H_
#define CHATGENIUS_SERVER_TUNNEL_TCP_PROBE_H_

#include <string>

#include "absl/time/time.h"

namespace chatgenius {

// TcpAnswers resolves `host` and tries each address until one accepts
// within `timeout` (per address). False on resolution failure, refusal or
// timeout.
bool TcpAnswers(const std::string& host, int port, absl::Duration timeout);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_TUNNEL_TCP_PROBE_H_
