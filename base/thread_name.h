// Names the calling thread, as top -H, perf and gdb show it. An operator looking at a
// busy server (or a profile of one) sees which of its threads does what: "rb-loop",
// "rb-writer", "rb-link-2", not the binary's name on every thread.
#ifndef RAFTBADGER_BASE_THREAD_NAME_H_
#define RAFTBADGER_BASE_THREAD_NAME_H_

#include "absl/strings/string_view.h"

namespace rb {

// Linux keeps 15 bytes of a thread's name; longer names are cut there. Best effort: a
// failure leaves the old name, which only costs readability.
void SetThreadName(absl::string_view name);

}  // namespace rb

#endif  // RAFTBADGER_BASE_THREAD_NAME_H_
