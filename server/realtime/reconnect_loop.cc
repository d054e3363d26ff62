#include "server/realtime/reconnect_loop.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace chatgenius {

void RunReconnecting(const ReconnectLoop& loop) {
  bool warned = false;
  const std::function<void()> connected = [&warned] { warned = false; };
  while (!loop.stopping()) {
    try {
      loop.session(connected);
    } catch (const std::exception& e) {
      if (loop.on_lost) loop.on_lost();
      if (!warned) {
        LogWarning(absl::StrCat(loop.who, ": ", e.what(), "; reconnecting every ",
                                absl::FormatDuration(loop.delay)));
      }
      warned = true;
      loop.sleep(loop.delay);
    }
  }
}

}  // namespace chatgenius
