// The names of the store's meta rows (its table `meta`: name -> serialized proto), shared
// by the two halves of Store: store_open.cc creates, checks and loads a database,
// store.cc reads and writes it. Internal to //storage:store.
#ifndef RAFTBADGER_STORAGE_STORE_META_ROWS_H_
#define RAFTBADGER_STORAGE_STORE_META_ROWS_H_

namespace rb::storage::meta_rows {

inline constexpr char kHardState[] = "hard_state";
inline constexpr char kConfState[] = "conf_state";  // bootstrap configuration
inline constexpr char kSnapshot[] =
    "snapshot";  // latest snapshot: raftpb.Snapshot, data=descriptor
inline constexpr char kLogStart[] =
    "log_start";                               // dummy entry: raftpb.SnapshotMetadata{index, term}
inline constexpr char kApplied[] = "applied";  // raftpb.SnapshotMetadata{index, conf_state}

}  // namespace rb::storage::meta_rows

#endif  // RAFTBADGER_STORAGE_STORE_META_ROWS_H_
