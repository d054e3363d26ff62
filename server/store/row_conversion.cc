#include "server/store/row_conversion.h"

#include "absl/strings/str_cat.h"

namespace chatgenius {

std::string MicrosSql(const std::string& column) {
  return absl::StrCat("(extract(epoch FROM ", column, ") * 1000000)::bigint");
}

void SetTimestamp(const pqxx::field& micros, google::protobuf::Timestamp* ts) {
  int64_t us = micros.as<int64_t>();
  // Floor division keeps nanos non-negative for times before 1970.
  int64_t seconds = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>((us - seconds * 1000000) * 1000));
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
