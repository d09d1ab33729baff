#include "server/restore.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/file_sync.h"
#include "base/status_macros.h"
#include "server/config.h"
#include "server/identity.h"
#include "storage/snapshot_file.h"
#include "storage/store.h"

namespace rb::server {
absl::StatusOr<RestoredCluster> VerifyBackup(const std::string& backup_path) {
  ASSIGN_OR_RETURN(raftbadger::storagepb::SnapshotDescriptor d,
                   storage::ReadSnapshotDescriptor(backup_path));
  RETURN_IF_ERROR(storage::VerifySnapshotCopy(backup_path, d));
  return RestoredCluster{d.index(), d.row_count(), 0};
}

absl::StatusOr<RestoredCluster> RestoreFromBackup(const std::string& backup_path,
                                                  const std::string& data_dir,
                                                  const std::string& name) {
  if (!ValidName(name)) return absl::InvalidArgumentError(absl::StrCat("bad node name ", name));
  auto existing = ReadIdentity(data_dir);
  if (!absl::IsNotFound(existing.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat(data_dir, " is not empty; restore needs a new, empty data directory"));
  }
  ASSIGN_OR_RETURN(raftbadger::storagepb::SnapshotDescriptor d,
                   storage::ReadSnapshotDescriptor(backup_path));
  RETURN_IF_ERROR(storage::VerifySnapshotCopy(backup_path, d));

  storage::StoreOptions options;
  options.dir = data_dir;
  ASSIGN_OR_RETURN(std::unique_ptr<storage::Store> store, storage::Store::Open(options));
  const std::string copy = store->snapshot_path(d.file_name());
  std::error_code error;
  std::filesystem::copy_file(backup_path, copy, std::filesystem::copy_options::overwrite_existing,
                             error);
  if (error) {
    return absl::InternalError(absl::StrCat("copying ", backup_path, ": ", error.message()));
  }
  RETURN_IF_ERROR(FsyncPath(copy));
  RETURN_IF_ERROR(
      FsyncPath(std::filesystem::path(copy).parent_path().string(), /*directory=*/true));

  const uint64_t id = RaftIdForName(name);
  raft::Snapshot snapshot;
  snapshot.metadata.index = d.index();
  snapshot.metadata.term = d.term();
  snapshot.metadata.conf_state.voters = {id};
  snapshot.data = d.SerializeAsString();
  RETURN_IF_ERROR(store->Write([&](storage::WriteTxn* txn) -> absl::Status {
    RETURN_IF_ERROR(txn->InstallSnapshot(snapshot));
    return txn->SetHardState(raft::HardState{d.term(), raft::kNone, d.index()});
  }));
  store.reset();

  DataDirIdentity identity{name, id, NewClusterId()};
  identity.peers_added = true;  // nothing to seed: members join
  RETURN_IF_ERROR(WriteIdentity(data_dir, identity));
  return RestoredCluster{d.index(), d.row_count(), identity.cluster_id};
}

}  // namespace rb::server
