#include "server/db/statement.h"

#include <map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"

namespace chatgenius {
namespace {

// How many Statements were constructed with each name.
struct Catalog {
  absl::Mutex mu;
  std::map<std::string, int> definitions ABSL_GUARDED_BY(mu);
};

Catalog& TheCatalog() {
  static auto* catalog = new Catalog();  // never destroyed: used during static init
  return *catalog;
}

}  // namespace

Statement::Statement(std::string name, std::string sql)
    : name_(std::move(name)), sql_(std::move(sql)) {
  Catalog& c = TheCatalog();
  absl::MutexLock lock(&c.mu);
  ++c.definitions[name_];
}

absl::Status CheckStatementCatalog() {
  Catalog& c = TheCatalog();
  absl::MutexLock lock(&c.mu);
  std::vector<std::string> conflicts;
  for (const auto& [name, count] : c.definitions) {
    if (name.empty()) {
      conflicts.push_back(absl::StrCat("(unnamed) x", count));
    } else if (count > 1) {
      conflicts.push_back(absl::StrCat("'", name, "' x", count));
    }
  }
  if (conflicts.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("prepared statements defined more than once (each name needs one owner): ",
                   absl::StrJoin(conflicts, ", ")));
}

}  // namespace chatgenius
