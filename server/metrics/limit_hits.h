// limit_hits.h
//
// LimitHits: one process-wide counter per configured limit, counting the
// requests (or streams) each limit refused or cut short, rendered as
// chatgenius_limit_hits_total{limit="<SETTING>"} — the label is the
// setting's name, so an operator reads a spike straight into the README's
// Configuration table. Counting is a relaxed atomic increment: callable
// from any layer, any thread, at any rate.
//
// Example:
//   if (count >= limits.max_attachments_per_message) {
//     LimitHits::Count(Limit::kAttachmentsPerMessage);
//     return absl::FailedPreconditionError("... (MAX_ATTACHMENTS_PER_MESSAGE)");
//   }
#ifndef CHATGENIUS_SERVER_METRICS_LIMIT_HITS_H_
#define CHATGENIUS_SERVER_METRICS_LIMIT_HITS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace chatgenius {

// Limit names a limit by what it does; SettingName gives its setting.
enum class Limit {
  kResponseBytes,          // a page cut short by the byte budget
  kAttachmentsPerMessage,  // an attachment refused
  kEmojiPerMessage,        // a reaction with a new emoji refused
  kReactionsPerUser,       // a user's reaction refused
  kStorageUrlScheme,       // an attachment URL with a scheme not allowed
  kStreamQueueEvents,      // a stream ended: too many events waiting
  kStreamQueueBytes,       // a stream ended: too many bytes waiting
  kStreamWriteTimeout,     // a stream ended: the client stopped reading
  kEventStreams,           // a stream refused: the process holds the maximum
  kEventStreamsPerCaller,  // a stream refused: the caller holds the maximum
  kLockTimeout,            // a statement waited for a lock past the timeout
  kIdleInTransaction,      // a session ended for idling in a transaction
  kCount,                  // (not a limit: the number of them)
};

class LimitHits {
 public:
  static void Count(Limit limit);
  static int64_t Get(Limit limit);
  // SettingName is the configuration setting the limit comes from.
  static absl::string_view SettingName(Limit limit);
  // AppendTo renders the family (every limit, zeros included).
  static void AppendTo(std::string* out);
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_METRICS_LIMIT_HITS_H_
