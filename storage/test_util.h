// Helpers for storage tests: fresh temporary directories under Bazel's TEST_TMPDIR.
#ifndef RAFTBADGER_STORAGE_TEST_UTIL_H_
#define RAFTBADGER_STORAGE_TEST_UTIL_H_

#include <cstdlib>
#include <string>
#include <vector>

#include "raft/types.h"

namespace rb::storage {

// A new empty directory (mkdtemp) under TEST_TMPDIR or /tmp.
std::string MakeTempDir();
// Entries index first..first+n-1, all of `term`, payload "e<index>".
std::vector<raft::Entry> MakeEntries(uint64_t first, uint64_t n, uint64_t term);

}  // namespace rb::storage

#endif  // RAFTBADGER_STORAGE_TEST_UTIL_H_
