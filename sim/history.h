// The client history of a simulation run: one record per operation, as the clients saw it.
#ifndef RAFTBADGER_SIM_HISTORY_H_
#define RAFTBADGER_SIM_HISTORY_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace rb::sim {

// kUpdate: a put only if the key exists (the old API's UpdateEntries); flag says it did.
enum class OpKind { kPut, kGet, kDelete, kCas, kUpdate };
const char* OpKindName(OpKind kind);

// How a get is served (node::ReadConsistency). Linearizable and lease reads are checked
// for linearizability; stale reads against the state of the node that served them.
enum class ReadMode { kLinearizable, kLease, kStale };
const char* ReadModeName(ReadMode mode);

inline constexpr uint64_t kNeverReturned = std::numeric_limits<uint64_t>::max();

struct Operation {
  uint64_t client = 0;
  OpKind kind = OpKind::kGet;
  std::string key;
  // Inputs: the value written (put, cas) and what cas expects (nullopt: absent).
  std::string value;
  std::optional<std::string> expected;
  ReadMode read_mode = ReadMode::kLinearizable;  // get only
  // Sent through the old API (badgerpb.BadgerService): no session, one attempt only.
  bool old_api = false;
  // Outputs, valid when `completed`: what get read, whether cas swapped / delete found it.
  std::optional<std::string> read;
  bool flag = false;
  bool completed = false;  // false: timed out, the effect may or may not have happened
  uint64_t call_us = 0;
  uint64_t return_us = kNeverReturned;
};

// A JSON string for a byte string. Keys and values are bytes, not text: each byte above
// 0x7f is written as the code point of the same number (\u0080 to \u00ff), so that every
// key and value gives valid JSON and reads back byte for byte. Control characters, the
// quote and the backslash are escaped as JSON requires.
std::string JsonString(absl::string_view s);

// One JSON object per line: client, op, key, input, completed (false: timed out, the
// effect unknown; output and return_us are then null), output, call and return time in
// virtual microseconds. Keys and values are byte strings: a byte above 0x7f appears as the
// code point of the same number (\u0080 to \u00ff).
void WriteHistoryJson(const std::vector<Operation>& history, std::ostream& out);

}  // namespace rb::sim

#endif  // RAFTBADGER_SIM_HISTORY_H_
