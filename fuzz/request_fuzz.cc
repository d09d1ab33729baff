// Every client API request through validation, as the services receive them: the bytes
// are parsed as one of the request messages (the first byte picks which), validated,
// and, if accepted, applied to a state machine and answered. An accepted write must
// respect the limits and never touch the reserved key range (sessions, the member
// directory); nothing may crash.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>

#include "fuzz/input_reader.h"
#include "node/kv_api.h"
#include "node/memory_node_store.h"
#include "node/state_machine.h"
#include "proto/badger.pb.h"
#include "proto/kv.pb.h"
#include "proto/raftbadger.pb.h"

namespace rb::fuzz {
namespace {

namespace v1 = raftbadger::v1;
namespace kvpb = raftbadger::kvpb;

// Small limits, so that inputs reach them.
constexpr node::KvLimits kLimits{/*max_key_bytes=*/32, /*max_value_bytes=*/64};

void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "request_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

void CheckAccepted(const kvpb::Command& cmd) {
  auto check_key = [](const std::string& key) {
    if (key.empty() || key.size() > kLimits.max_key_bytes) Fail("accepted a key of bad size", key);
    if (key[0] == node::kReservedKeyPrefix) Fail("accepted a reserved key", key);
  };
  auto check_value = [](const std::string& value) {
    if (value.size() > kLimits.max_value_bytes) Fail("accepted a large value", "");
  };
  switch (cmd.op_case()) {
    case kvpb::Command::kPut:
      check_key(cmd.put().key());
      check_value(cmd.put().value());
      break;
    case kvpb::Command::kDelete:
      check_key(cmd.delete_().key());
      break;
    case kvpb::Command::kCas:
      check_key(cmd.cas().key());
      // The expected value is only compared, never stored: it may exceed the limit (a
      // value written before the limit was lowered).
      check_value(cmd.cas().value());
      break;
    default:
      Fail("accepted a command that is not a write", cmd.DebugString());
  }
}

// Applies an accepted command and returns what it produced.
kvpb::CommandResult Apply(node::MemoryNodeStore* store, const kvpb::Command& cmd, uint64_t index) {
  kvpb::CommandResult result;
  absl::Status s = store->Apply([&](node::KvTxn* txn) -> absl::Status {
    auto outcome = node::ApplyCommand(txn, index, cmd.SerializeAsString());
    if (!outcome.ok()) return outcome.status();
    result = outcome->result;
    return txn->SetApplied(index, raft::ConfState{{1}});
  });
  if (!s.ok()) Fail("applying an accepted command", std::string(s.message()));
  return result;
}

template <typename Request>
bool Parse(const std::string& bytes, Request* req) {
  return req->ParseFromString(bytes);
}

// Parses a write request, validates it and, if accepted, applies it and (where the API
// has a response of its own) answers it.
template <typename Request, typename Response = void>
void TryWrite(const std::string& bytes, node::MemoryNodeStore* store, uint64_t* index) {
  Request req;
  if (!Parse(bytes, &req)) return;
  auto cmd = node::CommandFor(req, kLimits);
  if (!cmd.ok()) return;
  CheckAccepted(*cmd);
  const kvpb::CommandResult result = Apply(store, *cmd, ++*index);
  if constexpr (!std::is_void_v<Response>) {
    Response resp;
    node::ResponseFor(req, result, &resp).IgnoreError();
  }
}

}  // namespace
}  // namespace rb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rb;
  using namespace rb::fuzz;
  InputReader in(data, size);
  node::MemoryNodeStore store(raft::ConfState{{1}});
  uint64_t index = 0;
  // A few requests against one state machine, so that updates and comparisons meet rows.
  for (int i = 0; i < 8 && !in.empty(); ++i) {
    const uint8_t kind = in.U8();
    const std::string bytes = in.Bytes(256);
    switch (kind % 8) {
      case 0:
        TryWrite<v1::PutRequest, v1::PutResponse>(bytes, &store, &index);
        break;
      case 1:
        TryWrite<v1::DeleteRequest, v1::DeleteResponse>(bytes, &store, &index);
        break;
      case 2:
        TryWrite<v1::CompareAndSwapRequest, v1::CompareAndSwapResponse>(bytes, &store, &index);
        break;
      case 3:
        TryWrite<badgerpb::SaveEntriesRequest>(bytes, &store, &index);
        break;
      case 4:
        TryWrite<badgerpb::UpdateEntriesRequest, badgerpb::UpdateEntriesResponse>(bytes, &store,
                                                                                  &index);
        break;
      case 5:
        TryWrite<badgerpb::DeleteEntriesRequest>(bytes, &store, &index);
        break;
      case 6: {
        v1::GetRequest req;
        if (!Parse(bytes, &req) || !node::ValidateGet(req, kLimits).ok()) break;
        if (req.key().empty() || req.key().size() > kLimits.max_key_bytes) {
          Fail("accepted a read of a key of bad size", req.key());
        }
        auto got = store.Get(req.key());
        if (!got.ok()) Fail("reading", std::string(got.status().message()));
        break;
      }
      default: {
        // A command as the log carries it, whatever a client sent: applying it must fail
        // cleanly or succeed.
        kvpb::Command raw;
        if (!Parse(bytes, &raw)) break;
        store
            .Apply([&](node::KvTxn* txn) -> absl::Status {
              node::ApplyCommand(txn, ++index, bytes).IgnoreError();
              return txn->SetApplied(index, raft::ConfState{{1}});
            })
            .IgnoreError();
        break;
      }
    }
  }
  return 0;
}
