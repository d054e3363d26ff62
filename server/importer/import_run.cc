#include "server/importer/import_run.h"

namespace chatgenius {

namespace {

const Statement kTargetReady("import_target_ready",
                             "SELECT to_regclass('legacy_import_progress') IS NOT NULL AND "
                             "to_regclass('legacy_import_merged_channels') IS NOT NULL");
const Statement kProgressGet("import_progress_get",
                             "SELECT last_id, rows_read FROM legacy_import_progress "
                             "WHERE source_table = $1");
const Statement kProgressPut(
    "import_progress_put",
    "INSERT INTO legacy_import_progress (source_table, last_id, rows_read) VALUES ($1, $2, $3) "
    "ON CONFLICT (source_table) DO UPDATE SET last_id = EXCLUDED.last_id, "
    "rows_read = EXCLUDED.rows_read, updated_at = now()");

const Statement kUsersAmong("import_users_among",
                            "SELECT id FROM users WHERE id = ANY($1::text[])");
const Statement kChannelsAmong("import_channels_among",
                               "SELECT id, id FROM channels WHERE id = ANY($1::text[]) UNION ALL "
                               "SELECT legacy_id, channel_id FROM legacy_import_merged_channels "
                               "WHERE legacy_id = ANY($1::text[])");
const Statement kMessagesAmong("import_messages_among",
                               "SELECT id, channel_id FROM messages WHERE id = ANY($1::text[])");

std::string IdArray(const std::set<std::string>& ids) {
  return TextArray(std::vector<PgText>(ids.begin(), ids.end()));
}

std::vector<std::string> ArrayParams(const Rows& rows, std::optional<size_t> only = {}) {
  std::vector<std::string> params;
  for (const std::vector<PgText>& column : rows.columns) {
    params.push_back(only ? TextArray({column[*only]}) : TextArray(column));
  }
  return params;
}

std::map<std::string, std::string> Pairs(const pqxx::result& r) {
  std::map<std::string, std::string> out;
  for (const pqxx::row& row : r) out[row[0].as<std::string>()] = row[1].as<std::string>();
  return out;
}

}  // namespace

std::string TextArray(const std::vector<PgText>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    if (!items[i].has_value()) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : *items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

void Rows::Add(const std::string& source_id, std::vector<PgText> values) {
  for (size_t c = 0; c < columns.size(); ++c) columns[c].push_back(std::move(values[c]));
  source_ids.push_back(source_id);
}

std::string RefusedReason(const std::exception& e) {
  const std::string what = e.what();
  return absl::StrCat("refused by the database: ", what.substr(0, what.find('\n')));
}

std::set<std::string> KnownUsers(pqxx::transaction_base& txn, const std::set<std::string>& ids) {
  std::set<std::string> out;
  for (const pqxx::row& row : Exec(txn, kUsersAmong, IdArray(ids))) {
    out.insert(row[0].as<std::string>());
  }
  return out;
}

std::map<std::string, std::string> ChannelsNow(pqxx::transaction_base& txn,
                                               const std::set<std::string>& legacy_ids) {
  return Pairs(Exec(txn, kChannelsAmong, IdArray(legacy_ids)));
}

std::map<std::string, std::string> KnownMessages(pqxx::transaction_base& txn,
                                                 const std::set<std::string>& ids) {
  return Pairs(Exec(txn, kMessagesAmong, IdArray(ids)));
}

ImportRun::ImportRun(const LegacyImportOptions& options, ImportObserver* observer,
                     LegacySource* source, pqxx::connection* target)
    : options_(options), observer_(observer), source_(source), target_(target) {}

absl::Status ImportRun::Start() {
  try {
    {
      pqxx::read_transaction t(*target_);
      if (!Exec1(t, kTargetReady)[0].as<bool>()) {
        return absl::FailedPreconditionError(
            "the target database's schema is too old for the import: run `chatgenius-db setup` "
            "(or start the server once) first");
      }
    }
    if (options_.dry_run) dry_run_ = std::make_unique<pqxx::work>(*target_);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

std::vector<TableReport> ImportRun::Finish() {
  if (dry_run_ != nullptr) dry_run_->abort();
  dry_run_.reset();
  return reports_;
}

int64_t ImportRun::Begin(const std::string& table, const std::string& source_table) {
  reports_.push_back(TableReport{table});
  const int64_t rows = source_->Count(source_table);
  if (observer_ != nullptr) observer_->TableStarted(table, rows);
  return rows;
}

void ImportRun::End() {
  if (observer_ != nullptr) observer_->TableFinished(report());
}

absl::Status ImportRun::InBatch(const std::function<void(pqxx::dbtransaction&)>& body) {
  try {
    if (dry_run_ != nullptr) {
      pqxx::subtransaction sub(*dry_run_, "batch");
      body(sub);
      sub.commit();
    } else {
      pqxx::work txn(*target_);
      body(txn);
      txn.commit();
    }
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
  ++batches_;
  if (observer_ != nullptr) observer_->RowsRead(report().read);
  if (options_.stop_after_batches > 0 && batches_ >= options_.stop_after_batches) {
    return absl::AbortedError(absl::StrCat("stopped after ", batches_, " batches"));
  }
  return absl::OkStatus();
}

std::pair<std::string, int64_t> ImportRun::ResumePoint(const std::string& key) {
  pqxx::result r;
  if (dry_run_ != nullptr) {
    r = Exec(*dry_run_, kProgressGet, key);
  } else {
    pqxx::read_transaction t(*target_);
    r = Exec(t, kProgressGet, key);
  }
  if (r.empty()) return {"", 0};
  return {r[0][0].as<std::string>(), r[0][1].as<int64_t>()};
}

void ImportRun::SaveResumePoint(pqxx::transaction_base& txn, const std::string& key,
                                const std::string& last_id, int64_t rows_read) {
  Exec(txn, kProgressPut, key, last_id, rows_read);
}

ImportRun::Inserted ImportRun::BulkInsert(pqxx::dbtransaction& txn, const Statement& statement,
                                          const Rows& rows) {
  Inserted out;
  if (rows.size() == 0) return out;
  try {
    pqxx::subtransaction all(txn, "bulk");
    out.inserted = static_cast<int64_t>(
        Exec(all, statement, pqxx::prepare::make_dynamic_params(ArrayParams(rows))).size());
    all.commit();
    return out;
  } catch (const pqxx::sql_error&) {
    // Some row is refused: find which, keep the rest.
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    try {
      pqxx::subtransaction one(txn, "row");
      out.inserted += static_cast<int64_t>(
          Exec(one, statement, pqxx::prepare::make_dynamic_params(ArrayParams(rows, i))).size());
      one.commit();
    } catch (const pqxx::sql_error& e) {
      ++out.refused;
      report().Reject(RefusedReason(e), rows.source_ids[i]);
    }
  }
  return out;
}

bool ImportRun::InsertOne(pqxx::dbtransaction& txn, const std::string& source_id,
                          const std::function<void(pqxx::dbtransaction&)>& insert) {
  try {
    pqxx::subtransaction one(txn, "one");
    insert(one);
    one.commit();
    return true;
  } catch (const pqxx::sql_error& e) {
    report().Reject(RefusedReason(e), source_id);
    return false;
  }
}

}  // namespace chatgenius
