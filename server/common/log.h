// log.h
//
// Process-wide logging to stderr, one line per record, in one of two
// formats chosen at start-up (LOG_FORMAT):
//
//   text: 2026-11-29T11:23:31.123Z INFO message key=value ...
//   json: {"ts":"2026-11-29T11:23:31.123Z","level":"info","msg":"message","key":"value"}
//
// Records below the configured level (LOG_LEVEL) are dropped. Callers must
// not pass secrets: connection strings go through Config::RedactedConnInfo
// and bearer tokens never reach the service layer (the auth processor
// consumes them).
#ifndef CHATGENIUS_SERVER_COMMON_LOG_H_
#define CHATGENIUS_SERVER_COMMON_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace chatgenius {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat { kText, kJson };

// ConfigureLogging sets the format and the lowest level written. Call once
// at start-up; defaults are text and info.
void ConfigureLogging(LogFormat format, LogLevel min_level);

// ParseLogLevel maps "debug", "info", "warn", "error"; info otherwise.
LogLevel ParseLogLevel(absl::string_view name);

// LogEnabled reports whether `level` records are written (to skip building
// a costly message).
bool LogEnabled(LogLevel level);

using LogField = std::pair<absl::string_view, std::string>;

// Log writes one record with extra fields; thread-safe, one write per line.
void Log(LogLevel level, absl::string_view message, std::initializer_list<LogField> fields = {});

// FormatLogRecord renders a record without writing it (tests).
std::string FormatLogRecord(LogFormat format, LogLevel level, absl::string_view timestamp,
                            absl::string_view message, std::initializer_list<LogField> fields);

inline void LogInfo(absl::string_view message) { Log(LogLevel::kInfo, message); }
inline void LogWarning(absl::string_view message) { Log(LogLevel::kWarning, message); }
inline void LogError(absl::string_view message) { Log(LogLevel::kError, message); }

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_COMMON_LOG_H_
