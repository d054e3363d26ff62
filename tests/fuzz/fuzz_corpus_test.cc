// Replays every file of tests/fuzz/corpus/ (seeds and anything the fuzzer
// found worth keeping) through the fuzz target, so its contracts are
// checked by `bazel test` too; the target aborts on a violated contract.
#include <dirent.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> CorpusFiles() {
  const std::string dir =
      std::string(std::getenv("TEST_SRCDIR")) + "/chatgenius_db/tests/fuzz/corpus";
  std::vector<std::string> files;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') files.push_back(dir + "/" + e->d_name);
    }
    closedir(d);
  }
  return files;
}

TEST(FuzzCorpusTest, EverySeedKeepsTheContracts) {
  const std::vector<std::string> files = CorpusFiles();
  ASSERT_GE(files.size(), 10u) << "the corpus is missing";
  for (const std::string& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    const std::string data = bytes.str();
    SCOPED_TRACE(path);
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size()),
              0);
  }
}

TEST(FuzzCorpusTest, EveryValidatorSeesHostileBytes) {
  const std::string hostile[] = {std::string("\0\0\0", 3), "\xff\xfe\xc0\x80", "a@b.",
                                 std::string(5000, 'x'),   "\xed\xa0\x80",     "Bearer \n"};
  for (int selector = 0; selector < 11; ++selector) {
    for (const std::string& h : hostile) {
      std::string data(1, static_cast<char>(selector));
      data += h;
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    }
  }
  SUCCEED() << "no contract violated (a violation aborts the test)";
}

}  // namespace
