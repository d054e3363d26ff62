#include "server/importer/import_report.h"

#include <jansson.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace chatgenius {

namespace {

void Count(std::map<std::string, ReasonCount>* reasons, const std::string& reason,
           const std::string& source_id, int64_t rows = 1) {
  ReasonCount& r = (*reasons)[reason];
  r.count += rows;
  if (r.examples.size() < static_cast<size_t>(kReasonExamples)) r.examples.push_back(source_id);
}

// Reasons as a JSON array (jansson; the caller owns the reference).
json_t* ReasonsJson(const std::map<std::string, ReasonCount>& reasons) {
  json_t* array = json_array();
  for (const auto& [reason, r] : reasons) {
    json_t* ids = json_array();
    for (const std::string& id : r.examples) json_array_append_new(ids, json_string(id.c_str()));
    json_array_append_new(array, json_pack("{s:s, s:I, s:o}", "reason", reason.c_str(), "count",
                                           static_cast<json_int_t>(r.count), "examples", ids));
  }
  return array;
}

void AppendReasons(std::string* out, const TableReport& t, const char* what,
                   const std::map<std::string, ReasonCount>& reasons) {
  for (const auto& [reason, r] : reasons) {
    absl::StrAppendFormat(out, "  %s %s: %d x %s (e.g. %s)\n", t.table, what, r.count, reason,
                          absl::StrJoin(r.examples, ", "));
  }
}

}  // namespace

void TableReport::Repaired(const std::vector<std::string>& reasons, const std::string& source_id) {
  if (reasons.empty()) return;
  ++repaired;
  for (const std::string& reason : reasons) Count(&repairs, reason, source_id);
}

void TableReport::Reject(const std::string& reason, const std::string& source_id, int64_t rows) {
  rejected += rows;
  Count(&rejections, reason, source_id, rows);
}

std::string RenderSummary(const std::vector<TableReport>& tables, bool dry_run) {
  std::string out = dry_run ? "dry run: nothing was written (this is what a run would do)\n" : "";
  absl::StrAppendFormat(&out, "%-16s %10s %10s %10s %8s %12s %9s %9s\n", "TABLE", "READ",
                        "IMPORTED", "PRESENT", "DEDUP", "RE-PARENTED", "REPAIRED", "REJECTED");
  for (const TableReport& t : tables) {
    absl::StrAppendFormat(&out, "%-16s %10d %10d %10d %8d %12d %9d %9d\n", t.table, t.read,
                          t.imported, t.already_present, t.deduplicated, t.reparented, t.repaired,
                          t.rejected);
  }
  std::string reasons;
  for (const TableReport& t : tables) {
    if (t.read_by_earlier_runs > 0) {
      absl::StrAppendFormat(&reasons, "  %s: resumed; earlier runs had read %d rows\n", t.table,
                            t.read_by_earlier_runs);
    }
    AppendReasons(&reasons, t, "repaired", t.repairs);
    AppendReasons(&reasons, t, "rejected", t.rejections);
  }
  if (!reasons.empty()) absl::StrAppend(&out, "\nnotes, repaired and rejected rows:\n", reasons);
  return out;
}

std::string SummaryJson(const std::vector<TableReport>& tables, bool dry_run) {
  json_t* list = json_array();
  for (const TableReport& t : tables) {
    json_array_append_new(
        list, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "table",
                        t.table.c_str(), "read", static_cast<json_int_t>(t.read), "imported",
                        static_cast<json_int_t>(t.imported), "alreadyPresent",
                        static_cast<json_int_t>(t.already_present), "deduplicated",
                        static_cast<json_int_t>(t.deduplicated), "reparented",
                        static_cast<json_int_t>(t.reparented), "repaired",
                        static_cast<json_int_t>(t.repaired), "rejected",
                        static_cast<json_int_t>(t.rejected), "repairs", ReasonsJson(t.repairs),
                        "rejections", ReasonsJson(t.rejections)));
  }
  json_t* root = json_pack("{s:b, s:o}", "dryRun", dry_run, "tables", list);
  char* text = json_dumps(root, JSON_COMPACT);
  std::string out = text == nullptr ? "{}" : text;
  free(text);
  json_decref(root);
  return out;
}

}  // namespace chatgenius
