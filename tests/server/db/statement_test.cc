// The statement catalog: a name defined twice is reported, so the server
// refuses to start instead of one owner silently running the other's SQL.
#include "server/db/statement.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace chatgenius {
namespace {

TEST(StatementCatalogTest, ANameDefinedTwiceIsAStartUpErrorNamingIt) {
  // Constructed here, not at namespace scope, so the conflict appears
  // midway. One test: the catalog is process-wide.
  static const Statement a("catalog_test_a", "SELECT 1");
  static const Statement b("catalog_test_b", "SELECT 2");
  EXPECT_TRUE(CheckStatementCatalog().ok()) << CheckStatementCatalog();
  EXPECT_EQ(a.name(), "catalog_test_a");
  EXPECT_EQ(b.sql(), "SELECT 2");

  static const Statement again("catalog_test_a", "SELECT 3");
  const absl::Status s = CheckStatementCatalog();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "'catalog_test_a' x2")) << s;
  EXPECT_FALSE(absl::StrContains(s.message(), "catalog_test_b")) << s;
}

}  // namespace
}  // namespace chatgenius
