// progress_bar.h
//
// ProgressBar: one line per table on a terminal, redrawn in place at most
// ten times a second —
//   messages      [##########..........]  512,000 / 1,000,000  21,300 rows/s  ETA 0:23
// and left as a final line when the table is done. Disabled (prints
// nothing) when the stream is not a terminal, so logs and pipes get only
// the summary.
#ifndef CHATGENIUS_SERVER_IMPORTER_PROGRESS_BAR_H_
#define CHATGENIUS_SERVER_IMPORTER_PROGRESS_BAR_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/time/time.h"

namespace chatgenius {

class ProgressBar {
 public:
  // Draws on `out` only if `enabled` (e.g. isatty(fileno(out))).
  ProgressBar(FILE* out, bool enabled) : out_(out), enabled_(enabled) {}

  void Start(const std::string& table, int64_t total);
  void Update(int64_t done);
  void Finish(int64_t done);

  // Line renders the bar for `done` of `total` after `elapsed` (exposed for
  // tests).
  static std::string Line(const std::string& table, int64_t done, int64_t total,
                          absl::Duration elapsed);

 private:
  void Draw(int64_t done, bool final);

  FILE* out_;
  bool enabled_;
  std::string table_;
  int64_t total_ = 0;
  absl::Time started_;
  absl::Time last_draw_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_IMPORTER_PROGRESS_BAR_H_
