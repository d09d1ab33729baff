#include "storage/checksum.h"

#include <xxhash.h>

#include <cstring>

namespace rb::storage {
namespace {

// Fixed-size header fields are hashed from a little buffer in one call with the payload as
// the seed chain, which keeps small checksums (keys, short values) cheap.
uint64_t Hash(const void* data, size_t size, uint64_t seed) {
  return XXH3_64bits_withSeed(data, size, seed);
}

void Put64(unsigned char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
}

}  // namespace

uint64_t Checksum(absl::string_view bytes, uint64_t seed) {
  return Hash(bytes.data(), bytes.size(), seed);
}

uint64_t EntryChecksum(uint64_t index, uint64_t term, int type, absl::string_view data) {
  unsigned char header[24];
  Put64(header, index);
  Put64(header + 8, term);
  Put64(header + 16, static_cast<uint64_t>(type));
  return Hash(data.data(), data.size(), Hash(header, sizeof(header), 0));
}

uint64_t KvChecksum(absl::string_view key, absl::string_view value, uint64_t mod_index) {
  // Lengths are included so that ("ab","c") and ("a","bc") differ.
  unsigned char header[24];
  Put64(header, key.size());
  Put64(header + 8, value.size());
  Put64(header + 16, mod_index);
  uint64_t h = Hash(header, sizeof(header), 0);
  h = Hash(key.data(), key.size(), h);
  return Hash(value.data(), value.size(), h);
}

uint64_t MetaChecksum(absl::string_view name, absl::string_view value) {
  return Hash(value.data(), value.size(), Hash(name.data(), name.size(), name.size()));
}

uint64_t ExtendContentChecksum(uint64_t content, uint64_t row) {
  unsigned char bytes[8];
  Put64(bytes, row);
  return Hash(bytes, sizeof(bytes), content);
}

}  // namespace rb::storage
