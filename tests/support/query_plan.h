// query_plan.h
//
// Reading EXPLAIN (ANALYZE, BUFFERS) output in plan tests.
#ifndef CHATGENIUS_TESTS_SUPPORT_QUERY_PLAN_H_
#define CHATGENIUS_TESTS_SUPPORT_QUERY_PLAN_H_

#include <string>

namespace chatgenius::testing {

// TopNodeBuffers is the shared hit + read of the plan's first "Buffers:"
// line — the top node's, i.e. the whole statement's — or -1 if it has none.
int TopNodeBuffers(const std::string& plan);

}  // namespace chatgenius::testing

#endif  // CHATGENIUS_TESTS_SUPPORT_QUERY_PLAN_H_
