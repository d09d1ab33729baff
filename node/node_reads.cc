// Node's read path: the barrier a read waits behind (a ReadIndex round, a lease, or
// nothing for a stale read), the read states the core hands back, and serving the reads
// whose index the state machine has reached. The rest of Node is in node.cc.
#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/mutation.h"
#include "node/node.h"

namespace rb::node {

void Node::Read(std::string key, ReadConsistency consistency, ReadCallback done) {
  absl::Status valid = ValidateKey(key);
  if (!valid.ok()) {
    done(valid);
    return;
  }
  ReadBarrier(consistency, [this, key = std::move(key), done = std::move(done)](absl::Status s) {
    if (!s.ok()) {
      done(s);
      return;
    }
    done(GetFromStore(key));
  });
}

uint64_t Node::ReadBarrier(ReadConsistency consistency, std::function<void(absl::Status)> ready) {
  if (!failure_.ok()) {
    ready(absl::UnavailableError(absl::StrCat("node ", id_, " has failed")));
    return 0;
  }
  if (consistency == ReadConsistency::kLocal) {
    // A write this node answered at commit (answer_writes_at_commit) may not be applied
    // yet: a stale read here waits for it, so that it shows what this node answered, as
    // without the option. Not while the disk is full, which holds the apply back: then
    // stale reads go on, as they do on a follower.
    const uint64_t answered = answered_at_commit_index_;
    if (answered <= store_->applied_index() || !disk_full_.ok()) {
      ready(absl::OkStatus());
      return 0;
    }
    if (pending_requests() >= options_.max_pending_requests) {
      ready(absl::ResourceExhaustedError("too many requests in flight on this node"));
      return 0;
    }
    const uint64_t token = ++next_read_id_;
    reads_by_index_.emplace(answered, PendingRead{std::move(ready), token});
    return token;
  }
  if (!disk_full_.ok()) {
    ready(ReadRoundRefusal());
    return 0;
  }
  if (pending_requests() >= options_.max_pending_requests) {
    ready(absl::ResourceExhaustedError("too many requests in flight on this node"));
    return 0;
  }
  if (consistency == ReadConsistency::kLease && HasLease()) {
    ++counters_.lease_reads;
    RenewLeaseSoon();
    // No other leader can exist, so nothing newer than our commit index is committed.
    const uint64_t index = raw_->raft().log().committed();
    if (store_->applied_index() >= index) {
      ready(absl::OkStatus());
      return 0;
    }
    const uint64_t token = ++next_read_id_;
    reads_by_index_.emplace(index, PendingRead{std::move(ready), token});
    return token;
  }
  if (absl::Status refused = ReadRoundRefusal(); !refused.ok()) {
    ready(std::move(refused));
    return 0;
  }
  return FileRoundRead(std::move(ready));
}

uint64_t Node::FileRoundRead(std::function<void(absl::Status)> ready) {
  const uint64_t token = ++next_read_id_;
  PendingRead read{std::move(ready), token};
  if (options_.clock_us) read.issued_us = options_.clock_us();
  read.term = raw_->raft().term();
  read.leader = is_leader();
  if (batch_depth_ > 0 && !batch_read_ctx_.empty() && batch_read_term_ == read.term &&
      batch_read_leader_ == read.leader &&
      (!RB_MUTANT(kReadJoinsSentRound) || reads_by_ctx_.count(batch_read_ctx_) > 0)) {
    // Linearizable still: the round's heartbeats (or, on a follower, its request to the
    // leader) leave only when the batch ends, after this read arrived; and what the round's
    // index may miss was committed in this batch and not yet answered, so it is no write
    // this read must see.
    ++counters_.reads_joined;
    reads_by_ctx_.emplace(batch_read_ctx_, std::move(read));
    return token;
  }
  if (options_.one_read_round_in_flight && ReadRoundOutstanding()) {
    ++counters_.reads_queued;
    if (RB_MUTANT(kReadJoinsRoundInFlight)) {
      reads_by_ctx_.emplace(round_in_flight_.ctx, std::move(read));
      return token;
    }
    // The round out now started before this read arrived: the next one starts after.
    next_read_round_.push_back(std::move(read));
    return token;
  }
  std::string ctx = ReadContext(token);
  const uint64_t term = read.term;
  const bool leader = read.leader;
  reads_by_ctx_.emplace(ctx, std::move(read));
  StartClientReadRound(std::move(ctx), term, leader);
  return token;
}

void Node::StartClientReadRound(std::string ctx, uint64_t term, bool leader) {
  if (batch_depth_ > 0) {
    // Later reads of this batch join it: its messages leave when the batch ends.
    batch_read_ctx_ = ctx;
    batch_read_term_ = term;
    batch_read_leader_ = leader;
  }
  if (options_.one_read_round_in_flight) {
    round_in_flight_ = ReadRound{ctx, term, leader, read_round_patience_ticks()};
  }
  StartReadRound(std::move(ctx));
}

absl::Status Node::ReadRoundRefusal() const {
  if (!disk_full_.ok()) {
    // Nothing leaves this node until its write goes through, so no read index can come.
    return absl::UnavailableError(absl::StrCat("node ", id_,
                                               " cannot confirm reads while its disk is full; "
                                               "retry elsewhere or read stale"));
  }
  if (!is_member()) {
    // Nothing is replicated to a non-member any more (or yet): a read index it got from
    // the leader would never be applied here.
    return NotAMemberError();
  }
  if (leader() == raft::kNone) {
    // The core would drop the read: say so now rather than leave the caller to time out.
    return absl::UnavailableError(absl::StrCat("node ", id_, " knows no leader; retry elsewhere"));
  }
  return absl::OkStatus();
}

int Node::read_round_patience_ticks() const {
  // A round needs a heartbeat's round trip (two messages more on a follower) and perhaps
  // a write on the leader: far less than two heartbeat intervals unless it was lost.
  return std::max(2, 2 * options_.raft.heartbeat_tick);
}

bool Node::ReadRoundOutstanding() {
  if (round_in_flight_.ctx.empty()) return false;
  if (round_in_flight_.term != raw_->raft().term() || round_in_flight_.leader != is_leader()) {
    round_in_flight_ = ReadRound{};
    return false;
  }
  if (round_in_flight_.patience_ticks == 0) {
    ++counters_.read_rounds_overdue;
    round_in_flight_ = ReadRound{};
    return false;
  }
  return true;
}

void Node::StartNextReadRound() {
  if (next_read_round_.empty() || !failure_.ok() || ReadRoundOutstanding()) return;
  std::vector<PendingRead> reads = std::move(next_read_round_);
  next_read_round_.clear();
  if (absl::Status refused = ReadRoundRefusal(); !refused.ok()) {
    for (PendingRead& read : reads) read.ready(refused);
    return;
  }
  // Sent from now, in this term and role: what a lease it confirms is counted from.
  const uint64_t now_us = options_.clock_us ? options_.clock_us() : 0;
  const uint64_t term = raw_->raft().term();
  std::string ctx = ReadContext(reads.front().token);
  for (PendingRead& read : reads) {
    read.issued_us = now_us;
    read.term = term;
    read.leader = is_leader();
    reads_by_ctx_.emplace(ctx, std::move(read));
  }
  StartClientReadRound(std::move(ctx), term, is_leader());
}

void Node::StartReadRound(std::string ctx) {
  ++counters_.read_rounds;
  if (hooks_.on_read_index) hooks_.on_read_index(ctx);
  raw_->ReadIndex(std::move(ctx));
  Pump();
}

uint64_t Node::lease_us() const {
  const raft::Config& rc = options_.raft;
  if (!options_.clock_us || options_.tick_us == 0 || !rc.check_quorum ||
      rc.read_only_option != raft::ReadOnlyOption::kSafe || rc.election_tick < 3) {
    return 0;
  }
  // Followers hold off rivals for at least (election_tick - 1) of their ticks after they
  // heard the heartbeat (the first tick may come at once); one more tick of margin for
  // this node's own tick phase. Their clocks may run fast by the drift bound, and ours slow.
  const uint64_t drift = options_.max_clock_drift_permille;
  RB_CHECK(drift < 1000, "max_clock_drift_permille must be below 1000");
  return static_cast<uint64_t>(rc.election_tick - 2) * options_.tick_us * (1000 - drift) /
         (1000 + drift);
}

bool Node::HasLease() const {
  if (lease_until_us_ == 0 || !is_leader() || !is_member()) return false;
  const raft::Raft& r = raw_->raft();
  if (r.term() != lease_term_ || r.term() == lease_void_term_) return false;
  if ((!RB_MUTANT(kLeaseDuringTransfer) && r.lead_transferee() != raft::kNone) ||
      !r.CommittedEntryInCurrentTerm()) {
    return false;
  }
  return options_.clock_us() < lease_until_us_;
}

void Node::RenewLease(const PendingRead& read) {
  const uint64_t length = lease_us();
  if (length == 0 || !read.leader || !is_leader()) return;
  const raft::Raft& r = raw_->raft();
  // The quorum acknowledged heartbeats sent after the request was made, in its term.
  if (r.term() != read.term || r.term() == lease_void_term_) return;
  if (lease_term_ != r.term()) lease_until_us_ = 0;
  lease_term_ = r.term();
  const uint64_t start_us = RB_MUTANT(kLeaseFromAck) ? options_.clock_us() : read.issued_us;
  if (start_us + length > lease_until_us_) {
    lease_until_us_ = start_us + length;
    ++counters_.lease_renewals;
  }
}

void Node::RenewLeaseSoon() {
  // Renew once half the lease is gone, so that a steady stream of lease reads never waits.
  if (lease_renewal_in_flight_ || options_.clock_us() + lease_us() / 2 < lease_until_us_) return;
  if (pending_requests() >= options_.max_pending_requests) return;
  lease_renewal_in_flight_ = true;
  const uint64_t token = ++next_read_id_;
  std::string ctx = ReadContext(token);
  PendingRead read{[this](absl::Status) { lease_renewal_in_flight_ = false; }, token,
                   options_.clock_us(), raw_->raft().term(), true};
  reads_by_ctx_.emplace(ctx, std::move(read));
  StartReadRound(std::move(ctx));
}

std::string Node::ReadContext(uint64_t token) const {
  // Unique across restarts: a counter alone starts again at 1, and a late answer to the
  // earlier run's read "3/1" completed the new run's "3/1" at an old read index (a stale
  // read; simulator seed 61000001002 --voters=1).
  return absl::StrCat(id_, "/", options_.incarnation, "/", token);
}

void Node::CancelRead(uint64_t token) {
  if (token == 0) return;
  const absl::Status gave_up = absl::DeadlineExceededError("the caller's deadline passed");
  // Found by token in either map, both bounded by max_pending_requests. (A read that joined
  // a round is filed under the context of the read that started it, not its own.)
  auto cancel_in = [&](auto& reads) {
    for (auto it = reads.begin(); it != reads.end(); ++it) {
      if (it->second.token != token) continue;
      PendingRead read = std::move(it->second);
      reads.erase(it);
      read.ready(gave_up);
      return true;
    }
    return false;
  };
  if (cancel_in(reads_by_ctx_) || cancel_in(reads_by_index_)) return;
  for (auto it = next_read_round_.begin(); it != next_read_round_.end(); ++it) {
    if (it->token != token) continue;
    PendingRead read = std::move(*it);
    next_read_round_.erase(it);
    read.ready(gave_up);
    return;
  }
}

void Node::HandleReadStates() {
  for (raft::ReadState& rs : ready_.read_states) {
    if (rs.request_ctx == round_in_flight_.ctx) round_in_flight_ = ReadRound{};
    auto [first, last] = reads_by_ctx_.equal_range(rs.request_ctx);
    for (auto it = first; it != last; ++it) {
      RenewLease(it->second);
      reads_by_index_.emplace(rs.index, std::move(it->second));
    }
    reads_by_ctx_.erase(first, last);
  }
}

void Node::ServeReads() {
  const uint64_t applied = store_->applied_index();
  while (!reads_by_index_.empty() && reads_by_index_.begin()->first <= applied) {
    PendingRead read = std::move(reads_by_index_.begin()->second);
    reads_by_index_.erase(reads_by_index_.begin());
    read.ready(absl::OkStatus());
  }
}

absl::StatusOr<std::optional<std::string>> Node::GetFromStore(absl::string_view key) {
  auto value = store_->Get(key);
  // A damaged disk: the caller gets the error, never other data, and the node stops, as it
  // does when the core meets the damage.
  if (!value.ok() && value.status().code() == absl::StatusCode::kDataLoss) Fail(value.status());
  return value;
}

}  // namespace rb::node
