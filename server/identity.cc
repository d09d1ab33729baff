#include "server/identity.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/file_sync.h"
#include "xxhash.h"

namespace rb::server {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

uint64_t RaftIdForName(absl::string_view name) {
  const uint64_t h = XXH3_64bits(name.data(), name.size()) & 0x7fffffffffffffffULL;
  return h == 0 ? 1 : h;
}

uint64_t NewClusterId() {
  std::random_device rd;
  uint64_t id = 0;
  while (id == 0) id = ((uint64_t{rd()} << 32) | rd()) >> 1;  // bounded: 0 is rare
  return id;
}

std::string MemberContext(absl::string_view name, absl::string_view address) {
  return absl::StrCat(name, " ", address);
}

bool ParseMemberContext(absl::string_view context, std::string* name, std::string* address) {
  std::pair<std::string, std::string> parts = absl::StrSplit(context, absl::MaxSplits(' ', 1));
  if (parts.first.empty() || parts.second.empty()) return false;
  *name = std::move(parts.first);
  *address = std::move(parts.second);
  return true;
}

absl::StatusOr<DataDirIdentity> ReadIdentity(const std::string& data_dir) {
  const std::string path = absl::StrCat(data_dir, "/", kIdentityFileName);
  std::ifstream in(path);
  if (!in.good()) {
    // No identity: fresh only if the directory is missing or holds nothing of ours.
    DIR* dir = ::opendir(data_dir.c_str());
    if (dir == nullptr) {
      if (errno == ENOENT) return absl::NotFoundError("no data directory yet");
      return Errno("reading the data directory", data_dir);
    }
    std::string found;
    while (dirent* e = ::readdir(dir)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") found = n;
    }
    ::closedir(dir);
    if (found.empty()) return absl::NotFoundError("empty data directory");
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", data_dir, " holds files (", found, ", ...) but no ", kIdentityFileName,
        ": not a RaftBadger data directory, or a damaged one; refusing to start over it"));
  }
  DataDirIdentity id;
  std::string line;
  while (std::getline(in, line)) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    if (kv.first == "name") {
      id.name = kv.second;
    } else if (kv.first == "raft_id") {
      if (!absl::SimpleAtoi(kv.second, &id.raft_id)) id.raft_id = 0;
    } else if (kv.first == "cluster_id") {
      if (!absl::SimpleAtoi(kv.second, &id.cluster_id)) id.cluster_id = 0;
    } else if (kv.first == "peers_added") {
      id.peers_added = kv.second == "1";
    } else if (kv.first == "removed_at") {
      if (!absl::SimpleAtoi(kv.second, &id.removed_at_index)) id.removed_at_index = 0;
    }
  }
  if (id.name.empty() || id.raft_id != RaftIdForName(id.name)) {
    return absl::DataLossError(absl::StrCat(path,
                                            " is damaged (no name, or an id that does not "
                                            "match it); refusing to start over it"));
  }
  return id;
}

absl::Status WriteIdentity(const std::string& data_dir, const DataDirIdentity& identity) {
  std::error_code error;
  std::filesystem::create_directories(data_dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("creating the data directory ", data_dir, ": ", error.message()));
  }
  const std::string path = absl::StrCat(data_dir, "/", kIdentityFileName);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "name=" << identity.name << "\nraft_id=" << identity.raft_id
        << "\ncluster_id=" << identity.cluster_id << "\n";
    if (identity.peers_added) out << "peers_added=1\n";
    if (identity.removed_at_index != 0) out << "removed_at=" << identity.removed_at_index << "\n";
    out.flush();
    if (!out.good()) return Errno("writing", tmp);
  }
  if (absl::Status s = FsyncPath(tmp); !s.ok()) return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("renaming", tmp);
  return FsyncPath(data_dir, /*directory=*/true);
}

}  // namespace rb::server
