#include "sim/linearizability.h"

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_set>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"

namespace rb::sim {
namespace {

using State = std::optional<std::string>;

// Applies op to state; false if op's recorded output contradicts it.
bool Step(const Operation& op, State* state) {
  switch (op.kind) {
    case OpKind::kPut:
      *state = op.value;
      return true;
    case OpKind::kGet:
      return !op.completed || op.read == *state;
    case OpKind::kUpdate: {
      const bool existed = state->has_value();
      if (existed) *state = op.value;
      return !op.completed || op.flag == existed;
    }
    case OpKind::kDelete: {
      const bool existed = state->has_value();
      *state = std::nullopt;
      return !op.completed || op.flag == existed;
    }
    case OpKind::kCas: {
      const bool matches =
          op.expected ? (state->has_value() && **state == *op.expected) : !state->has_value();
      if (matches) *state = op.value;
      return !op.completed || op.flag == matches;
    }
  }
  return false;
}

struct Event {
  uint64_t time;
  bool is_call;
  size_t op;
  Event* prev = nullptr;
  Event* next = nullptr;
  Event* match = nullptr;  // a call's return event
};

struct CacheKey {
  std::vector<uint64_t> linearized;
  State state;
  bool operator==(const CacheKey& o) const {
    return linearized == o.linearized && state == o.state;
  }
  template <typename H>
  friend H AbslHashValue(H h, const CacheKey& k) {
    return H::combine(std::move(h), k.linearized, k.state);
  }
};

void Lift(Event* call) {
  call->prev->next = call->next;
  call->next->prev = call->prev;
  Event* ret = call->match;
  ret->prev->next = ret->next;
  if (ret->next != nullptr) ret->next->prev = ret->prev;
}

void Unlift(Event* call) {
  Event* ret = call->match;
  ret->prev->next = ret;
  if (ret->next != nullptr) ret->next->prev = ret;
  call->prev->next = call;
  call->next->prev = call;
}

// The deepest the search got: the longest order of operations it found legal, and the
// operation whose return it then reached without being able to place it.
struct Deepest {
  std::vector<size_t> order;  // indexes into the key's operations
  std::optional<size_t> blocked;
};

// Checks one key's operations. Returns nullopt if the step bound was hit.
std::optional<bool> CheckKey(const std::vector<const Operation*>& ops, uint64_t max_steps,
                             uint64_t* steps, Deepest* deepest) {
  const size_t n = ops.size();
  std::vector<Event> events;
  events.reserve(2 * n + 1);
  for (size_t i = 0; i < n; ++i) {
    events.push_back(Event{ops[i]->call_us, true, i});
    events.push_back(Event{ops[i]->completed ? ops[i]->return_us : kNeverReturned, false, i});
  }
  // Calls before returns at equal times: equal-time operations count as concurrent.
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    if (a.time != b.time) return a.time < b.time;
    if (a.is_call != b.is_call) return a.is_call;
    return a.op < b.op;
  });
  std::vector<Event*> call_of(n), return_of(n);
  for (Event& e : events) (e.is_call ? call_of : return_of)[e.op] = &e;
  for (size_t i = 0; i < n; ++i) call_of[i]->match = return_of[i];
  Event head{0, true, 0};
  Event* prev = &head;
  for (Event& e : events) {
    prev->next = &e;
    e.prev = prev;
    prev = &e;
  }

  std::vector<uint64_t> linearized((n + 63) / 64, 0);
  State state;
  std::unordered_set<CacheKey, absl::Hash<CacheKey>> cache;
  std::vector<std::pair<Event*, State>> stack;
  Event* entry = head.next;
  while (head.next != nullptr) {
    if (++*steps > max_steps) return std::nullopt;
    if (entry->is_call) {
      State next_state = state;
      const size_t op = entry->op;
      if (Step(*ops[op], &next_state)) {
        linearized[op / 64] |= uint64_t{1} << (op % 64);
        if (cache.insert(CacheKey{linearized, next_state}).second) {
          stack.emplace_back(entry, state);
          state = std::move(next_state);
          Lift(entry);
          entry = head.next;
          continue;
        }
        linearized[op / 64] &= ~(uint64_t{1} << (op % 64));
      }
      entry = entry->next;
    } else {
      // Reached an operation's return without linearizing it: backtrack.
      if (!deepest->blocked || stack.size() > deepest->order.size()) {
        deepest->order.clear();
        for (const auto& [call, unused] : stack) deepest->order.push_back(call->op);
        deepest->blocked = entry->op;
      }
      if (stack.empty()) return false;
      auto [call, previous_state] = std::move(stack.back());
      stack.pop_back();
      state = std::move(previous_state);
      linearized[call->op / 64] &= ~(uint64_t{1} << (call->op % 64));
      Unlift(call);
      entry = call->next;
    }
  }
  return true;
}

}  // namespace

LinearizabilityResult CheckLinearizable(const std::vector<Operation>& history,
                                        uint64_t max_steps_per_key) {
  std::map<std::string, std::vector<const Operation*>> by_key;  // ordered: deterministic
  for (const Operation& op : history) {
    if (!op.completed && op.kind == OpKind::kGet) continue;  // no effect, no output
    // A stale read is not linearizable by design; the simulator checks it otherwise.
    if (op.kind == OpKind::kGet && op.read_mode == ReadMode::kStale) continue;
    by_key[op.key].push_back(&op);
  }
  LinearizabilityResult result;
  for (const auto& [key, ops] : by_key) {
    uint64_t steps = 0;
    Deepest deepest;
    std::optional<bool> ok = CheckKey(ops, max_steps_per_key, &steps, &deepest);
    result.steps += steps;
    if (!ok.has_value()) {
      if (!result.inconclusive) result.inconclusive_key = key;
      result.inconclusive = true;
      continue;
    }
    if (!*ok) {
      result.linearizable = false;
      result.failed_key = key;
      result.explanation = absl::StrCat("no linearization of the ", ops.size(),
                                        " operations on key \"", key, "\" exists");
      auto index = [&](size_t i) { return static_cast<size_t>(ops[i] - history.data()); };
      for (size_t i : deepest.order) result.longest_order.push_back(index(i));
      if (deepest.blocked) {
        result.unorderable_op = index(*deepest.blocked);
        const Operation& op = *ops[*deepest.blocked];
        absl::StrAppend(&result.explanation, "; the longest legal order places ",
                        deepest.order.size(), " of them, after which client ", op.client, "'s ",
                        OpKindName(op.kind), " called at ", op.call_us,
                        "us cannot be placed before it returned at ", op.return_us, "us");
      }
      return result;
    }
  }
  return result;
}

}  // namespace rb::sim
