#include "sim/history.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace rb::sim {

const char* OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kPut:
      return "put";
    case OpKind::kGet:
      return "get";
    case OpKind::kDelete:
      return "delete";
    case OpKind::kCas:
      return "cas";
    case OpKind::kUpdate:
      return "update";
  }
  return "unknown";
}

namespace {

std::string Json(const std::string& s) { return absl::StrCat("\"", absl::CEscape(s), "\""); }
std::string Json(const std::optional<std::string>& s) { return s ? Json(*s) : "null"; }

}  // namespace

const char* ReadModeName(ReadMode mode) {
  switch (mode) {
    case ReadMode::kLinearizable:
      return "linearizable";
    case ReadMode::kLease:
      return "lease";
    case ReadMode::kStale:
      return "stale";
  }
  return "?";
}

void WriteHistoryJson(const std::vector<Operation>& history, std::ostream& out) {
  for (const Operation& op : history) {
    std::string input;
    switch (op.kind) {
      case OpKind::kPut:
      case OpKind::kUpdate:
        input = Json(op.value);
        break;
      case OpKind::kCas:
        input =
            absl::StrCat("{\"expected\":", Json(op.expected), ",\"value\":", Json(op.value), "}");
        break;
      case OpKind::kGet:
        input = absl::StrCat("\"", ReadModeName(op.read_mode), "\"");
        break;
      default:
        input = "null";
    }
    std::string output;
    if (!op.completed) {
      output = "\"timeout\"";
    } else if (op.kind == OpKind::kGet) {
      output = Json(op.read);
    } else if (op.kind == OpKind::kPut) {
      output = "\"ok\"";
    } else {
      output = op.flag ? "true" : "false";
    }
    out << "{\"client\":" << op.client << ",\"op\":\"" << OpKindName(op.kind)
        << "\",\"key\":" << Json(op.key) << ",\"input\":" << input << ",\"output\":" << output
        << ",\"call_us\":" << op.call_us
        << ",\"return_us\":" << (op.completed ? absl::StrCat(op.return_us) : "null") << "}\n";
  }
}

}  // namespace rb::sim
