#include "storage/test_util.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
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

}  // namespace rb::storage
