// row_conversion.h
//
// Helpers shared by the stores to turn SQL values into proto fields. Times
// are selected as microseconds since the Unix epoch
// (`(extract(epoch FROM t) * 1000000)::bigint`), which avoids parsing
// PostgreSQL's text timestamp format.
#ifndef CHATGENIUS_SERVER_STORE_ROW_CONVERSION_H_
#define CHATGENIUS_SERVER_STORE_ROW_CONVERSION_H_

#include <cstdint>
#include <optional>
#include <string>

#include <google/protobuf/timestamp.pb.h>
#include <pqxx/pqxx>

#include "absl/time/time.h"

namespace chatgenius {

// MicrosSql returns the SQL expression that selects column `column` as
// microseconds since the epoch, e.g. MicrosSql("u.created_at").
std::string MicrosSql(const std::string& column);

// SetTimestamp fills `ts` from a microseconds field of a NOT NULL column.
void SetTimestamp(const pqxx::field& micros, google::protobuf::Timestamp* ts);

// OptionalTimestamp converts a microseconds field of a nullable column;
// nullopt for NULL, so callers leave the message field unset:
//   if (auto t = OptionalTimestamp(r[5])) *m.mutable_edit_time() = *t;
std::optional<google::protobuf::Timestamp> OptionalTimestamp(const pqxx::field& micros);

// TimestampToMicros converts a proto timestamp, nullopt for nullptr (an
// unset message field).
std::optional<int64_t> TimestampToMicros(const google::protobuf::Timestamp* ts);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_STORE_ROW_CONVERSION_H_
