#include "server/db/pg_error.h"

#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace chatgenius {
namespace {

// Payload key that marks statuses caused by a lost connection, so callers
// can tell them from other UNAVAILABLE causes (e.g. pool exhaustion).
constexpr char kConnectionLossPayload[] = "chatgenius.db/connection_loss";

// libpq prefixes messages with "ERROR:  " and appends DETAIL/HINT lines on
// separate lines; callers get the first line only.
std::string FirstLine(absl::string_view what) {
  absl::string_view line = what.substr(0, what.find('\n'));
  absl::ConsumePrefix(&line, "ERROR:");
  return std::string(absl::StripAsciiWhitespace(line));
}

// Finds `constraint "name"` (or `index "name"`) in a server message.
std::string ConstraintName(absl::string_view what) {
  for (absl::string_view marker : {"constraint \"", "index \""}) {
    size_t start = what.find(marker);
    if (start == absl::string_view::npos) continue;
    start += marker.size();
    size_t end = what.find('"', start);
    if (end != absl::string_view::npos) return std::string(what.substr(start, end - start));
  }
  return "";
}

// SqlStateOf returns the SQLSTATE of a libpqxx exception: its sqlstate()
// when it carries one, else the state its class stands for. libpqxx 6.4
// throws some errors without one, and its transaction_rollback family
// (serialization failures, deadlocks) is not even an sql_error.
std::string SqlStateOf(const std::exception& e) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    if (!sql->sqlstate().empty()) return sql->sqlstate();
  }
  // Most specific classes first.
  if (dynamic_cast<const pqxx::unique_violation*>(&e)) return "23505";
  if (dynamic_cast<const pqxx::foreign_key_violation*>(&e)) return "23503";
  if (dynamic_cast<const pqxx::check_violation*>(&e)) return "23514";
  if (dynamic_cast<const pqxx::not_null_violation*>(&e)) return "23502";
  if (dynamic_cast<const pqxx::restrict_violation*>(&e)) return "23001";
  if (dynamic_cast<const pqxx::integrity_constraint_violation*>(&e)) return "23000";
  if (dynamic_cast<const pqxx::data_exception*>(&e)) return "22000";
  if (dynamic_cast<const pqxx::insufficient_privilege*>(&e)) return "42501";
  if (dynamic_cast<const pqxx::serialization_failure*>(&e)) return "40001";
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e)) return "40P01";
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e)) return "40003";
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e)) return "40000";
  if (dynamic_cast<const pqxx::insufficient_resources*>(&e)) return "53000";
  if (dynamic_cast<const pqxx::undefined_table*>(&e)) return "42P01";
  if (dynamic_cast<const pqxx::undefined_column*>(&e)) return "42703";
  if (dynamic_cast<const pqxx::syntax_error*>(&e)) return "42601";
  if (dynamic_cast<const pqxx::feature_not_supported*>(&e)) return "0A000";
  return "";
}

absl::Status ConnectionLoss(absl::string_view what) {
  absl::Status status =
      absl::UnavailableError(absl::StrCat("database connection lost: ", FirstLine(what)));
  status.SetPayload(kConnectionLossPayload, absl::Cord("1"));
  return status;
}

}  // namespace

absl::StatusCode StatusCodeForSqlState(absl::string_view sqlstate) {
  if (sqlstate.size() != 5) return absl::StatusCode::kInternal;
  if (sqlstate == "23505") return absl::StatusCode::kAlreadyExists;
  if (sqlstate == "23503") return absl::StatusCode::kFailedPrecondition;
  if (sqlstate == "23514" || sqlstate == "23502" || sqlstate == "23P01") {
    return absl::StatusCode::kInvalidArgument;
  }
  if (sqlstate == "40001" || sqlstate == "40P01") return absl::StatusCode::kAborted;
  if (sqlstate == "57014") return absl::StatusCode::kDeadlineExceeded;
  if (sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") {
    return absl::StatusCode::kUnavailable;
  }
  if (sqlstate == "42501") return absl::StatusCode::kPermissionDenied;
  // read_only_sql_transaction: a write reached a host that is (now) a
  // standby or read-only — a failover in progress, or a demoted primary.
  if (sqlstate == "25006") return absl::StatusCode::kUnavailable;
  if (sqlstate == "55P03") return absl::StatusCode::kAborted;  // lock_not_available
  absl::string_view cls = sqlstate.substr(0, 2);
  if (cls == "08") return absl::StatusCode::kUnavailable;
  if (cls == "22") return absl::StatusCode::kInvalidArgument;
  if (cls == "23") return absl::StatusCode::kFailedPrecondition;
  if (cls == "40") return absl::StatusCode::kAborted;
  if (cls == "53") return absl::StatusCode::kResourceExhausted;
  return absl::StatusCode::kInternal;
}

absl::Status StatusFromException(const std::exception& e, const ConstraintMessages* messages) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return ConnectionLoss(e.what());
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnknownError(
        "the database connection broke during commit; the write may or may not have been "
        "applied");
  }
  if (const std::string state = SqlStateOf(e); !state.empty()) {
    absl::StatusCode code = StatusCodeForSqlState(state);
    if (code == absl::StatusCode::kUnavailable) return ConnectionLoss(e.what());
    if (messages != nullptr) {
      auto it = messages->find(ConstraintName(e.what()));
      if (it != messages->end()) return absl::Status(code, it->second);
    }
    if (code == absl::StatusCode::kDeadlineExceeded) {
      return absl::DeadlineExceededError("statement timed out (deadline reached)");
    }
    return absl::Status(code, absl::StrCat(FirstLine(e.what()), " [SQLSTATE ", state, "]"));
  }
  // libpqxx reports a dead socket found mid-query as a plain failure.
  if (dynamic_cast<const pqxx::failure*>(&e) != nullptr &&
      (absl::StrContains(e.what(), "server closed the connection") ||
       absl::StrContains(e.what(), "connection to server") ||
       absl::StrContains(e.what(), "Lost connection"))) {
    return ConnectionLoss(e.what());
  }
  return absl::InternalError(absl::StrCat("database error: ", FirstLine(e.what())));
}

bool IsConnectionLoss(const absl::Status& status) {
  return status.GetPayload(kConnectionLossPayload).has_value();
}

}  // namespace chatgenius
