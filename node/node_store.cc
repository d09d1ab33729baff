#include "node/node_store.h"

#include <cstdint>

#include "base/logging.h"
#include "xxhash.h"

namespace rb::node {

struct StateDigestBuilder::State {
  State() : xxh(XXH3_createState()) { RB_CHECK(xxh != nullptr, "out of memory"); }
  ~State() { XXH3_freeState(xxh); }
  XXH3_state_t* xxh;
};

StateDigestBuilder::StateDigestBuilder() : state_(std::make_unique<State>()) {
  XXH3_64bits_reset(state_->xxh);
}

StateDigestBuilder::~StateDigestBuilder() = default;

void StateDigestBuilder::AddRow(absl::string_view key, absl::string_view value) {
  // Lengths first, so that ("ab", "c") and ("a", "bc") hash apart.
  const uint64_t lengths[2] = {key.size(), value.size()};
  XXH3_64bits_update(state_->xxh, lengths, sizeof(lengths));
  XXH3_64bits_update(state_->xxh, key.data(), key.size());
  XXH3_64bits_update(state_->xxh, value.data(), value.size());
  ++rows_;
}

StateDigest StateDigestBuilder::Finish(uint64_t applied_index, const raft::ConfState& conf_state) {
  StateDigest d;
  d.applied_index = applied_index;
  d.rows = rows_;
  d.rows_hash = XXH3_64bits_digest(state_->xxh);
  d.conf_state = conf_state;
  return d;
}

}  // namespace rb::node
