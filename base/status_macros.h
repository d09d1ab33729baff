// RETURN_IF_ERROR and ASSIGN_OR_RETURN for absl::Status / absl::StatusOr.
// Debian's Abseil 20220623 ships neither; this is the project's single definition.
//
//   RETURN_IF_ERROR(log.Append(entries));
//   ASSIGN_OR_RETURN(uint64_t term, storage.Term(index));
#ifndef RAFTBADGER_BASE_STATUS_MACROS_H_
#define RAFTBADGER_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RB_STATUS_CONCAT_INNER_(a, b) a##b
#define RB_STATUS_CONCAT_(a, b) RB_STATUS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                                     \
  do {                                                            \
    ::absl::Status rb_status_ = (expr);                           \
    if (__builtin_expect(!rb_status_.ok(), 0)) return rb_status_; \
  } while (0)

#define RB_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)                          \
  auto statusor = (expr);                                                       \
  if (__builtin_expect(!statusor.ok(), 0)) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  RB_ASSIGN_OR_RETURN_IMPL_(RB_STATUS_CONCAT_(rb_statusor_, __LINE__), lhs, expr)

#endif  // RAFTBADGER_BASE_STATUS_MACROS_H_
