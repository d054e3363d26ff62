#include "server/service/pagination.h"

#include "absl/status/status.h"

namespace chatgenius {

absl::StatusOr<PageCursor> PageCursor::Decode(const PageTokenCodec& codec, absl::string_view query,
                                              absl::string_view token, size_t key_count) {
  PageCursor cursor;
  if (token.empty()) return cursor;
  absl::StatusOr<std::vector<std::string>> keys = codec.Decode(query, token);
  if (!keys.ok()) return keys.status();
  if (keys->size() != key_count) return absl::InvalidArgumentError("page_token: malformed");
  cursor.keys_ = *std::move(keys);
  return cursor;
}

const std::string& PageCursor::Empty() {
  static const auto* empty = new std::string();
  return *empty;
}

}  // namespace chatgenius
