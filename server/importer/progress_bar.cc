#include "server/importer/progress_bar.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace chatgenius {

namespace {

constexpr int kWidth = 20;

std::string Thousands(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

std::string Clock(int64_t seconds) {
  return seconds >= 3600
             ? absl::StrFormat("%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
             : absl::StrFormat("%d:%02d", seconds / 60, seconds % 60);
}

}  // namespace

std::string ProgressBar::Line(const std::string& table, int64_t done, int64_t total,
                              absl::Duration elapsed) {
  const int64_t shown_total = std::max(total, done);
  const int filled = shown_total == 0 ? kWidth : static_cast<int>(kWidth * done / shown_total);
  const double seconds = absl::ToDoubleSeconds(elapsed);
  const double rate = seconds > 0 ? done / seconds : 0;
  std::string eta = "--:--";
  if (done >= shown_total) {
    eta = Clock(static_cast<int64_t>(seconds));
  } else if (rate > 0) {
    eta = Clock(static_cast<int64_t>((shown_total - done) / rate));
  }
  return absl::StrFormat(
      "%-14s [%s%s] %11s / %-11s %9s rows/s  %s %s", table, std::string(filled, '#'),
      std::string(kWidth - filled, '.'), Thousands(done), Thousands(shown_total),
      Thousands(static_cast<int64_t>(rate)), done >= shown_total ? "took" : "ETA", eta);
}

void ProgressBar::Start(const std::string& table, int64_t total) {
  table_ = table;
  total_ = total;
  started_ = absl::Now();
  last_draw_ = absl::InfinitePast();
  Draw(0, false);
}

void ProgressBar::Update(int64_t done) {
  if (absl::Now() - last_draw_ >= absl::Milliseconds(100)) Draw(done, false);
}

void ProgressBar::Finish(int64_t done) { Draw(done, true); }

void ProgressBar::Draw(int64_t done, bool final) {
  if (!enabled_) return;
  last_draw_ = absl::Now();
  // \r and "erase to end of line" redraw in place; the final line stays.
  std::fprintf(out_, "\r%s\x1b[K%s", Line(table_, done, total_, last_draw_ - started_).c_str(),
               final ? "\n" : "");
  std::fflush(out_);
}

}  // namespace chatgenius
