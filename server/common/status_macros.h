// status_macros.h
//
// RETURN_IF_ERROR and ASSIGN_OR_RETURN for absl::Status / absl::StatusOr.
// Abseil 20220623 ships no status macros; these are the two the code needs.
//
// Example:
//   RETURN_IF_ERROR(ValidateId("user.id", id));
//   ASSIGN_OR_RETURN(PooledConnection conn, pool.Acquire(deadline));
#ifndef CHATGENIUS_SERVER_COMMON_STATUS_MACROS_H_
#define CHATGENIUS_SERVER_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CG_STATUS_CONCAT_INNER_(a, b) a##b
#define CG_STATUS_CONCAT_(a, b) CG_STATUS_CONCAT_INNER_(a, b)

// RETURN_IF_ERROR evaluates `expr` (an absl::Status) and returns it from the
// enclosing function unless it is OK.
#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::absl::Status cg_status_ = (expr);      \
    if (!cg_status_.ok()) return cg_status_; \
  } while (false)

// ASSIGN_OR_RETURN evaluates `rexpr` (an absl::StatusOr<T>), returns its
// status if not OK, otherwise moves the value into `lhs` (a declaration or
// an lvalue).
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  CG_ASSIGN_OR_RETURN_IMPL_(CG_STATUS_CONCAT_(cg_statusor_, __LINE__), lhs, rexpr)

#define CG_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)    \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // CHATGENIUS_SERVER_COMMON_STATUS_MACROS_H_
