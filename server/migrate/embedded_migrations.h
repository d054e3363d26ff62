// embedded_migrations.h
//
// The SQL files of migrations/, compiled into the binary by a genrule
// (embed_migrations.sh), so a deployed server needs no files beside it.
#ifndef CHATGENIUS_SERVER_MIGRATE_EMBEDDED_MIGRATIONS_H_
#define CHATGENIUS_SERVER_MIGRATE_EMBEDDED_MIGRATIONS_H_

#include <string>
#include <vector>

namespace chatgenius {

// EmbeddedFile is one file's base name and contents.
struct EmbeddedFile {
  std::string name;
  std::string contents;
};

// EmbeddedMigrationFiles returns migrations/V*.sql in the order Bazel listed
// them (ParseMigrations sorts by version).
const std::vector<EmbeddedFile>& EmbeddedMigrationFiles();

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_MIGRATE_EMBEDDED_MIGRATIONS_H_
