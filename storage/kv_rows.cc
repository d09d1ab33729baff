#include "storage/kv_rows.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace rb::storage {

absl::StatusOr<KvForm> ReadKvForm(SqliteDb* db) {
  ASSIGN_OR_RETURN(int64_t tables, db->QueryInt64("SELECT count(*) FROM sqlite_master "
                                                  "WHERE type = 'table' AND name = 'kv_large'"));
  return tables == 0 ? KvForm::kInlineOnly : KvForm::kSplit;
}

std::string SelectKvRows(KvForm form, absl::string_view rest) {
  // CASE evaluates the subquery only for the rows that need it. A kv_large row that is
  // missing reads as NULL, an empty value, which fails the row's checksum.
  constexpr absl::string_view kWholeValue =
      "CASE WHEN kv.large THEN (SELECT kv_large.value FROM kv_large WHERE kv_large.key = kv.key) "
      "ELSE kv.value END";
  return absl::StrCat("SELECT kv.key, ", form == KvForm::kSplit ? kWholeValue : "kv.value",
                      ", kv.mod_index, kv.checksum FROM kv ", rest);
}

absl::StatusOr<bool> KvLargeHoldsRows(SqliteDb* db) {
  ASSIGN_OR_RETURN(int64_t any, db->QueryInt64("SELECT EXISTS (SELECT 1 FROM kv_large)"));
  return any != 0;
}

absl::Status WriteKvRow(SqliteDb* db, absl::string_view key, absl::string_view value,
                        uint64_t mod_index, uint64_t crc, bool kv_large_may_hold_key) {
  // Upserts, not INSERT OR REPLACE: a key rewritten with a value of the same size is then
  // overwritten where it lies, overflow pages included, instead of deleted and inserted
  // again (3 to 10 times less CPU per put of 4 and 64 KiB, bench/storage_bench).
  const bool large = value.size() > kMaxInlineValueBytes;
  if (large) {
    ASSIGN_OR_RETURN(Statement * st,
                     db->Prepare("INSERT INTO kv_large(key, value) VALUES(?1,?2) "
                                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
    st->Reset().BindBlob(1, key).BindBlob(2, value);
    RETURN_IF_ERROR(st->Run());
  } else if (kv_large_may_hold_key) {
    // The key's value may have been large before.
    ASSIGN_OR_RETURN(Statement * st, db->Prepare("DELETE FROM kv_large WHERE key = ?1"));
    st->Reset().BindBlob(1, key);
    RETURN_IF_ERROR(st->Run());
  }
  ASSIGN_OR_RETURN(Statement * st,
                   db->Prepare("INSERT INTO kv(key, value, mod_index, checksum, large) "
                               "VALUES(?1,?2,?3,?4,?5) ON CONFLICT(key) DO UPDATE SET "
                               "value = excluded.value, mod_index = excluded.mod_index, "
                               "checksum = excluded.checksum, large = excluded.large"));
  st->Reset()
      .BindBlob(1, key)
      .BindBlob(2, large ? absl::string_view() : value)
      .BindInt64(3, static_cast<int64_t>(mod_index))
      .BindInt64(4, static_cast<int64_t>(crc))
      .BindInt64(5, large ? 1 : 0);
  return st->Run();
}

absl::StatusOr<bool> DeleteKvRow(SqliteDb* db, absl::string_view key) {
  ASSIGN_OR_RETURN(Statement * large, db->Prepare("DELETE FROM kv_large WHERE key = ?1"));
  large->Reset().BindBlob(1, key);
  RETURN_IF_ERROR(large->Run());
  ASSIGN_OR_RETURN(Statement * st, db->Prepare("DELETE FROM kv WHERE key = ?1"));
  st->Reset().BindBlob(1, key);
  RETURN_IF_ERROR(st->Run());
  return sqlite3_changes(db->handle()) > 0;
}

absl::Status DeleteAllKvRows(SqliteDb* db) {
  return db->Exec("DELETE FROM kv; DELETE FROM kv_large;");
}

}  // namespace rb::storage
