#include "client/cli_import.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "client/cli_model.h"
#include "server/importer/legacy_importer.h"
#include "server/importer/progress_bar.h"

ABSL_DECLARE_FLAG(bool, json);
ABSL_FLAG(std::string, from, "",
          "import-legacy: the old database (libpq conninfo or postgresql:// URL)");
ABSL_FLAG(bool, dry_run, false, "import-legacy: report what would be imported, write nothing");
ABSL_FLAG(int, batch_size, 1000, "import-legacy: rows per batch (and per transaction)");

namespace {

// Bars on stderr, only on a terminal and without --json.
class Bars : public chatgenius::ImportObserver {
 public:
  explicit Bars(bool enabled) : bar_(stderr, enabled) {}
  void TableStarted(const std::string& table, int64_t rows) override { bar_.Start(table, rows); }
  void RowsRead(int64_t rows) override { bar_.Update(rows); }
  void TableFinished(const chatgenius::TableReport& report) override { bar_.Finish(report.read); }

 private:
  chatgenius::ProgressBar bar_;
};

}  // namespace

int RunImportLegacy(const std::string& target_conninfo) {
  chatgenius::LegacyImportOptions options;
  options.source = absl::GetFlag(FLAGS_from);
  options.target = target_conninfo;
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  options.dry_run = absl::GetFlag(FLAGS_dry_run);
  if (options.source.empty()) {
    std::cerr << "error: import-legacy needs --from=<conninfo or URL of the old database>\n";
    return 2;
  }
  const bool json = absl::GetFlag(FLAGS_json);
  Bars bars(!json && isatty(fileno(stderr)) == 1);
  absl::StatusOr<std::vector<chatgenius::TableReport>> reports =
      chatgenius::ImportLegacy(options, &bars);
  if (!reports.ok()) return Fail(reports.status());
  if (json) {
    std::cout << chatgenius::SummaryJson(*reports, options.dry_run) << "\n";
  } else {
    std::cout << chatgenius::RenderSummary(*reports, options.dry_run);
  }
  return 0;
}
