// The real store (storage/Store) over the simulated disk: the durability contract holds
// across power losses that strike in the middle of a commit.
#include "sim/sim_vfs.h"

#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "node/sqlite_node_store.h"
#include "storage/snapshot.h"
#include "storage/store.h"

namespace rb::sim {
namespace {

storage::StoreOptions Options(const SimVfs& vfs) {
  storage::StoreOptions o;
  o.dir = "/n1";
  o.vfs = vfs.name();
  o.page_cache_bytes = 1 << 20;
  o.wal_autocheckpoint_pages = 32;  // checkpoints (db file writes) happen often
  return o;
}

// Appends entries [first, first+n) and records the batch's end in the hard state and the
// state machine, in one transaction.
absl::Status AppendBatch(storage::Store* store, uint64_t first, uint64_t n) {
  return store->Write([&](storage::WriteTxn* t) -> absl::Status {
    std::vector<raft::Entry> entries;
    for (uint64_t i = first; i < first + n; ++i) {
      entries.push_back(raft::Entry{1, i, raft::EntryType::kNormal,
                                    absl::StrCat("entry-", i, std::string(300, 'x'))});
    }
    RETURN_IF_ERROR(t->AppendEntries(entries));
    RETURN_IF_ERROR(t->Put("last", absl::StrCat(first + n - 1), first + n - 1));
    return t->SetHardState(raft::HardState{1, 1, first + n - 1});
  });
}

// The process died with the disk frozen: the power fails (unsynced writes lost, kept or
// torn; the torn ones are added to *torn), and the store is opened again.
absl::Status LosePowerAndReopen(SimDisk* disk, const SimVfs& vfs, raft::Rng* rng,
                                std::unique_ptr<storage::Store>* store, uint64_t* torn) {
  store->reset();
  disk->Thaw();
  *torn += disk->Crash(rng).writes_torn;
  ASSIGN_OR_RETURN(*store, storage::Store::Open(Options(vfs)));
  return absl::OkStatus();
}

TEST(SimVfsTest, StoreRoundTripsWithoutTouchingTheRealDisk) {
  SimDisk disk;
  SimVfs vfs(1);
  vfs.Mount("n1", &disk);
  {
    auto store = storage::Store::Open(Options(vfs));
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE(AppendBatch(store->get(), 1, 10).ok());
  }
  EXPECT_FALSE(std::filesystem::exists("/n1"));
  EXPECT_TRUE(disk.Exists("/n1/raftbadger.db"));
  EXPECT_GT(vfs.syncs(), 0u);
  auto store = storage::Store::Open(Options(vfs));
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*(*store)->LastIndex(), 10u);
  EXPECT_EQ((*store)->hard_state().commit, 10u);
  EXPECT_EQ(*(*store)->Get("last"), "10");
}

TEST(SimVfsTest, PathsOutsideMountedDisksCannotBeOpened) {
  SimVfs vfs(1);
  storage::StoreOptions o;
  o.dir = "/nowhere";
  o.vfs = vfs.name();
  EXPECT_FALSE(storage::Store::Open(o).ok());
}

// Power fails at a random point of a random commit (possibly inside the WAL write, its
// fsync or a checkpoint); the unsynced writes of that moment are lost, kept or torn. Every
// batch whose Write returned before the failure must survive intact, and the batch in
// flight must be all there or not at all.
TEST(SimVfsTest, AcknowledgedCommitsSurvivePowerLossInsideACommit) {
  SimDisk disk;
  SimVfs vfs(2);
  vfs.Mount("n1", &disk);
  raft::Rng rng(20261126);
  uint64_t acknowledged = 0;
  uint64_t crashes = 0, torn = 0, in_flight_survived = 0;
  auto store_or = storage::Store::Open(Options(vfs));
  ASSERT_TRUE(store_or.ok()) << store_or.status();
  std::unique_ptr<storage::Store> store = *std::move(store_or);
  for (int batch = 0; batch < 400; ++batch) {
    const bool crash_now = rng.Chance(1, 4);
    if (crash_now) disk.FreezeAfter(rng.Range(1, 12));
    const uint64_t first = *store->LastIndex() + 1;
    const uint64_t n = rng.Range(1, 8);
    const absl::Status s = AppendBatch(store.get(), first, n);
    if (!disk.frozen()) {
      ASSERT_TRUE(s.ok()) << s;
      acknowledged = first + n - 1;
      disk.Thaw();  // the countdown outlived this commit: cancel it
      continue;
    }
    // The process died during this commit: nothing it does from here reaches the disk.
    ++crashes;
    const absl::Status reopened = LosePowerAndReopen(&disk, vfs, &rng, &store, &torn);
    ASSERT_TRUE(reopened.ok()) << "batch " << batch << ": " << reopened;
    const uint64_t last = *store->LastIndex();
    ASSERT_TRUE(last == acknowledged || last == first + n - 1)
        << "batch " << batch << ": last " << last << ", acknowledged " << acknowledged;
    if (last != acknowledged) ++in_flight_survived;
    acknowledged = last;
    ASSERT_EQ(store->hard_state().commit, last);
    ASSERT_EQ(*store->Get("last"), absl::StrCat(last));
    std::vector<raft::Entry> entries;
    ASSERT_TRUE(store->Entries(1, last + 1, UINT64_MAX, &entries).ok());
    ASSERT_EQ(entries.size(), last);
    for (const raft::Entry& e : entries) {
      ASSERT_EQ(e.data.view().substr(0, 6 + absl::StrCat(e.index).size()),
                absl::StrCat("entry-", e.index));
    }
  }
  EXPECT_GT(crashes, 50u);
  EXPECT_GT(torn, 0u) << "no power loss tore a write";
  EXPECT_GT(in_flight_survived, 0u) << "no commit in flight ever survived";
  EXPECT_LT(in_flight_survived, crashes) << "no commit in flight was ever lost";
}

// A snapshot is built without a journal or an fsync until it is complete, then synced once
// before the store records it. A power loss right after must find the recorded snapshot
// whole: every row streams out of it. Without that one sync, a lost or torn page of the
// copy fails the open or the stream here.
TEST(SimVfsTest, RecordedSnapshotSurvivesPowerLoss) {
  raft::Rng rng(20261206);
  for (int round = 0; round < 20; ++round) {
    SimDisk disk;
    SimVfs vfs(100 + round);
    vfs.Mount("n1", &disk);
    uint64_t snapshot_index = 0;
    {
      auto store = storage::Store::Open(Options(vfs));
      ASSERT_TRUE(store.ok()) << store.status();
      for (uint64_t first = 1; first <= 200; first += 20) {
        ASSERT_TRUE(AppendBatch(store->get(), first, 20).ok());
        ASSERT_TRUE((*store)
                        ->Write([&](storage::WriteTxn* t) -> absl::Status {
                          for (uint64_t i = first; i < first + 20; ++i) {
                            RETURN_IF_ERROR(
                                t->Put(absl::StrCat("key", i), std::string(200, 'v'), i));
                          }
                          raft::ConfState conf;
                          conf.voters = {1};
                          return t->SetApplied(first + 19, conf);
                        })
                        .ok());
      }
      auto builder = storage::SnapshotBuilder::Start(store->get());
      ASSERT_TRUE(builder.ok()) << builder.status();
      ASSERT_TRUE(*(*builder)->Step(1 << 20));
      auto snap = (*builder)->Finish();
      ASSERT_TRUE(snap.ok()) << snap.status();
      snapshot_index = (*snap)->metadata.index;
      disk.Freeze();  // the power fails now: closing the store writes nothing more
    }
    disk.Thaw();
    disk.Crash(&rng);
    auto store = storage::Store::Open(Options(vfs));
    ASSERT_TRUE(store.ok()) << store.status();
    auto snap = (*store)->GetSnapshot();
    ASSERT_TRUE(snap.ok()) << snap.status();
    ASSERT_EQ((*snap)->metadata.index, snapshot_index) << "round " << round;
    auto reader = storage::SnapshotReader::Open(**store, **snap);
    ASSERT_TRUE(reader.ok()) << "round " << round << ": " << reader.status();
    uint64_t rows = 0;
    for (int chunk = 0; chunk < 1000; ++chunk) {
      auto next = (*reader)->Next(4096);
      ASSERT_TRUE(next.ok()) << "round " << round << ": " << next.status();
      rows += next->rows_size();
      if (next->last()) break;
    }
    EXPECT_EQ(rows, 201u) << "round " << round;  // 200 keys and "last"
  }
}

// A Ready that only commits and applies (the core's must_sync is false) commits without an
// fsync of its own, so that a lone client's write waits for one fsync on the leader, not
// two: the log holds what it applied, and the next synced commit's fsync covers it, unless
// a client read comes first, which syncs it before showing it. A second one in a row pays
// its fsync: the WAL may end in at most two commits without one (storage/wal_frames.h). A
// Ready with entries completes only after its fsync.
TEST(SimVfsTest, AReadyThatOnlyAppliesSkipsItsFsync) {
  SimDisk disk;
  SimVfs vfs(3);
  vfs.Mount("n1", &disk);
  raft::ConfState conf;
  conf.voters = {1};
  std::vector<std::function<void()>> completions;
  uint64_t syncs_at_completion = 0;
  auto opened = node::SqliteNodeStore::Open(Options(vfs), conf, [&](std::function<void()> c) {
    syncs_at_completion = vfs.syncs();
    completions.push_back(std::move(c));
  });
  ASSERT_TRUE(opened.ok()) << opened.status();
  node::SqliteNodeStore& store = **opened;
  auto run_completions = [&] {
    for (auto& c : completions) c();
    completions.clear();
  };
  int done = 0;
  auto count = [&done](absl::Status s) {
    ASSERT_TRUE(s.ok()) << s;
    ++done;
  };
  auto append = [&](uint64_t index) {
    raft::Ready rd;
    rd.entries = {raft::Entry{1, index, raft::EntryType::kNormal, std::string("put")}};
    rd.hard_state = raft::HardState{1, 1, index - 1};
    rd.must_sync = true;
    const uint64_t before = vfs.syncs();
    store.Persist(rd, nullptr, nullptr, count);
    EXPECT_GT(syncs_at_completion, before) << "entries completed before their fsync";
    run_completions();
  };
  auto apply_only = [&](uint64_t index, std::string value) {
    raft::Ready rd;
    rd.hard_state = raft::HardState{1, 1, index};
    rd.committed_entries = {raft::Entry{1, index, raft::EntryType::kNormal, std::string("put")}};
    store.Persist(
        rd,
        [&](node::KvTxn* t) -> absl::Status {
          RETURN_IF_ERROR(t->Put("k", value, index));
          return t->SetApplied(index, conf);
        },
        nullptr, count);
    run_completions();
  };
  const uint64_t first = *store.raft_storage().LastIndex() + 1;
  const uint64_t applied_before = store.store().durable_applied_index();

  append(first);
  uint64_t before = vfs.syncs();
  apply_only(first, "v1");
  EXPECT_EQ(vfs.syncs(), before) << "the apply was synced";
  EXPECT_EQ(store.store().unsynced_commits(), 1u);
  EXPECT_EQ(store.store().durable_applied_index(), applied_before);
  EXPECT_EQ(store.store().durable_hard_state().commit, first - 1);

  // The next entries' fsync makes the apply durable too.
  append(first + 1);
  EXPECT_EQ(store.store().unsynced_commits(), 0u);
  EXPECT_EQ(store.store().durable_applied_index(), first);

  // A client read syncs an unsynced apply before it shows it.
  apply_only(first + 1, "v2");
  EXPECT_EQ(store.store().unsynced_commits(), 1u);
  before = vfs.syncs();
  EXPECT_EQ(*store.Get("k"), "v2");
  EXPECT_GT(vfs.syncs(), before) << "a read showed an unsynced apply";
  EXPECT_EQ(store.store().durable_applied_index(), first + 1);
  before = vfs.syncs();
  EXPECT_EQ(*store.Get("k"), "v2");
  EXPECT_EQ(vfs.syncs(), before) << "a read with nothing unsynced synced";

  // Two applies in a row: the second is synced before it completes.
  append(first + 2);
  apply_only(first + 2, "v3");
  EXPECT_EQ(store.store().unsynced_commits(), 1u);
  raft::Ready commit_only;
  commit_only.hard_state = raft::HardState{2, 1, first + 2};
  before = vfs.syncs();
  store.Persist(commit_only, nullptr, nullptr, count);
  EXPECT_GT(syncs_at_completion, before) << "a second unsynced commit in a row";
  run_completions();
  EXPECT_EQ(store.store().unsynced_commits(), 0u);
  EXPECT_EQ(store.store().durable_applied_index(), first + 2);
  EXPECT_EQ(done, 7);

  // A Ready that writes nothing (a ReadIndex round's read states) costs no fsync: every
  // linearizable read round makes one.
  raft::Ready nothing;
  nothing.read_states.push_back(raft::ReadState{first, "ctx"});
  before = vfs.syncs();
  store.Persist(nothing, nullptr, nullptr, count);
  EXPECT_EQ(vfs.syncs(), before) << "an empty Ready was synced";
  run_completions();
  EXPECT_EQ(done, 8);
}

// An apply committed without an fsync, then a synced commit (the leader's pattern under a
// lone client): power fails at a random point of either, so the unsynced writes of both may
// be lost, kept or torn. The store must open: a torn frame of the apply followed by the
// synced commit's frame is a tear, not damage. Each commit is one WAL frame (one row each),
// so that a lost apply frame followed by an intact commit frame happens often enough.
TEST(SimVfsTest, PowerLossAfterAnUnsyncedApplyIsATearNotDamage) {
  SimDisk disk;
  SimVfs vfs(5);
  vfs.Mount("n1", &disk);
  raft::Rng rng(20261207);
  uint64_t acknowledged = 0, crashes = 0, torn = 0;
  auto store_or = storage::Store::Open(Options(vfs));
  ASSERT_TRUE(store_or.ok()) << store_or.status();
  std::unique_ptr<storage::Store> store = *std::move(store_or);
  for (uint64_t commit = 1; commit <= 1000; ++commit) {
    if (rng.Chance(1, 3)) disk.FreezeAfter(rng.Range(1, 6));
    absl::Status s = store->Write(
        [&](storage::WriteTxn* t) { return t->Put("applied", absl::StrCat(commit), commit); },
        /*sync=*/false);
    if (!disk.frozen()) {
      ASSERT_TRUE(s.ok()) << s;
      ASSERT_EQ(store->unsynced_commits(), 1u);
      s = store->Write([&](storage::WriteTxn* t) {
        return t->SetHardState(raft::HardState{1, 1, commit});
      });
    }
    if (!disk.frozen()) {
      ASSERT_TRUE(s.ok()) << s;
      acknowledged = commit;
      disk.Thaw();  // the countdown outlived these commits: cancel it
      continue;
    }
    ++crashes;
    const absl::Status reopened = LosePowerAndReopen(&disk, vfs, &rng, &store, &torn);
    ASSERT_TRUE(reopened.ok()) << "commit " << commit << ": " << reopened;
    const uint64_t last = store->hard_state().commit;
    ASSERT_TRUE(last == acknowledged || last == commit)
        << "commit " << commit << ": found " << last << ", acknowledged " << acknowledged;
    acknowledged = last;
  }
  EXPECT_GT(crashes, 100u);
  EXPECT_GT(torn, 0u) << "no power loss tore a write";
}

// A commit made without an fsync, then a failed fsync: the kernel may have dropped its pages,
// so the store must neither claim it durable nor serve it. Syncs fail at random (half of
// them) from the second open on; the first disk whose open survives and whose SyncWal fails
// is the case checked.
TEST(SimVfsTest, AFailedSyncOfAnUnsyncedCommitPoisonsReadsAndWrites) {
  bool checked = false;
  for (uint64_t seed = 1; seed <= 64 && !checked; ++seed) {
    SimDisk disk;
    SimVfs vfs(seed);
    vfs.Mount("n1", &disk);
    {
      auto created = storage::Store::Open(Options(vfs));
      ASSERT_TRUE(created.ok()) << created.status();
      ASSERT_TRUE(AppendBatch(created->get(), 1, 5).ok());
    }
    vfs.SetFailingSyncs("/n1/raftbadger.db-wal", 5000);
    auto opened = storage::Store::Open(Options(vfs));
    if (!opened.ok()) continue;  // its own sync failed
    storage::Store& store = **opened;
    // A new WAL's header is synced even so, and that sync may fail too: another disk.
    const absl::Status written =
        store.Write([](storage::WriteTxn* t) { return t->Put("k", "v", 5); }, /*sync=*/false);
    if (!written.ok()) continue;
    EXPECT_EQ(*store.Get("k"), "v");
    if (store.SyncWal().ok()) continue;
    checked = true;
    EXPECT_EQ(store.Get("k").status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_FALSE(store.Scan("", 10).ok());
    EXPECT_FALSE(AppendBatch(&store, 6, 1).ok());
  }
  EXPECT_TRUE(checked) << "no disk opened and then failed its sync";
}

// Transient read faults: page reads of the database and its WAL return a flipped bit now
// and then. The page checksums catch every one, a second read repairs it, and the store
// never returns different data.
TEST(SimVfsTest, FlakyReadsAreCaughtAndRepaired) {
  SimDisk disk;
  SimVfs vfs(4);
  vfs.Mount("n1", &disk);
  vfs.SetFlakyReads("/n1/raftbadger.db", 50);
  vfs.SetFlakyReads("/n1/raftbadger.db-wal", 50);
  storage::StoreOptions options = Options(vfs);
  options.page_cache_bytes = 64 << 10;  // a few pages: reads go to the disk
  uint64_t last = 0;
  for (int reopen = 0; reopen < 12; ++reopen) {
    auto store = storage::Store::Open(options);  // verifies every page
    ASSERT_TRUE(store.ok()) << store.status();
    for (int batch = 0; batch < 10; ++batch) {
      ASSERT_TRUE(AppendBatch(store->get(), last + 1, 20).ok());
      last += 20;
    }
    std::vector<raft::Entry> entries;
    ASSERT_TRUE((*store)->Entries(1, last + 1, UINT64_MAX, &entries).ok());
    ASSERT_EQ(entries.size(), last);
    for (const raft::Entry& e : entries) {
      ASSERT_EQ(e.data.view(), absl::StrCat("entry-", e.index, std::string(300, 'x')));
    }
    if (reopen % 3 == 2) {
      ASSERT_TRUE((*store)->Checkpoint().ok());
    }
  }
  const storage::PageChecksumVfs::Counters c = vfs.checksums().counters();
  EXPECT_GT(vfs.read_faults(), 20u);
  EXPECT_EQ(c.mismatches, vfs.read_faults()) << "a flipped bit went unnoticed";
  EXPECT_EQ(c.damaged, 0u);
  EXPECT_GE(c.repaired, 1u);
  EXPECT_GT(c.pages_verified, 1000u);
}

// SQLite's randomness (WAL salts) comes from the VFS's seed: same seed, same bytes.
TEST(SimVfsTest, SameSeedWritesTheSameBytes) {
  std::string images[2];
  for (std::string& image : images) {
    SimDisk disk;
    SimVfs vfs(3);
    vfs.Mount("n1", &disk);
    {
      auto store = storage::Store::Open(Options(vfs));
      ASSERT_TRUE(store.ok()) << store.status();
      for (uint64_t i = 0; i < 20; ++i) ASSERT_TRUE(AppendBatch(store->get(), 1 + 5 * i, 5).ok());
    }
    for (const std::string& path : disk.Paths()) {
      std::string bytes(disk.Size(path), '\0');
      disk.Read(path, 0, bytes.size(), bytes.data());
      absl::StrAppend(&image, path, ":", bytes);
    }
  }
  EXPECT_EQ(images[0], images[1]);
}

}  // namespace
}  // namespace rb::sim
