// import_report.h
//
// TableReport: what the legacy import did with one source table — rows
// read, imported, already there from an earlier run, merged as duplicates,
// re-parented (replies to replies), imported with a value changed to fit
// (repaired), and rejected — each change and rejection counted by its
// reason, with the first few source ids for each. RenderSummary draws the
// table the CLI ends with; SummaryJson is the same for --json.
#ifndef CHATGENIUS_SERVER_IMPORTER_IMPORT_REPORT_H_
#define CHATGENIUS_SERVER_IMPORTER_IMPORT_REPORT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace chatgenius {

struct ReasonCount {
  int64_t count = 0;
  std::vector<std::string> examples;  // source ids, at most kReasonExamples
};

inline constexpr int kReasonExamples = 5;

struct TableReport {
  std::string table;  // the source table ("users", "files", ...)
  int64_t read = 0;
  int64_t imported = 0;
  int64_t already_present = 0;
  int64_t deduplicated = 0;
  int64_t reparented = 0;
  int64_t repaired = 0;
  int64_t rejected = 0;
  std::map<std::string, ReasonCount> repairs;     // by reason
  std::map<std::string, ReasonCount> rejections;  // by reason
  // Tables with a resume point: rows earlier runs had already read.
  int64_t read_by_earlier_runs = 0;

  // Repaired counts one imported row whose values `reasons` changed.
  void Repaired(const std::vector<std::string>& reasons, const std::string& source_id);
  // Reject counts `rows` source rows not imported for `reason`.
  void Reject(const std::string& reason, const std::string& source_id, int64_t rows = 1);
};
// Every source row read is counted exactly once in imported,
// already_present, deduplicated or rejected; repaired and reparented rows
// are imported ones.

// RenderSummary: one row per table (read / imported / present / dedup /
// re-parented / repaired / rejected), then every reason with its count and
// example ids.
std::string RenderSummary(const std::vector<TableReport>& tables, bool dry_run);

std::string SummaryJson(const std::vector<TableReport>& tables, bool dry_run);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_IMPORTER_IMPORT_REPORT_H_
