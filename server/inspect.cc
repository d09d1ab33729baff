#include "server/inspect.h"

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "node/member_directory.h"
#include "node/state_machine.h"
#include "server/identity.h"
#include "storage/snapshot_file.h"
#include "storage/store.h"

namespace rb::server {
namespace {

namespace fs = std::filesystem;

// A private copy of the database (and its WAL) to open, removed when done.
class ScratchCopy {
 public:
  ~ScratchCopy() {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }
  absl::Status Make(const std::string& data_dir) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/raftbadger-inspect-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError("cannot create a temporary directory");
    }
    dir_ = pattern;
    for (const char* suffix : {"", "-wal"}) {
      const fs::path from = fs::path(data_dir) / absl::StrCat(storage::kDatabaseFileName, suffix);
      if (!fs::exists(from)) continue;
      std::error_code error;
      fs::copy_file(from, fs::path(dir_) / from.filename(), error);
      if (error)
        return absl::InternalError(absl::StrCat("copying ", from.string(), ": ", error.message()));
    }
    return absl::OkStatus();
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

std::string Ids(const std::vector<uint64_t>& ids) { return absl::StrJoin(ids, " "); }

}  // namespace

absl::StatusOr<std::string> InspectDataDir(const std::string& data_dir) {
  std::string out;
  ASSIGN_OR_RETURN(DataDirIdentity id, ReadIdentity(data_dir));
  absl::StrAppend(
      &out, "identity: name ", id.name, ", raft id ", id.raft_id, ", cluster ", id.cluster_id,
      id.removed_at_index != 0 ? absl::StrCat(", REMOVED at log index ", id.removed_at_index) : "",
      "\n");
  if (!fs::exists(fs::path(data_dir) / storage::kDatabaseFileName)) {
    return absl::DataLossError(absl::StrCat(data_dir, " has an identity but no database"));
  }
  ScratchCopy copy;
  RETURN_IF_ERROR(copy.Make(data_dir));
  storage::StoreOptions options;
  options.dir = copy.dir();
  options.verify_on_open = true;  // page checksums, quick_check, every row's checksum
  ASSIGN_OR_RETURN(std::unique_ptr<storage::Store> store, storage::Store::Open(options));
  const raft::HardState& hs = store->hard_state();
  absl::StrAppend(&out, "hard state: term ", hs.term, ", vote ", hs.vote, ", commit ", hs.commit,
                  "\n");
  ASSIGN_OR_RETURN(uint64_t first, store->FirstIndex());
  ASSIGN_OR_RETURN(uint64_t last, store->LastIndex());
  // The last entry's term and index are what an election compares: the survivor to force
  // after losing a majority is the one whose log is the most up to date by them.
  ASSIGN_OR_RETURN(uint64_t last_term, store->Term(last));
  absl::StrAppend(&out, "log: ",
                  last >= first
                      ? absl::StrCat("entries ", first, " to ", last, " (", last - first + 1, ")")
                      : std::string("empty"),
                  ", last term ", last_term, "\n");
  ASSIGN_OR_RETURN(std::shared_ptr<const raft::Snapshot> snap, store->GetSnapshot());
  if (snap == nullptr || snap->IsEmpty()) {
    absl::StrAppend(&out, "snapshot: none\n");
  } else {
    ASSIGN_OR_RETURN(auto d, storage::DecodeDescriptor(*snap));
    const std::string file =
        (fs::path(data_dir) / storage::kSnapshotDirName / d.file_name()).string();
    RETURN_IF_ERROR(storage::VerifySnapshotCopy(file, d));
    absl::StrAppend(&out, "snapshot: index ", snap->metadata.index, ", term ", snap->metadata.term,
                    ", ", d.row_count(), " rows in ", d.file_name(), " (verified)\n");
  }
  const raft::ConfState& cs = store->applied_conf_state();
  absl::StrAppend(
      &out, "applied: index ", store->applied_index(), ", voters (", Ids(cs.voters), ") learners (",
      Ids(cs.learners), ")",
      cs.voters_outgoing.empty() ? "" : absl::StrCat(" outgoing (", Ids(cs.voters_outgoing), ")"),
      "\n");
  uint64_t keys = 0, reserved = 0;
  std::string after;
  std::vector<std::string> members;
  for (;;) {  // bounded: each page moves past its last key
    ASSIGN_OR_RETURN(std::vector<storage::KeyValue> page, store->Scan("", 1024, after));
    for (const storage::KeyValue& kv : page) {
      if (!kv.key.empty() && kv.key[0] == node::kReservedKeyPrefix) {
        ++reserved;
        if (auto member = node::MemberIdFromRowKey(kv.key)) {
          members.push_back(absl::StrCat("  ", *member, " ", kv.value));
        }
      } else {
        ++keys;
      }
    }
    if (page.size() < 1024) break;
    after = page.back().key;
  }
  absl::StrAppend(&out, "state machine: ", keys, " keys, ", reserved,
                  " reserved rows (sessions, members)\n");
  absl::StrAppend(&out, "member directory:\n", absl::StrJoin(members, "\n"),
                  members.empty() ? "" : "\n");
  absl::StrAppend(&out, "checks: page checksums, SQLite quick_check, row checksums: ok\n");
  return out;
}

}  // namespace rb::server
