// pagination.h
//
// Keyset pages (AIP-158) the same way in every List and Search handler: a
// page token carries the sort keys of the previous page's last row, signed
// for the query that made it (PageTokenCodec); the store is asked for one
// row more than the page, which says whether another page exists without a
// COUNT.
//
// Example:
//   ASSIGN_OR_RETURN(PageCursor cursor,
//                    PageCursor::Decode(*tokens_, query, request.page_token(), 1));
//   ASSIGN_OR_RETURN(std::vector<v1::User> users,
//                    store_->List(cursor.key(0), page_size + 1, ...));
//   response.set_next_page_token(FinishPage(
//       *tokens_, query, users, page_size, /*cut=*/false,
//       [&](v1::User& u) { *response.add_users() = std::move(u); },
//       [](const v1::User& u) { return std::vector<std::string>{u.id()}; }));
#ifndef CHATGENIUS_SERVER_SERVICE_PAGINATION_H_
#define CHATGENIUS_SERVER_SERVICE_PAGINATION_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/common/page_token.h"

namespace chatgenius {

// PageCursor is where a page starts: nowhere (the first page) or after the
// row whose sort keys a page token carried.
class PageCursor {
 public:
  // Decode reads `token` (empty: the first page) for `query`, which must
  // carry `key_count` keys. INVALID_ARGUMENT naming page_token otherwise
  // (altered, another key or query, or the wrong number of keys).
  static absl::StatusOr<PageCursor> Decode(const PageTokenCodec& codec, absl::string_view query,
                                           absl::string_view token, size_t key_count);

  bool first_page() const { return keys_.empty(); }
  // key is the i-th sort key to continue after, or `otherwise` on the
  // first page.
  const std::string& key(size_t i, const std::string& otherwise = Empty()) const {
    return first_page() ? otherwise : keys_[i];
  }

 private:
  static const std::string& Empty();
  std::vector<std::string> keys_;
};

// TrimPage keeps the first `page_size` rows of a page fetched with one row
// extra and returns whether another page exists.
template <typename T>
bool TrimPage(std::vector<T>& rows, int page_size) {
  const bool more = static_cast<int>(rows.size()) > page_size;
  if (more) rows.resize(page_size);
  return more;
}

// FinishPage moves the page's rows (fetched page_size + 1) into the
// response with `add`, and returns the next page token: the last row's
// `keys_of` signed for `query` when another page exists or `cut` says the
// store ended the page early (a byte budget), else "".
template <typename Row, typename Add, typename KeysOf>
std::string FinishPage(const PageTokenCodec& codec, absl::string_view query, std::vector<Row>& rows,
                       int page_size, bool cut, Add add, KeysOf keys_of) {
  const bool more = TrimPage(rows, page_size) || cut;
  std::string token;
  if (more && !rows.empty()) token = codec.Encode(query, keys_of(rows.back()));
  for (Row& row : rows) add(row);
  return token;
}

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_SERVICE_PAGINATION_H_
