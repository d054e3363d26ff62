// log.h
//
// Minimal line logging to stderr: "2026-11-29T11:23:31.123Z INFO message".
// Abseil 20220623 has no logging library; structured logs are a later
// issue. Callers must not pass secrets (use Config::RedactedConnInfo).
#ifndef CHATGENIUS_SERVER_COMMON_LOG_H_
#define CHATGENIUS_SERVER_COMMON_LOG_H_

#include "absl/strings/string_view.h"

namespace chatgenius {

// LogInfo, LogWarning and LogError write one line each; thread-safe.
void LogInfo(absl::string_view message);
void LogWarning(absl::string_view message);
void LogError(absl::string_view message);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_COMMON_LOG_H_
