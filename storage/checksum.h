// Checksums over what storage keeps, so that corruption below SQLite's page structure (a
// flipped bit in a payload) is detected on read instead of applied.
//
// XXH3-64 from Debian's libxxhash: its output is specified and stable across versions and
// platforms (required: checksums are stored), and it is several times faster than
// table-driven CRC-32, which matters on the point-read and append paths.
#ifndef RAFTBADGER_STORAGE_CHECKSUM_H_
#define RAFTBADGER_STORAGE_CHECKSUM_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace rb::storage {

uint64_t Checksum(absl::string_view bytes, uint64_t seed = 0);
// Over index, term, type and payload: a row moved to another index fails the check too.
uint64_t EntryChecksum(uint64_t index, uint64_t term, int type, absl::string_view data);
uint64_t KvChecksum(absl::string_view key, absl::string_view value, uint64_t mod_index);
uint64_t MetaChecksum(absl::string_view name, absl::string_view value);
// Folds one row's checksum into a snapshot's content checksum (rows in key order).
uint64_t ExtendContentChecksum(uint64_t content, uint64_t row);

}  // namespace rb::storage

#endif  // RAFTBADGER_STORAGE_CHECKSUM_H_
