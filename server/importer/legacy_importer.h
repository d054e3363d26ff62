// legacy_importer.h
//
// ImportLegacy copies a database of the old TypeScript `db` module into
// this service's schema (docs/IMPORT.md has every mapping and choice):
// users (auth0_id kept), statuses, channels (direct channels keyed by their
// members; two old DMs of the same people become one), memberships (one per
// pair, the strongest live role), messages with threads (ids kept; a reply
// to a reply hangs from its thread's first message), read markers,
// reactions (one per message, user and emoji), files as attachments. Soft
// deletes stay soft deletes. Imported history writes no events.
//
// Restartable and idempotent: every batch commits together with its resume
// point (legacy_import_progress) and inserts nothing that is already there,
// so a second run copies nothing twice, an interrupted one continues after
// its last committed batch, and a run at cut-over copies what arrived since.
// Memory is bounded by the batch size. The source is only ever read
// (legacy_source.h). A dry run does all of it in one transaction and rolls
// it back.
#ifndef CHATGENIUS_SERVER_IMPORTER_LEGACY_IMPORTER_H_
#define CHATGENIUS_SERVER_IMPORTER_LEGACY_IMPORTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/importer/import_report.h"

namespace chatgenius {

struct LegacyImportOptions {
  std::string source;  // libpq conninfo or URL of the legacy database
  std::string target;  // this service's database, as the migration role
  int batch_size = 1000;
  bool dry_run = false;
  // Stop with ABORTED after this many committed batches (0: run to the
  // end) — how tests interrupt a run at a known point.
  int stop_after_batches = 0;
};

// ImportObserver hears progress (the CLI's progress bars).
class ImportObserver {
 public:
  virtual ~ImportObserver() = default;
  virtual void TableStarted(const std::string& table, int64_t source_rows) = 0;
  virtual void RowsRead(int64_t rows_read) = 0;
  virtual void TableFinished(const TableReport& report) = 0;
};

// ImportLegacy runs the import. FAILED_PRECONDITION when the target schema
// is older than this binary's import needs or the source is not a legacy
// database; UNAVAILABLE when either database cannot be reached. Rows that
// cannot be imported are reported, not errors.
absl::StatusOr<std::vector<TableReport>> ImportLegacy(const LegacyImportOptions& options,
                                                      ImportObserver* observer);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_IMPORTER_LEGACY_IMPORTER_H_
