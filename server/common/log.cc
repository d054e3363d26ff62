#include "server/common/log.h"

#include <atomic>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace chatgenius {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_format{static_cast<int>(LogFormat::kText)};

absl::string_view LevelName(LogLevel level, LogFormat format) {
  const bool json = format == LogFormat::kJson;
  switch (level) {
    case LogLevel::kDebug:
      return json ? "debug" : "DEBUG";
    case LogLevel::kInfo:
      return json ? "info" : "INFO";
    case LogLevel::kWarning:
      return json ? "warn" : "WARN";
    case LogLevel::kError:
      return json ? "error" : "ERROR";
  }
  return "INFO";
}

// AppendJsonString appends `s` as a JSON string literal (RFC 8259 escapes;
// bytes >= 0x80 pass through: messages are UTF-8).
void AppendJsonString(std::string* out, absl::string_view s) {
  out->push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// Text values with spaces, quotes or '=' are quoted so lines stay parseable.
void AppendTextValue(std::string* out, absl::string_view v) {
  if (!v.empty() && v.find_first_of(" \"=\n\t") == absl::string_view::npos) {
    out->append(v.data(), v.size());
  } else {
    AppendJsonString(out, v);
  }
}

}  // namespace

void ConfigureLogging(LogFormat format, LogLevel min_level) {
  g_format.store(static_cast<int>(format));
  g_min_level.store(static_cast<int>(min_level));
}

LogLevel ParseLogLevel(absl::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "warn") return LogLevel::kWarning;
  if (name == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_min_level.load(); }

std::string FormatLogRecord(LogFormat format, LogLevel level, absl::string_view timestamp,
                            absl::string_view message, std::initializer_list<LogField> fields) {
  std::string line;
  if (format == LogFormat::kJson) {
    line.append("{\"ts\":");
    AppendJsonString(&line, timestamp);
    line.append(",\"level\":");
    AppendJsonString(&line, LevelName(level, format));
    line.append(",\"msg\":");
    AppendJsonString(&line, message);
    for (const LogField& f : fields) {
      line.push_back(',');
      AppendJsonString(&line, f.first);
      line.push_back(':');
      AppendJsonString(&line, f.second);
    }
    line.push_back('}');
  } else {
    absl::StrAppend(&line, timestamp, " ", LevelName(level, format), " ", message);
    for (const LogField& f : fields) {
      absl::StrAppend(&line, " ", f.first, "=");
      AppendTextValue(&line, f.second);
    }
  }
  line.push_back('\n');
  return line;
}

void Log(LogLevel level, absl::string_view message, std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  const std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  const std::string line =
      FormatLogRecord(static_cast<LogFormat>(g_format.load()), level, ts, message, fields);
  // One fwrite per line keeps concurrent lines whole.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace chatgenius
