// The state machine's rows in SQLite, as the store and its snapshot files hold them.
//
// Table kv has one row per key: (key, value, mod_index, checksum, large), WITHOUT ROWID, so
// a row lives in the key's own B-tree. A value longer than kMaxInlineValueBytes is kept
// instead in kv_large(key, value), a table with row ids, and kv's row holds an empty value
// and large = 1. Why: SQLite compares a search key with a WITHOUT ROWID cell by reading the
// cell's whole record, overflow pages included, at every level of every seek. With 64 KiB
// values every put, get and scan step read whole values just to find its place
// (docs/performance.md, "Large values cost a B-tree seek that reads them whole"). kv_large
// keeps its rows in a B-tree keyed by row id, reached through a small index of keys.
//
// The checksum of kv's row covers the whole value, whichever table holds it, so a lost or
// damaged kv_large row reads as a checksum mismatch.
//
// Files written before the split (store schema version 1, and snapshot files built from
// one) have no `large` column and no kv_large: every value is inline. Readers take both
// forms (ReadKvForm); writers only write the two-table form.
#ifndef RAFTBADGER_STORAGE_KV_ROWS_H_
#define RAFTBADGER_STORAGE_KV_ROWS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/sqlite.h"

namespace rb::storage {

// Values up to this size stay in kv's row. A 4 KiB page's index cell holds about 1,000
// bytes before it spills to overflow pages; half of that keeps a row of the largest key
// the API takes plus an inline value on one page in most cases, and keeps B-tree fanout.
inline constexpr size_t kMaxInlineValueBytes = 512;

// Whether a database's kv table is the two-table form or the older inline-only one.
enum class KvForm { kInlineOnly, kSplit };

// The form of db's kv table (by whether kv_large exists).
absl::StatusOr<KvForm> ReadKvForm(SqliteDb* db);

// "SELECT key, <whole value>, mod_index, checksum FROM kv <rest>" for a table of the given
// form; `rest` is a WHERE / ORDER BY / LIMIT clause in terms of kv's columns.
std::string SelectKvRows(KvForm form, absl::string_view rest);

// Whether db's kv_large holds any row.
absl::StatusOr<bool> KvLargeHoldsRows(SqliteDb* db);

// Inserts or replaces key's row in db's split-form tables, placing the value by its size.
// crc is KvChecksum(key, value, mod_index). kv_large_may_hold_key false says that kv_large
// holds no value of this key (it is empty, say), which saves removing one when the new
// value is small: a probe of kv_large's index that cost about a microsecond a put.
absl::Status WriteKvRow(SqliteDb* db, absl::string_view key, absl::string_view value,
                        uint64_t mod_index, uint64_t crc, bool kv_large_may_hold_key);

// Deletes key's row from db's split-form tables; returns whether there was one.
absl::StatusOr<bool> DeleteKvRow(SqliteDb* db, absl::string_view key);

// Deletes every row from db's split-form tables.
absl::Status DeleteAllKvRows(SqliteDb* db);

}  // namespace rb::storage

#endif  // RAFTBADGER_STORAGE_KV_ROWS_H_
