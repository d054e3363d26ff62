// message_rows.h
//
// How a render-ready message is selected and read back, for every statement
// of MessageStore that returns messages: MessageSelect (the message, its
// author summary, reply count and last reply time, and for the viewing user
// its reactions summary and attachments, from LATERAL subqueries that each
// use an index on the message id: one statement per page, no N+1),
// PageSelect (a page chosen from `messages` first, cut at a byte budget),
// and MessageFromRow / PageFromRows (rows to protos).
#ifndef CHATGENIUS_SERVER_STORE_MESSAGE_ROWS_H_
#define CHATGENIUS_SERVER_STORE_MESSAGE_ROWS_H_

#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "chatgenius/db/v1/message_service.pb.h"

namespace chatgenius {

// MessagePage is one page of a listing: its messages, and whether the
// byte budget (ContentLimits::max_response_bytes) ended it before the row
// limit, so that more may follow.
struct MessagePage {
  std::vector<db::v1::Message> messages;
  bool cut_by_budget = false;
};

// The columns of MessageSelect before its `extra_columns`.
inline constexpr int kMessageColumnCount = 16;

// MessageSelect is SELECT ... FROM ... of a render-ready message row (alias
// m, from `source`) for the viewing user in parameter `viewer`, followed by
// `extra_columns`; callers append WHERE/ORDER/LIMIT.
std::string MessageSelect(const std::string& viewer, const std::string& extra_columns = "",
                          const std::string& source = "messages");

// PageSelect chooses up to `limit` rows of `messages` matching `page_where`
// in `order`, stops at the row whose content takes the page to `budget`
// bytes (kRowOverheadBytes each), and selects them render-ready; the
// column after MessageSelect's is how many rows were fetched before the cut.
std::string PageSelect(const std::string& viewer, const std::string& page_where,
                       const std::string& order, const std::string& limit,
                       const std::string& budget);

// MessageFromRow reads MessageSelect's columns. INTERNAL if its reactions or
// attachments JSON does not parse.
absl::StatusOr<db::v1::Message> MessageFromRow(const pqxx::row& r);

// PageFromRows reads PageSelect's rows and whether the budget cut the page
// (counted under MAX_RESPONSE_BYTES).
absl::StatusOr<MessagePage> PageFromRows(const pqxx::result& rows);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_STORE_MESSAGE_ROWS_H_
