#include "server/importer/legacy_importer.h"

#include <memory>

#include <pqxx/pqxx>

#include "server/common/status_macros.h"
#include "server/db/pg_error.h"
#include "server/importer/import_run.h"
#include "server/importer/import_tables.h"
#include "server/importer/legacy_source.h"

namespace chatgenius {

namespace {

// NotImported reports a whole old table that has no counterpart here.
void NotImported(ImportRun& run, const std::string& table, const std::string& reason) {
  const int64_t rows = run.Begin(table, table);
  TableReport& report = run.report();
  report.read = rows;
  if (report.read > 0) {
    std::vector<std::string> ids = run.source().FirstIds(table, kReasonExamples);
    report.Reject(reason, ids.front(), report.read);
    report.rejections[reason].examples = ids;
  }
  run.End();
}

absl::StatusOr<std::vector<TableReport>> Run(ImportRun& run) {
  RETURN_IF_ERROR(run.Start());
  // Each table's rows refer only to rows of the tables before it.
  for (absl::Status (*table)(ImportRun&) :
       {ImportUsers, ImportStatuses, ImportChannels, ImportMemberships, ImportMessages,
        ImportReadMarkers, ImportReactions, ImportFiles}) {
    absl::Status s = table(run);
    if (!s.ok()) {
      run.Finish();
      return s;
    }
  }
  NotImported(run, "user_settings",
              "no counterpart in this schema (theme, notifications, muted channels)");
  NotImported(run, "sync_state", "client sync bookkeeping: nothing to import");
  return run.Finish();
}

}  // namespace

absl::StatusOr<std::vector<TableReport>> ImportLegacy(const LegacyImportOptions& options,
                                                      ImportObserver* observer) {
  if (options.batch_size < 1 || options.batch_size > 100000) {
    return absl::InvalidArgumentError("batch size must be 1..100000");
  }
  absl::StatusOr<std::unique_ptr<LegacySource>> source = LegacySource::Open(options.source);
  if (!source.ok()) return source.status();
  try {
    pqxx::connection target(options.target);
    ImportRun run(options, observer, source->get(), &target);
    return Run(run);
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

}  // namespace chatgenius
