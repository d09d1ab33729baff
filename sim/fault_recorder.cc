#include "sim/fault_recorder.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "base/logging.h"

namespace rb::sim::internal {
namespace {

size_t ChainIndex(FaultStep::Chain c) { return c == FaultStep::Chain::kNemesis ? 0 : 1; }

// Bounds a step's description: a step traces a few lines (a crash, a partition).
constexpr size_t kMaxDescriptionBytes = 400;

}  // namespace

FaultRecorder::FaultRecorder(std::array<raft::Rng*, kFaultStreams> streams,
                             std::vector<FaultStep> replay)
    : streams_(streams) {
  for (FaultStep& step : replay) replay_[ChainIndex(step.chain)].push_back(std::move(step));
}

void FaultRecorder::Begin(FaultStep::Chain chain, uint64_t now_us) {
  RB_CHECK(!active_, "a fault step inside another");
  active_ = true;
  step_ = FaultStep{};
  step_.chain = chain;
  step_.at_us = now_us;
  for (int s = 0; s < kFaultStreams; ++s) start_draws_[s] = streams_[s]->draws();
  cursor_ = 0;
  step_diverged_ = false;
  const size_t c = ChainIndex(chain);
  replaying_ = next_[c] < replay_[c].size() ? &replay_[c][next_[c]++] : nullptr;
  if (replaying_ == nullptr) return;
  if (replaying_->at_us != now_us) ++mismatches_;
  step_.dropped = replaying_->dropped;
}

uint64_t FaultRecorder::SkipDropped() {
  RB_CHECK(dropped(), "SkipDropped outside a dropped step");
  RB_CHECK(!replaying_->decisions.empty(), "a recorded step without its next delay");
  for (int s = 0; s < kFaultStreams; ++s) streams_[s]->Skip(replaying_->stream_draws[s]);
  step_.decisions = replaying_->decisions;
  step_.description = replaying_->description;
  return replaying_->decisions.back().value;
}

void FaultRecorder::End(std::vector<FaultStep>* out) {
  RB_CHECK(active_, "End without Begin");
  for (int s = 0; s < kFaultStreams; ++s) {
    uint64_t drawn = streams_[s]->draws() - start_draws_[s];
    if (replaying_ != nullptr && drawn != replaying_->stream_draws[s]) {
      ++mismatches_;
      // Drew less than the record (a decision that no longer comes up): catch up, so the
      // steps after this one still line up.
      if (drawn < replaying_->stream_draws[s]) {
        streams_[s]->Skip(replaying_->stream_draws[s] - drawn);
        drawn = replaying_->stream_draws[s];
      }
    }
    step_.stream_draws[s] = drawn;
  }
  if (replaying_ != nullptr && !step_.dropped && !step_diverged_ &&
      cursor_ != replaying_->decisions.size()) {
    ++mismatches_;
  }
  out->push_back(std::move(step_));
  active_ = false;
  replaying_ = nullptr;
}

void FaultRecorder::Describe(absl::string_view text) {
  if (!active_ || step_.description.size() >= kMaxDescriptionBytes) return;
  // One line: schedules write it as a comment, the shrinker's children as a line.
  absl::StrAppend(&step_.description, step_.description.empty() ? "" : "; ",
                  absl::StrReplaceAll(text, {{"\n", " "}}));
}

const FaultDecision* FaultRecorder::Replayed(FaultStream s,
                                             bool (*fits)(uint64_t, uint64_t, uint64_t), uint64_t a,
                                             uint64_t b) {
  if (replaying_ == nullptr || step_diverged_) return nullptr;
  if (cursor_ < replaying_->decisions.size()) {
    const FaultDecision& d = replaying_->decisions[cursor_++];
    if (d.stream == s && fits(d.value, a, b)) {
      streams_[static_cast<int>(s)]->Skip(d.draws);
      step_.decisions.push_back(d);
      return &d;
    }
  }
  // The code asks for something the record does not hold: draw from here on.
  ++mismatches_;
  step_diverged_ = true;
  return nullptr;
}

void FaultRecorder::Record(FaultStream s, uint64_t value, uint64_t draws_before) {
  step_.decisions.push_back(
      FaultDecision{value, streams_[static_cast<int>(s)]->draws() - draws_before, s});
}

uint64_t FaultRecorder::Decide(FaultStream s, bool (*fits)(uint64_t, uint64_t, uint64_t),
                               uint64_t a, uint64_t b,
                               uint64_t (*draw)(raft::Rng&, uint64_t, uint64_t)) {
  raft::Rng& rng = *streams_[static_cast<int>(s)];
  if (!active_) return draw(rng, a, b);
  if (const FaultDecision* d = Replayed(s, fits, a, b)) return d->value;
  const uint64_t before = rng.draws();
  const uint64_t v = draw(rng, a, b);
  Record(s, v, before);
  return v;
}

uint64_t FaultRecorder::Uniform(FaultStream s, uint64_t bound) {
  return Decide(
      s, [](uint64_t v, uint64_t bound, uint64_t) { return v < bound; }, bound, 0,
      [](raft::Rng& r, uint64_t bound, uint64_t) { return r.Uniform(bound); });
}

uint64_t FaultRecorder::Range(FaultStream s, uint64_t lo, uint64_t hi) {
  return Decide(
      s, [](uint64_t v, uint64_t lo, uint64_t hi) { return v >= lo && v <= hi; }, lo, hi,
      [](raft::Rng& r, uint64_t lo, uint64_t hi) { return r.Range(lo, hi); });
}

bool FaultRecorder::Chance(FaultStream s, uint64_t numerator, uint64_t denominator) {
  // Recorded as 0 or 1.
  return Decide(
             s, [](uint64_t v, uint64_t, uint64_t) { return v <= 1; }, numerator, denominator,
             [](raft::Rng& r, uint64_t num, uint64_t den) -> uint64_t {
               return r.Chance(num, den) ? 1 : 0;
             }) == 1;
}

}  // namespace rb::sim::internal
