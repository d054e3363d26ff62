#include "tests/support/query_plan.h"

#include <cstdlib>
#include <cstring>

namespace chatgenius::testing {

int TopNodeBuffers(const std::string& plan) {
  const size_t at = plan.find("Buffers:");
  if (at == std::string::npos) return -1;
  const std::string top = plan.substr(at, plan.find('\n', at) - at);
  int total = 0;
  for (const char* kind : {"hit=", "read="}) {
    const size_t k = top.find(kind);
    if (k != std::string::npos) total += std::atoi(top.c_str() + k + std::strlen(kind));
  }
  return total;
}

}  // namespace chatgenius::testing
