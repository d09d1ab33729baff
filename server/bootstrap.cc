#include "server/bootstrap.h"

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/thread_name.h"
#include "raft/codec.h"
#include "server/identity.h"

namespace rb::server {
absl::Status BootstrapNewCluster(storage::Store* store, uint64_t id, const std::string& name,
                                 const std::string& address) {
  raft::ConfChange cc;
  cc.changes.push_back({raft::ConfChangeType::kAddNode, id});
  cc.context = MemberContext(name, address);
  raft::Entry first{/*term=*/1, /*index=*/1, raft::EntryType::kConfChange,
                    raft::EncodeConfChange(cc)};
  return store->Write([&](storage::WriteTxn* txn) -> absl::Status {
    absl::Status s = txn->AppendEntries(absl::MakeConstSpan(&first, 1));
    if (!s.ok()) return s;
    return txn->SetHardState(raft::HardState{/*term=*/1, raft::kNone, /*commit=*/1});
  });
}

bool CaughtUp(const raft::Progress& learner, uint64_t committed, uint64_t lag_entries) {
  // match > 0: it has answered at least once (a learner that never did has match 0, which
  // is within any lag of a young cluster's commit index).
  return learner.recent_active && learner.match > 0 && learner.match + lag_entries >= committed;
}

MembershipKeeper::MembershipKeeper(NodeHost* host, MembershipKeeperOptions options)
    : host_(host),
      options_(std::move(options)),
      seeded_(options_.seed_peers.empty()),
      thread_([this] { Run(); }) {}

MembershipKeeper::~MembershipKeeper() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void MembershipKeeper::Run() {
  SetThreadName("rb-membership");
  for (;;) {
    std::optional<Ask> ask;
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stop), options_.period)) return;
      ask = std::exchange(to_ask_, std::nullopt);
    }
    // Here, not on the loop: asking blocks until the leader answers.
    if (ask) AskLeaderToAdd(*ask);
    host_->Post([this](node::Node& n) { Step(n); });
  }
}

void MembershipKeeper::Step(node::Node& n) {
  if (n.is_leader()) {
    const raft::Raft& r = n.raw().raft();
    if (r.pending_conf_index() > r.log().applied()) return;  // one change at a time
    if (RecordOwnRow(n) || PromoteCaughtUpLearner(n)) return;
  } else if (n.leader() == raft::kNone || !options_.ask_leader_to_add) {
    return;  // seeding goes on only through a leader
  }
  if (seeded_.load()) return;
  const PeerSpec* next = nullptr;
  switch (NextSeedPeer(n, &next)) {
    case Seeding::kDone:
      MarkSeeded();
      return;
    case Seeding::kWaiting:
      return;
    case Seeding::kAdd:
      AddSeedPeer(n, *next);
      return;
  }
}

bool MembershipKeeper::PromoteCaughtUpLearner(node::Node& n) {
  const raft::Raft& r = n.raw().raft();
  for (const auto& [id, pr] : r.tracker().progress) {
    if (!pr.is_learner || !CaughtUp(pr, r.log().committed(), options_.promote_lag_entries)) {
      continue;
    }
    raft::ConfChange cc;
    cc.changes.push_back({raft::ConfChangeType::kAddNode, id});
    RB_LOG(INFO) << "promoting learner " << options_.name_of(id) << " to voter (it has index "
                 << pr.match << ", the commit index is " << r.log().committed() << ")";
    absl::Status s = n.ProposeConfChange(cc);
    if (!s.ok()) RB_LOG(WARNING) << "promoting learner " << options_.name_of(id) << ": " << s;
    return true;
  }
  return false;
}

void MembershipKeeper::MarkSeeded() {
  RB_LOG(INFO) << "every peer in RAFT_PEERS is a voter";
  seeded_.store(true);
  if (options_.on_seeded) options_.on_seeded();
}

bool MembershipKeeper::RecordOwnRow(node::Node& n) {
  if (own_row_checked_ || options_.self_context.empty() || !options_.read_member_row) {
    return false;
  }
  if (options_.read_member_row(n.id()) == options_.self_context) {
    own_row_checked_ = true;
    return false;
  }
  raft::ConfChange cc;
  cc.changes.push_back({raft::ConfChangeType::kAddNode, n.id()});  // a voter already
  cc.context = options_.self_context;
  RB_LOG(INFO) << "recording this node's address in the member directory";
  absl::Status s = n.ProposeConfChange(cc);
  if (!s.ok()) RB_LOG(WARNING) << "recording this node's address: " << s;
  return true;
}

MembershipKeeper::Seeding MembershipKeeper::NextSeedPeer(node::Node& n, const PeerSpec** next) {
  const raft::ProgressTracker& tracker = n.raw().raft().tracker();
  bool all_voters = true;
  for (const PeerSpec& peer : options_.seed_peers) {
    const uint64_t id = RaftIdForName(peer.name);
    auto it = tracker.progress.find(id);
    if (it != tracker.progress.end()) {
      all_voters = all_voters && !it->second.is_learner;
      continue;
    }
    // Someone removed it while the others were being added (say, a machine that never
    // came): adding it back would undo that, and leave seeding waiting for it for good.
    const absl::StatusOr<uint64_t> removed =
        options_.removed_at ? options_.removed_at(id) : absl::StatusOr<uint64_t>(0);
    if (!removed.ok()) {
      RB_LOG(WARNING) << "reading whether " << peer.name << " was removed: " << removed.status();
      return Seeding::kWaiting;  // neither added nor settled: asked again next period
    }
    if (*removed > 0) {
      if (!removed_logged_.insert(id).second) continue;
      RB_LOG(INFO) << "not adding " << peer.name << " from RAFT_PEERS: it was removed from the "
                   << "cluster at log index " << *removed;
      continue;
    }
    *next = &peer;
    return Seeding::kAdd;
  }
  return all_voters ? Seeding::kDone : Seeding::kWaiting;
}

void MembershipKeeper::AddSeedPeer(node::Node& n, const PeerSpec& next) {
  if (!n.is_leader()) {
    absl::MutexLock lock(&mu_);
    to_ask_ = Ask{next, n.leader()};
    return;
  }
  raft::ConfChange cc;
  cc.context = MemberContext(next.name, next.address);
  cc.changes.push_back({raft::ConfChangeType::kAddLearnerNode, RaftIdForName(next.name)});
  RB_LOG(INFO) << "adding " << next.name << " (" << next.address << ") as a learner";
  absl::Status s = n.ProposeConfChange(cc);
  if (!s.ok()) RB_LOG(WARNING) << "membership change for " << next.name << ": " << s;
}

void MembershipKeeper::AskLeaderToAdd(const Ask& ask) {
  const std::string leader = options_.name_of(ask.leader);
  RB_LOG(INFO) << "asking the leader, " << leader << ", to add " << ask.peer.name << " ("
               << ask.peer.address << ") from RAFT_PEERS as a learner: this node does not lead";
  const absl::StatusOr<uint64_t> removed = options_.ask_leader_to_add(ask.peer, ask.leader);
  if (!removed.ok()) {
    const std::string what = absl::StrCat("asking ", leader, " to add ", ask.peer.name, ": ",
                                          removed.status().ToString(), "; asking again later");
    // Another change pending, or leadership moving: expected now and then.
    if (absl::IsAborted(removed.status()) || absl::IsUnavailable(removed.status())) {
      RB_LOG(INFO) << what;
    } else {
      RB_LOG(WARNING) << what;
    }
  } else if (*removed > 0) {
    RB_LOG(INFO) << leader << " did not add " << ask.peer.name << ": it was removed from the "
                 << "cluster at log index " << *removed;
  } else {
    RB_LOG(INFO) << leader << " added " << ask.peer.name << " (or it was a member already)";
  }
}

}  // namespace rb::server
