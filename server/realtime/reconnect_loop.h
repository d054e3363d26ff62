// reconnect_loop.h
//
// RunReconnecting: the outer loop of a component that holds one dedicated
// database session (the hub's LISTEN connection, the sequencer's leader
// session): run the session until it fails, then wait and open it again,
// until stopped. One warning per outage, not one per attempt: a session
// calls `connected` once it is set up, which re-arms the warning.
//
// Example:
//   RunReconnecting({"event hub", settings.reconnect_delay,
//                    [&] { return stop.HasBeenNotified(); },
//                    [&](absl::Duration d) { stop.WaitForNotificationWithTimeout(d); },
//                    [&](const std::function<void()>& connected) {
//                      pqxx::connection conn(conninfo);
//                      connected();
//                      ServeUntilStopped(conn);   // throws when the session breaks
//                    },
//                    [&] { MarkDisconnected(); }});
#ifndef CHATGENIUS_SERVER_REALTIME_RECONNECT_LOOP_H_
#define CHATGENIUS_SERVER_REALTIME_RECONNECT_LOOP_H_

#include <functional>
#include <string>

#include "absl/time/time.h"

namespace chatgenius {

struct ReconnectLoop {
  std::string who;       // names the component in the warning
  absl::Duration delay;  // between a failure and the next attempt
  std::function<bool()> stopping;
  // Waits up to a duration, returning early once stopping.
  std::function<void(absl::Duration)> sleep;
  // Opens the session and works until stopping (returns) or until it
  // breaks (throws std::exception).
  std::function<void(const std::function<void()>& connected)> session;
  // After each failure, before the warning (may be empty).
  std::function<void()> on_lost;
};

void RunReconnecting(const ReconnectLoop& loop);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_REALTIME_RECONNECT_LOOP_H_
