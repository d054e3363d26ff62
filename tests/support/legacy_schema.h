// legacy_schema.h
//
// LegacySchemaDdl: tests/support/legacy_schema.sql, the tables of the old
// TypeScript `db` module, for tests of the legacy import to build a source
// database (bench/run.sh loads the same file).
#ifndef CHATGENIUS_TESTS_SUPPORT_LEGACY_SCHEMA_H_
#define CHATGENIUS_TESTS_SUPPORT_LEGACY_SCHEMA_H_

#include <string>

namespace chatgenius::testing {

// The file's text (a data dependency of the legacy_schema library).
std::string LegacySchemaDdl();

}  // namespace chatgenius::testing

#endif  // CHATGENIUS_TESTS_SUPPORT_LEGACY_SCHEMA_H_
