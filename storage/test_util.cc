#include "storage/test_util.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"

namespace rb::storage {

std::string MakeTempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/store-XXXXXX");
  RB_CHECK(mkdtemp(pattern.data()) != nullptr, "mkdtemp ", pattern);
  return pattern;
}

std::unique_ptr<Store> OpenStore(const std::string& dir) {
  StoreOptions options;
  options.dir = dir;
  auto store = Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

std::vector<raft::Entry> MakeEntries(uint64_t first, uint64_t n, uint64_t term) {
  std::vector<raft::Entry> out;
  for (uint64_t i = first; i < first + n; ++i) {
    out.push_back(raft::Entry{term, i, raft::EntryType::kNormal, absl::StrCat("e", i)});
  }
  return out;
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

absl::Status FillSampleStore(const StoreOptions& options, bool checkpoint,
                             const std::function<void(const Store&)>& after_write) {
  ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(options));
  for (uint64_t batch = 0; batch < 30; ++batch) {
    RETURN_IF_ERROR(store->Write([&](WriteTxn* t) -> absl::Status {
      RETURN_IF_ERROR(t->AppendEntries(MakeEntries(1 + 10 * batch, 10, 1 + batch / 10)));
      for (uint64_t k = 0; k < 10; ++k) {
        const uint64_t key = (batch * 10 + k) % 200;
        RETURN_IF_ERROR(t->Put(absl::StrCat("key-", key),
                               absl::StrCat("value-", batch, "-", std::string(40, 'v')),
                               1 + 10 * batch + k));
      }
      RETURN_IF_ERROR(t->SetApplied(10 * (batch + 1), raft::ConfState{{1, 2, 3}}));
      return t->SetHardState(raft::HardState{1 + batch / 10, 2, 10 * (batch + 1)});
    }));
    if (batch == 19 && !checkpoint) RETURN_IF_ERROR(store->Checkpoint());
    if (after_write) after_write(*store);
  }
  RETURN_IF_ERROR(store->Write([](WriteTxn* t) { return t->Compact(50); }));
  if (after_write) after_write(*store);
  if (checkpoint) RETURN_IF_ERROR(store->Checkpoint());  // everything into the database file
  return absl::OkStatus();
}

absl::StatusOr<std::string> DumpStore(const Store& store) {
  std::string out;
  ASSIGN_OR_RETURN(raft::InitialState init, store.GetInitialState());
  absl::StrAppend(&out, "hs ", init.hard_state.term, " ", init.hard_state.vote, " ",
                  init.hard_state.commit, " voters ", init.conf_state.voters.size(), "\n");
  ASSIGN_OR_RETURN(uint64_t first, store.FirstIndex());
  ASSIGN_OR_RETURN(uint64_t last, store.LastIndex());
  absl::StrAppend(&out, "log ", first, "..", last, " applied ", store.applied_index(), "\n");
  std::vector<raft::Entry> entries;
  RETURN_IF_ERROR(store.Entries(first, last + 1, UINT64_MAX, &entries));
  for (const raft::Entry& e : entries) {
    absl::StrAppend(&out, e.index, "/", e.term, "/", static_cast<int>(e.type), "/", e.data.view(),
                    "\n");
  }
  ASSIGN_OR_RETURN(std::vector<KeyValue> rows, store.Scan("", 100000));
  for (const KeyValue& kv : rows)
    absl::StrAppend(&out, kv.key, "=", kv.value, "@", kv.mod_index, "\n");
  for (int k = 0; k < 200; k += 7) {
    ASSIGN_OR_RETURN(auto v, store.Get(absl::StrCat("key-", k)));
    absl::StrAppend(&out, "get ", k, " ", v.value_or("<none>"), "\n");
  }
  return out;
}

}  // namespace rb::storage
