// Damage test: one flipped bit anywhere in a store's database file must make Open() fail
// when it verifies the file, and otherwise fail the read that meets it, as DataLoss (or
// leave every read as before). Never may the store serve different data (which a node
// would then apply, vote on or send to peers).
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "raft/rng.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace rb::storage {
namespace {

constexpr int kTrials = 1500;

// Everything a node reads from its store, as one string, or the first read error.
absl::StatusOr<std::string> Dump(const Store& store) {
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

TEST(StoreCorruptionTest, AFlippedBitFailsOpenOrChangesNothing) {
  const std::string dir = MakeTempDir();
  StoreOptions options;
  options.dir = dir;
  {
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    for (uint64_t batch = 0; batch < 30; ++batch) {
      ASSERT_TRUE(
          (*store)
              ->Write([&](WriteTxn* t) -> absl::Status {
                RETURN_IF_ERROR(t->AppendEntries(MakeEntries(1 + 10 * batch, 10, 1 + batch / 10)));
                for (uint64_t k = 0; k < 10; ++k) {
                  const uint64_t key = (batch * 10 + k) % 200;
                  RETURN_IF_ERROR(t->Put(absl::StrCat("key-", key),
                                         absl::StrCat("value-", batch, "-", std::string(40, 'v')),
                                         1 + 10 * batch + k));
                }
                RETURN_IF_ERROR(t->SetApplied(10 * (batch + 1), raft::ConfState{{1, 2, 3}}));
                return t->SetHardState(raft::HardState{1 + batch / 10, 2, 10 * (batch + 1)});
              })
              .ok());
    }
    ASSERT_TRUE((*store)->Write([](WriteTxn* t) { return t->Compact(50); }).ok());
    ASSERT_TRUE((*store)->Checkpoint().ok());  // everything into the database file
  }
  const std::string db_path = absl::StrCat(dir, "/", kDatabaseFileName);
  ASSERT_FALSE(std::filesystem::exists(db_path + "-wal") &&
               std::filesystem::file_size(db_path + "-wal") > 0);
  const std::string pristine = ReadFileBytes(db_path);
  std::string expected;
  {
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    auto dump = Dump(**store);
    ASSERT_TRUE(dump.ok()) << dump.status();
    expected = *dump;
  }
  // Page checksums (page_checksum_vfs.h) catch every flip: at open when it verifies the
  // file, else on the first read of the damaged page, as DataLoss.
  raft::Rng rng(42);
  int refused = 0, read_failed = 0, unharmed = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::string damaged = pristine;
    const uint64_t at = rng.Uniform(damaged.size());
    const int bit = static_cast<int>(rng.Uniform(8));
    damaged[at] = static_cast<char>(damaged[at] ^ (1 << bit));
    std::filesystem::remove(db_path + "-wal");
    WriteFileBytes(db_path, damaged);
    StoreOptions trial_options = options;
    trial_options.verify_on_open = trial % 2 == 0;
    auto store = Store::Open(trial_options);
    if (!store.ok()) {
      ASSERT_TRUE(store.status().code() == absl::StatusCode::kDataLoss ||
                  store.status().code() == absl::StatusCode::kFailedPrecondition)
          << "byte " << at << " bit " << bit << ": " << store.status();
      ++refused;
      continue;
    }
    ASSERT_FALSE(trial_options.verify_on_open)
        << "byte " << at << " bit " << bit << ": verified and opened a damaged file";
    auto dump = Dump(**store);
    if (!dump.ok()) {
      ASSERT_EQ(dump.status().code(), absl::StatusCode::kDataLoss)
          << "byte " << at << " bit " << bit << ": " << dump.status();
      ++read_failed;
      continue;
    }
    ASSERT_EQ(*dump, expected) << "byte " << at << " bit " << bit
                               << ": opened and served different data";
    ++unharmed;
  }
  std::printf("%d flips refused at open, %d failed a read as DataLoss, %d harmless\n", refused,
              read_failed, unharmed);
  // Opening without verification reads only some pages: the damage is often found later.
  EXPECT_GT(read_failed, 0);
}

}  // namespace
}  // namespace rb::storage
