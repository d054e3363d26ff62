#include "server/store/row_conversion.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"

namespace chatgenius {

std::string MicrosSql(const std::string& column) {
  return absl::StrCat("(extract(epoch FROM ", column, ") * 1000000)::bigint");
}

void SetTimestamp(const pqxx::field& micros, google::protobuf::Timestamp* ts) {
  *ts = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(micros.as<int64_t>());
}

std::optional<google::protobuf::Timestamp> OptionalTimestamp(const pqxx::field& micros) {
  if (micros.is_null()) return std::nullopt;
  google::protobuf::Timestamp ts;
  SetTimestamp(micros, &ts);
  return ts;
}

std::optional<int64_t> TimestampToMicros(const google::protobuf::Timestamp* ts) {
  if (ts == nullptr) return std::nullopt;
  return ts->seconds() * 1000000 + ts->nanos() / 1000;
}

}  // namespace chatgenius
