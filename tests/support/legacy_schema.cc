#include "tests/support/legacy_schema.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace chatgenius::testing {

std::string LegacySchemaDdl() {
  std::ifstream in(std::string(std::getenv("TEST_SRCDIR")) +
                   "/chatgenius_db/tests/support/legacy_schema.sql");
  EXPECT_TRUE(in.good()) << "tests/support/legacy_schema.sql must be a data dependency";
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace chatgenius::testing
