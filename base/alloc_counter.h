// Counts heap allocations in the process, for benchmarks that report allocations per
// operation and tests that pin allocation-free paths. Link //base:alloc_counter into a binary to
// replace global operator new.
#ifndef RAFTBADGER_BASE_ALLOC_COUNTER_H_
#define RAFTBADGER_BASE_ALLOC_COUNTER_H_

#include <cstdint>

namespace rb {

// Number of calls to operator new (all forms) since process start.
uint64_t AllocationCount();

}  // namespace rb

#endif  // RAFTBADGER_BASE_ALLOC_COUNTER_H_
