#include "server/bootstrap.h"

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "raft/codec.h"
#include "server/identity.h"

namespace rb::server {
namespace {

// A learner this close to the commit index is caught up enough to vote.
constexpr uint64_t kPromoteWithinEntries = 10;

}  // namespace

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

PeerAdder::PeerAdder(NodeHost* host, std::vector<PeerSpec> peers, absl::Duration period)
    : host_(host), peers_(std::move(peers)), period_(period), thread_([this] { Run(); }) {}

PeerAdder::~PeerAdder() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void PeerAdder::Run() {
  while (!done_.load()) {
    absl::MutexLock lock(&mu_);
    auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stop), period_)) return;
    host_->Post([this](node::Node& n) { Step(n); });
  }
}

void PeerAdder::Step(node::Node& n) {
  if (!n.is_leader()) return;
  const raft::Raft& r = n.raw().raft();
  if (r.pending_conf_index() > r.log().applied()) return;  // one change at a time
  const raft::ProgressTracker& tracker = r.tracker();
  for (const PeerSpec& peer : peers_) {
    const uint64_t id = RaftIdForName(peer.name);
    raft::ConfChange cc;
    cc.context = MemberContext(peer.name, peer.address);
    auto it = tracker.progress.find(id);
    if (it == tracker.progress.end()) {
      cc.changes.push_back({raft::ConfChangeType::kAddLearnerNode, id});
      RB_LOG(INFO) << "adding " << peer.name << " (" << peer.address << ") as a learner";
    } else if (it->second.is_learner) {
      if (it->second.match + kPromoteWithinEntries < r.log().committed()) return;  // catching up
      cc.changes.push_back({raft::ConfChangeType::kAddNode, id});
      RB_LOG(INFO) << "promoting " << peer.name << " to voter (it has index " << it->second.match
                   << ")";
    } else {
      continue;  // a voter already
    }
    absl::Status s = n.ProposeConfChange(cc);
    if (!s.ok()) RB_LOG(WARNING) << "membership change for " << peer.name << ": " << s;
    return;
  }
  if (!done_.load()) RB_LOG(INFO) << "every peer in RAFT_PEERS is a voter";
  done_.store(true);
}

}  // namespace rb::server
