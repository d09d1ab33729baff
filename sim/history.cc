#include "sim/history.h"

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

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  out.reserve(s.size() + 2);
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b == '"' || b == '\\') {
      out += '\\';
      out += c;
    } else if (b < 0x20 || b > 0x7e) {
      absl::StrAppend(&out, "\\u00", absl::Hex(b, absl::kZeroPad2));
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

namespace {

std::string Json(absl::string_view s) { return JsonString(s); }
std::string JsonOrNull(const std::optional<std::string>& s) { return s ? Json(*s) : "null"; }

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
        input = absl::StrCat("{\"expected\":", JsonOrNull(op.expected),
                             ",\"value\":", Json(op.value), "}");
        break;
      case OpKind::kGet:
        input = absl::StrCat("\"", ReadModeName(op.read_mode), "\"");
        break;
      default:
        input = "null";
    }
    std::string output;
    if (!op.completed) {
      output = "null";  // "completed": false says why
    } else if (op.kind == OpKind::kGet) {
      output = JsonOrNull(op.read);
    } else if (op.kind == OpKind::kPut) {
      output = "\"ok\"";
    } else {
      output = op.flag ? "true" : "false";
    }
    out << "{\"client\":" << op.client << ",\"op\":\"" << OpKindName(op.kind)
        << "\",\"key\":" << Json(op.key) << ",\"input\":" << input
        << ",\"completed\":" << (op.completed ? "true" : "false") << ",\"output\":" << output
        << ",\"call_us\":" << op.call_us
        << ",\"return_us\":" << (op.completed ? absl::StrCat(op.return_us) : "null") << "}\n";
  }
}

}  // namespace rb::sim
