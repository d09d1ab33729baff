// A run's timeline as one self-contained HTML page (`simulate --html=FILE`): one lane per
// node over virtual time with its role and term, crashes, restarts and pauses; partitions
// and other faults; every message as a line from its send to its delivery (filterable by
// type); each client's operations as bars from call to return; and the first violation,
// marked, with the checker's explanation (for a linearizability failure, the operations
// of the longest legal order and the one that cannot follow them). It opens offline: the
// data and the script are inline.
//
// The simulator feeds a Timeline while it runs (SimOptions::timeline); recording costs
// nothing when none is attached.
#ifndef RAFTBADGER_SIM_TIMELINE_H_
#define RAFTBADGER_SIM_TIMELINE_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace rb::sim {

struct SimResult;

class Timeline {
 public:
  // A fault or lifecycle event of the run (the simulator's trace kinds), with its text;
  // one that lasts (a pause) ends at end_us, else 0.
  void Event(uint64_t time_us, uint64_t kind, uint64_t node, absl::string_view text,
             uint64_t end_us = 0);
  // A node's role or term changed; role "down" when the process is not running.
  void Role(uint64_t time_us, uint64_t node, absl::string_view role, uint64_t term);
  // A message from send to delivery (delivery_us == send_us: dropped).
  void Message(uint64_t send_us, uint64_t delivery_us, uint64_t from, uint64_t to,
               absl::string_view type, absl::string_view text);

  // REQUIRES: the run is over; `result` is its result.
  void WriteHtml(const SimResult& result, uint64_t seed, std::ostream& out) const;

  size_t events() const { return events_.size() + roles_.size() + messages_.size(); }

  struct EventRow {
    uint64_t time_us, kind, node, end_us;
    std::string text;
  };
  struct RoleRow {
    uint64_t time_us, node;
    std::string role;
    uint64_t term;
  };
  struct MessageRow {
    uint64_t send_us, delivery_us, from, to;
    size_t type;  // index into message_types_
    std::string text;
  };
  struct Rows {
    const std::vector<EventRow>* events;
    const std::vector<RoleRow>* roles;
    const std::vector<MessageRow>* messages;
    const std::vector<std::string>* types;
  };

 private:
  std::vector<EventRow> events_;
  std::vector<RoleRow> roles_;
  std::vector<MessageRow> messages_;
  std::vector<std::string> message_types_;  // in order of first appearance
};

}  // namespace rb::sim

#endif  // RAFTBADGER_SIM_TIMELINE_H_
