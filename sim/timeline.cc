#include "sim/timeline.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "sim/history.h"
#include "sim/simulation.h"
#include "sim/timeline_page.h"

namespace rb::sim {

void Timeline::Event(uint64_t time_us, uint64_t kind, uint64_t node, absl::string_view text,
                     uint64_t end_us) {
  events_.push_back(EventRow{time_us, kind, node, end_us, std::string(text)});
}

void Timeline::Role(uint64_t time_us, uint64_t node, absl::string_view role, uint64_t term) {
  roles_.push_back(RoleRow{time_us, node, std::string(role), term});
}

void Timeline::Message(uint64_t send_us, uint64_t delivery_us, uint64_t from, uint64_t to,
                       absl::string_view type, absl::string_view text) {
  // Few types (a dozen): a linear search keeps their order deterministic.
  size_t index = 0;
  while (index < message_types_.size() && message_types_[index] != type) ++index;
  if (index == message_types_.size()) message_types_.emplace_back(type);
  messages_.push_back(MessageRow{send_us, delivery_us, from, to, index, std::string(text)});
}

namespace {

// The page's data as one JSON object. Strings go through JsonString (byte strings become
// valid JSON); '<' is escaped too, so that no value can close the <script> element.
std::string DataJson(const Timeline::Rows& rows, const SimResult& r, uint64_t seed) {
  std::string j = "{";
  absl::StrAppend(&j, "\"seed\":", seed, ",\"scenario\":", JsonString(r.scenario),
                  ",\"ok\":", r.ok ? "true" : "false", ",\"checker\":", JsonString(r.checker),
                  ",\"failure\":", JsonString(r.failure), ",\"failure_us\":", r.failure_us,
                  ",\"end_us\":", r.virtual_us);
  std::vector<uint64_t> nodes;
  for (const auto& row : *rows.roles) nodes.push_back(row.node);
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  absl::StrAppend(&j, ",\"nodes\":[", absl::StrJoin(nodes, ","), "]");
  j += ",\"roles\":[";
  for (size_t i = 0; i < rows.roles->size(); ++i) {
    const auto& row = (*rows.roles)[i];
    absl::StrAppend(&j, i ? "," : "", "[", row.time_us, ",", row.node, ",", JsonString(row.role),
                    ",", row.term, "]");
  }
  j += "],\"events\":[";
  for (size_t i = 0; i < rows.events->size(); ++i) {
    const auto& row = (*rows.events)[i];
    absl::StrAppend(&j, i ? "," : "", "[", row.time_us, ",", row.kind, ",", row.node, ",",
                    JsonString(row.text), ",", row.end_us, "]");
  }
  j += "],\"types\":[";
  for (size_t i = 0; i < rows.types->size(); ++i) {
    absl::StrAppend(&j, i ? "," : "", JsonString((*rows.types)[i]));
  }
  j += "],\"messages\":[";
  for (size_t i = 0; i < rows.messages->size(); ++i) {
    const auto& row = (*rows.messages)[i];
    absl::StrAppend(&j, i ? "," : "", "[", row.send_us, ",", row.delivery_us, ",", row.from, ",",
                    row.to, ",", row.type, ",", JsonString(row.text), "]");
  }
  j += "],\"ops\":[";
  for (size_t i = 0; i < r.history.size(); ++i) {
    const Operation& op = r.history[i];
    absl::StrAppend(&j, i ? "," : "", "[", op.client, ",", JsonString(OpKindName(op.kind)), ",",
                    JsonString(op.key), ",", JsonString(op.value), ",",
                    op.read ? JsonString(*op.read) : "null", ",", op.completed ? "true" : "false",
                    ",", op.call_us, ",", op.completed ? op.return_us : r.virtual_us, ",",
                    JsonString(op.kind == OpKind::kGet ? ReadModeName(op.read_mode) : ""), "]");
  }
  absl::StrAppend(
      &j, "],\"lin\":{\"key\":", JsonString(r.linearizability_failed_key), ",\"order\":[",
      absl::StrJoin(r.linearizability_longest_order, ","), "],\"blocked\":",
      r.linearizability_unorderable_op ? absl::StrCat(*r.linearizability_unorderable_op) : "null",
      "}}");
  return absl::StrReplaceAll(j, {{"<", "\\u003c"}});
}

}  // namespace

void Timeline::WriteHtml(const SimResult& result, uint64_t seed, std::ostream& out) const {
  const Rows rows{&events_, &roles_, &messages_, &message_types_};
  out << kTimelinePageHead << "<script>const DATA = " << DataJson(rows, result, seed)
      << ";</script>\n"
      << kTimelinePageScript;
}

}  // namespace rb::sim
