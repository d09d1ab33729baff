#include "server/disk_space.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace rb::server {
namespace {

std::string Mib(uint64_t bytes) {
  return absl::StrCat(bytes / (1 << 20), ".", (bytes % (1 << 20)) * 10 / (1 << 20), " MiB");
}

}  // namespace

absl::StatusOr<uint64_t> FreeBytes(const std::string& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) {
    return absl::UnavailableError(absl::StrCat("statvfs(", dir, "): ", std::strerror(errno)));
  }
  return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

absl::Status CheckFreeSpace(uint64_t free_bytes, uint64_t min_free_bytes) {
  if (free_bytes >= min_free_bytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat(Mib(free_bytes), " free, below the ", Mib(min_free_bytes), " kept in reserve"));
}

}  // namespace rb::server
