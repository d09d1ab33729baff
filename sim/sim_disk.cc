#include "sim/sim_disk.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/logging.h"

namespace rb::sim {

SimDisk::File& SimDisk::Get(absl::string_view path) {
  auto it = files_.find(path);
  RB_CHECK(it != files_.end(), "simulated disk: no file ", path);
  return it->second;
}

const SimDisk::File& SimDisk::Get(absl::string_view path) const {
  auto it = files_.find(path);
  RB_CHECK(it != files_.end(), "simulated disk: no file ", path);
  return it->second;
}

void SimDisk::FreezeAfter(uint64_t ops) {
  RB_CHECK(ops >= 1, "FreezeAfter(0)");
  freeze_countdown_ = ops;
}

bool SimDisk::Proceed() {
  if (frozen_) return false;
  if (freeze_countdown_ > 0 && --freeze_countdown_ == 0) {
    frozen_ = true;
    return false;
  }
  return true;
}

bool SimDisk::Exists(absl::string_view path) const { return files_.find(path) != files_.end(); }

void SimDisk::Create(absl::string_view path) {
  if (frozen_) return;
  if (!Exists(path)) files_.emplace(std::string(path), File{});
}

bool SimDisk::Delete(absl::string_view path) {
  auto it = files_.find(path);
  if (it == files_.end()) return false;
  if (frozen_) return true;
  files_.erase(it);
  return true;
}

uint64_t SimDisk::Size(absl::string_view path) const { return Get(path).data.size(); }

uint64_t SimDisk::Read(absl::string_view path, uint64_t offset, uint64_t n, char* out) const {
  ++reads_;
  const File& f = Get(path);
  if (offset >= f.data.size()) return 0;
  const uint64_t available = std::min<uint64_t>(n, f.data.size() - offset);
  std::copy_n(f.data.data() + offset, available, out);
  return available;
}

void SimDisk::Write(absl::string_view path, uint64_t offset, absl::string_view data) {
  const bool ghost = !Proceed();
  RB_CHECK(offset + data.size() <= kMaxFileBytes, "simulated file ", path, " would exceed ",
           kMaxFileBytes, " bytes");
  File& f = Get(path);
  Undo u;
  u.offset = offset;
  u.old_size = f.data.size();
  if (offset < f.data.size()) {
    u.old_bytes = f.data.substr(offset, std::min<uint64_t>(data.size(), f.data.size() - offset));
  }
  if (offset + data.size() > f.data.size()) f.data.resize(offset + data.size(), '\0');
  f.data.replace(offset, data.size(), data.data(), data.size());
  u.new_size = f.data.size();
  u.new_bytes = std::string(data);
  u.ghost = ghost;
  f.unsynced.push_back(std::move(u));
}

void SimDisk::Truncate(absl::string_view path, uint64_t size) {
  const bool ghost = !Proceed();
  File& f = Get(path);
  Undo u;
  u.truncate = true;
  u.offset = size;
  u.old_size = f.data.size();
  if (size < f.data.size()) u.old_bytes = f.data.substr(size);
  f.data.resize(size, '\0');
  u.new_size = size;
  u.ghost = ghost;
  f.unsynced.push_back(std::move(u));
}

void SimDisk::Sync(absl::string_view path) {
  if (!Proceed()) return;
  Get(path).unsynced.clear();
}

// Undoes the unsynced operations newest first, leaving the durable image.
void SimDisk::Undo1(File* f, const Undo& u) {
  RB_CHECK(f->data.size() == u.new_size, "simulated disk undo log out of step");
  if (u.truncate) {
    f->data.resize(u.offset);
    f->data.append(u.old_bytes);
    f->data.resize(u.old_size, '\0');
  } else {
    f->data.replace(u.offset, u.old_bytes.size(), u.old_bytes);
    f->data.resize(u.old_size);
  }
}

void SimDisk::RollBack(File* f) {
  for (auto it = f->unsynced.rbegin(); it != f->unsynced.rend(); ++it) Undo1(f, *it);
}

void SimDisk::DiscardGhosts() {
  for (auto& [path, f] : files_) {
    while (!f.unsynced.empty() && f.unsynced.back().ghost) {
      Undo1(&f, f.unsynced.back());
      f.unsynced.pop_back();
    }
  }
}

void SimDisk::Thaw() {
  DiscardGhosts();
  frozen_ = false;
  freeze_countdown_ = 0;
}

// Applies one unsynced operation to the durable image as a power loss might: fully, not at
// all, or (writes only) sector by sector.
void SimDisk::Replay(File* f, const Undo& u, raft::Rng* rng, CrashReport* report, bool may_tear) {
  const uint64_t fate = rng->Uniform(3);
  if (fate == 0) {
    ++report->writes_lost;
    return;
  }
  if (u.truncate) {
    ++report->writes_kept;
    f->data.resize(u.offset, '\0');
    return;
  }
  const uint64_t end = u.offset + u.new_bytes.size();
  if (end > f->data.size()) f->data.resize(end, '\0');
  if (fate == 1 || !may_tear || u.new_bytes.size() <= kPhysicalSectorBytes) {
    ++report->writes_kept;
    f->data.replace(u.offset, u.new_bytes.size(), u.new_bytes);
    return;
  }
  ++report->writes_torn;
  // Torn: each physical sector the write touched made it or not.
  for (uint64_t pos = u.offset; pos < end;) {
    const uint64_t sector_end =
        std::min(end, (pos / kPhysicalSectorBytes + 1) * kPhysicalSectorBytes);
    if (rng->Chance(1, 2)) {
      f->data.replace(pos, sector_end - pos, u.new_bytes, pos - u.offset, sector_end - pos);
    }
    pos = sector_end;
  }
}

SimDisk::CrashReport SimDisk::FailSync(absl::string_view path, raft::Rng* rng) {
  CrashReport report;
  if (!Proceed()) return report;
  File& f = Get(path);
  RollBack(&f);
  const std::vector<Undo> unsynced = std::move(f.unsynced);
  f.unsynced.clear();
  for (const Undo& u : unsynced) Replay(&f, u, rng, &report, /*may_tear=*/false);
  return report;
}

SimDisk::CrashReport SimDisk::Crash(raft::Rng* rng) {
  DiscardGhosts();
  CrashReport report;
  for (auto& [path, f] : files_) {
    if (f.unsynced.empty()) continue;
    RollBack(&f);
    const std::vector<Undo> unsynced = std::move(f.unsynced);
    f.unsynced.clear();
    for (const Undo& u : unsynced) Replay(&f, u, rng, &report);
  }
  return report;
}

void SimDisk::FlipBit(absl::string_view path, uint64_t offset, int bit) {
  File& f = Get(path);
  RB_CHECK(f.unsynced.empty(), "damaging ", path, " while it has unsynced writes");
  RB_CHECK(offset < f.data.size() && bit >= 0 && bit < 8, "no bit ", bit, " at ", offset, " in ",
           path);
  f.data[offset] = static_cast<char>(f.data[offset] ^ (1 << bit));
}

uint64_t SimDisk::unsynced_writes() const {
  uint64_t n = 0;
  for (const auto& [path, f] : files_) n += f.unsynced.size();
  return n;
}

std::vector<std::string> SimDisk::Paths() const {
  std::vector<std::string> paths;
  for (const auto& [path, f] : files_) paths.push_back(path);
  return paths;
}

}  // namespace rb::sim
