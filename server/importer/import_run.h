// import_run.h
//
// ImportRun: one run of the legacy import on the target side — the batch
// transactions (each commits with its resume point; in a dry run, each is a
// subtransaction of one transaction rolled back at the end), the resume
// points themselves (legacy_import_progress), bulk inserts that find and
// report the rows the database refuses, and the reports per table. The
// table writers (import_tables.h) run on it; the lookups below are the
// only SQL they share.
#ifndef CHATGENIUS_SERVER_IMPORTER_IMPORT_RUN_H_
#define CHATGENIUS_SERVER_IMPORTER_IMPORT_RUN_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/db/pg_error.h"
#include "server/db/statement.h"
#include "server/importer/import_report.h"
#include "server/importer/legacy_importer.h"
#include "server/importer/legacy_source.h"

namespace chatgenius {

// TextArray is a PostgreSQL array literal of text: every element quoted,
// NULL bare (the bulk inserts take one array per column).
std::string TextArray(const std::vector<PgText>& items);

// Rows is a batch for a bulk insert: one vector per column, and each row's
// source id for the report.
struct Rows {
  explicit Rows(size_t columns) : columns(columns) {}
  void Add(const std::string& source_id, std::vector<PgText> values);
  size_t size() const { return source_ids.size(); }

  std::vector<std::vector<PgText>> columns;
  std::vector<std::string> source_ids;
};

// RefusedReason is the report's reason for a row the database refused:
// the first line of its error.
std::string RefusedReason(const std::exception& e);

// The target's rows among `ids`: users that exist; legacy channel id -> the
// channel it is now (itself, or the direct channel it was merged into);
// message id -> its channel.
std::set<std::string> KnownUsers(pqxx::transaction_base& txn, const std::set<std::string>& ids);
std::map<std::string, std::string> ChannelsNow(pqxx::transaction_base& txn,
                                               const std::set<std::string>& legacy_ids);
std::map<std::string, std::string> KnownMessages(pqxx::transaction_base& txn,
                                                 const std::set<std::string>& ids);

class ImportRun {
 public:
  ImportRun(const LegacyImportOptions& options, ImportObserver* observer, LegacySource* source,
            pqxx::connection* target);

  // Start: FAILED_PRECONDITION unless the target has this binary's import
  // tables (its schema is current); opens a dry run's transaction.
  absl::Status Start();
  // Finish rolls a dry run back and returns the reports.
  std::vector<TableReport> Finish();

  LegacySource& source() { return *source_; }
  int batch_size() const { return options_.batch_size; }

  // Begin starts the report of `table` (read from `source_table`), makes
  // it the current one and returns the source table's row count (which the
  // observer is given); End tells the observer it is done.
  int64_t Begin(const std::string& table, const std::string& source_table);
  void End();
  TableReport& report() { return reports_.back(); }

  // InBatch runs `body(txn)` in a batch's transaction and commits it;
  // ABORTED once stop_after_batches batches have committed.
  absl::Status InBatch(const std::function<void(pqxx::dbtransaction&)>& body);

  // Whole reads a small table whole (every run: it skips what exists), in
  // batches: `read(last, limit)` returns the rows after `last` (nullptr:
  // from the start); `write(row, txn)` writes one row in its batch.
  template <typename Row>
  absl::Status Whole(const std::function<std::vector<Row>(const Row* last, int limit)>& read,
                     const std::function<void(const Row&, pqxx::dbtransaction&)>& write);

  // Resumable reads a large table in batches (`read(after, limit)`, keyed
  // by Row::id) from the resume point `key` on, and writes each batch with
  // `write` in its transaction together with the resume point after it.
  template <typename Row>
  absl::Status Resumable(
      const std::string& key,
      const std::function<std::vector<Row>(const std::string& after, int limit)>& read,
      const std::function<void(const std::vector<Row>&, pqxx::dbtransaction&)>& write);

  // BulkInsert inserts `rows` with `statement` (one array parameter per
  // column; RETURNING one row per inserted row) and returns how many were
  // inserted. If the database refuses the batch, it inserts row by row and
  // rejects each refused row in the report.
  struct Inserted {
    int64_t inserted = 0;
    int64_t refused = 0;
  };
  Inserted BulkInsert(pqxx::dbtransaction& txn, const Statement& statement, const Rows& rows);

  // InsertOne runs `insert(sub)` in a subtransaction; false (the row
  // rejected with the database's reason) if the database refuses it.
  bool InsertOne(pqxx::dbtransaction& txn, const std::string& source_id,
                 const std::function<void(pqxx::dbtransaction&)>& insert);

 private:
  std::pair<std::string, int64_t> ResumePoint(const std::string& key);
  void SaveResumePoint(pqxx::transaction_base& txn, const std::string& key,
                       const std::string& last_id, int64_t rows_read);

  const LegacyImportOptions& options_;
  ImportObserver* observer_;
  LegacySource* source_;
  pqxx::connection* target_;
  std::unique_ptr<pqxx::work> dry_run_;
  int batches_ = 0;
  std::vector<TableReport> reports_;
};

template <typename Row>
absl::Status ImportRun::Whole(
    const std::function<std::vector<Row>(const Row* last, int limit)>& read,
    const std::function<void(const Row&, pqxx::dbtransaction&)>& write) {
  std::vector<Row> batch;
  for (;;) {
    try {
      batch = read(batch.empty() ? nullptr : &batch.back(), batch_size());
    } catch (const std::exception& e) {
      return StatusFromException(e);
    }
    if (batch.empty()) return absl::OkStatus();
    absl::Status s = InBatch([&](pqxx::dbtransaction& txn) {
      for (const Row& row : batch) write(row, txn);
    });
    if (!s.ok()) return s;
  }
}

template <typename Row>
absl::Status ImportRun::Resumable(
    const std::string& key,
    const std::function<std::vector<Row>(const std::string& after, int limit)>& read,
    const std::function<void(const std::vector<Row>&, pqxx::dbtransaction&)>& write) {
  std::pair<std::string, int64_t> resume;
  try {
    resume = ResumePoint(key);
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
  std::string after = resume.first;
  int64_t read_so_far = resume.second;
  report().read_by_earlier_runs += read_so_far;
  for (;;) {
    std::vector<Row> batch;
    try {
      batch = read(after, batch_size());
    } catch (const std::exception& e) {
      return StatusFromException(e);
    }
    if (batch.empty()) return absl::OkStatus();
    after = batch.back().id;
    read_so_far += static_cast<int64_t>(batch.size());
    report().read += static_cast<int64_t>(batch.size());
    absl::Status s = InBatch([&](pqxx::dbtransaction& txn) {
      write(batch, txn);
      SaveResumePoint(txn, key, after, read_so_far);
    });
    if (!s.ok()) return s;
  }
}

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_IMPORTER_IMPORT_RUN_H_
