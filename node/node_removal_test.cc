// Removed nodes over the test network: what a removed node refuses, how members treat its
// messages, and how a node that missed its removal is told of it and weighs the word.
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "node/member_directory.h"
#include "node/null_transport.h"
#include "node/test_network.h"
#include "raft/codec.h"

namespace rb::node {
namespace {

namespace kvpb = raftbadger::kvpb;

// Found by the simulator (seed 9400003482 --voters=1): a removed node kept naming the
// leader it last followed, itself removed since; clients sent there looped between removed
// nodes. A node outside its configuration names no leader and refuses what it cannot serve.
TEST(NodeTest, RemovedNodeNamesNoLeaderAndRefusesRequests) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  raft::ConfChange remove3;
  remove3.changes.push_back({raft::ConfChangeType::kRemoveNode, 3});
  ASSERT_TRUE(net.node(1).ProposeConfChange(remove3).ok());
  net.Settle();
  ASSERT_FALSE(net.node(3).is_member());
  ASSERT_EQ(net.node(3).raw().raft().lead(), 1u) << "the core still remembers its last leader";
  EXPECT_EQ(net.node(3).leader(), raft::kNone);
  absl::Status write, read;
  net.node(3).Write(Put(0, 1, "k", "v"), [&](auto r) { write = r.status(); });
  net.node(3).Read("k", ReadConsistency::kLinearizable, [&](auto r) { read = r.status(); });
  for (const absl::Status& s : {write, read}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_NE(s.message().find("not a member"), std::string::npos) << s;
  }
  EXPECT_EQ(net.node(3).pending_requests(), 0u);
  EXPECT_TRUE(net.node(2).is_member());
  EXPECT_EQ(net.node(2).leader(), 1u);
}

// A removed node that keeps campaigning (it missed its removal) is ignored and counted, as
// are its answers; once added again, it is heard again.
TEST(NodeTest, CampaignsOfARemovedNodeAreIgnoredUntilItIsAddedAgain) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  raft::ConfChange cc;
  cc.changes.push_back({raft::ConfChangeType::kRemoveNode, 3});
  ASSERT_TRUE(net.node(1).ProposeConfChange(cc).ok());
  net.Settle();
  ASSERT_FALSE(net.node(2).raw().raft().tracker().progress.count(3));
  auto campaign = [&](uint64_t from) {
    raft::Message m;
    m.type = raft::MessageType::kPreVote;
    m.from = from;
    m.to = 2;
    m.term = net.node(2).raw().raft().term() + 1;
    m.log_term = 1;
    m.index = 1;
    net.node(2).Receive(m);
  };
  campaign(3);
  campaign(3);
  EXPECT_EQ(net.node(2).counters().removed_member_messages, 2u);
  raft::Message answer;
  answer.type = raft::MessageType::kAppResp;
  answer.from = 3;
  answer.to = 1;
  answer.term = net.node(1).raw().raft().term() + 5;  // would depose the leader if heard
  answer.index = 1;
  // (The leader may have ignored some of node 3's answers already, as it learned of the
  // removal.)
  const uint64_t before = net.node(1).counters().removed_member_messages;
  net.node(1).Receive(answer);
  EXPECT_EQ(net.node(1).counters().removed_member_messages, before + 1);
  EXPECT_TRUE(net.node(1).is_leader());
  net.drop = [](const raft::Message& m) { return m.to == 9; };
  campaign(9);  // never a member: not tombstoned, so left to the core
  net.Settle();
  EXPECT_EQ(net.node(2).counters().removed_member_messages, 2u);

  // A campaign whose log holds all of node 2's is left to the core: the candidate may have
  // been added again in entries node 2 has yet to apply.
  {
    raft::Message m;
    m.type = raft::MessageType::kPreVote;
    m.from = 3;
    m.to = 2;
    m.term = net.node(2).raw().raft().term() + 1;
    m.index = net.node(2).raw().raft().log().LastIndex();
    m.log_term = net.node(2).raw().raft().term();
    net.node(2).Receive(m);
    EXPECT_EQ(net.node(2).counters().removed_member_messages, 2u);
  }

  cc.changes[0].type = raft::ConfChangeType::kAddLearnerNode;
  ASSERT_TRUE(net.node(1).ProposeConfChange(cc).ok());
  net.Settle();
  ASSERT_TRUE(net.node(2).raw().raft().tracker().progress.count(3));
  campaign(3);
  EXPECT_EQ(net.node(2).counters().removed_member_messages, 2u);
}

// A node cut off while it was removed never gets the entry that removes it: the leader
// stops replicating to it once the removal is applied. When it campaigns, the members that
// drop its messages tell it the index of its removal, and it can see that its log never
// reached that index (a node that holds the index has applied its removal, or the later
// entry that added it again).
TEST(NodeTest, ANodeThatMissedItsRemovalIsToldOfIt) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  net.drop = [](const raft::Message& m) { return m.to == 3 || m.from == 3; };
  raft::ConfChange cc;
  cc.changes.push_back({raft::ConfChangeType::kRemoveNode, 3});
  ASSERT_TRUE(net.node(1).ProposeConfChange(cc).ok());
  net.Settle();
  ASSERT_FALSE(net.node(2).raw().raft().tracker().progress.count(3));
  const uint64_t removed_at = *RemovedAt(net.store(2), 3);
  ASSERT_GT(removed_at, 0u);
  const uint64_t last = net.node(3).raw().raft().log().LastIndex();
  ASSERT_LT(last, removed_at);
  EXPECT_TRUE(net.tells.empty());

  // It campaigns; the members hear it now, and it hears nothing back.
  net.drop = [](const raft::Message& m) { return m.to == 3; };
  net.node(3).Campaign();
  net.Settle();
  const std::string told = absl::StrCat(" -> 3: ", removed_at);
  EXPECT_EQ(net.tells, (std::vector<std::string>{"1" + told, "2" + told}));
  EXPECT_TRUE(net.node(3).MissedItsRemovalAt(removed_at));
  EXPECT_FALSE(net.node(3).MissedItsRemovalAt(last)) << "its log has that index";
  EXPECT_FALSE(net.node(2).MissedItsRemovalAt(removed_at)) << "a member that has the entry";
}

// A word of removal is weighed for an election timeout of the node's own ticks before it
// is believed (Node::HearRemoval). Removed for good, the node still misses its removal then;
// added again meanwhile, it hears from its leader in that time (and receives the change
// that added it), so the word, from a member that lagged behind that change, is dropped.
TEST(NodeTest, AWordOfRemovalIsBelievedOnlyIfItStillHoldsAnElectionTimeoutLater) {
  const int election_ticks = NodeOptions{}.raft.election_tick;
  auto remove_node3_cut_off = [](Network* net) {
    EXPECT_EQ(net->ElectLeader(1), 1u);
    net->drop = [](const raft::Message& m) { return m.to == 3 || m.from == 3; };
    raft::ConfChange cc;
    cc.changes.push_back({raft::ConfChangeType::kRemoveNode, 3});
    EXPECT_TRUE(net->node(1).ProposeConfChange(cc).ok());
    net->Settle();
    return *RemovedAt(net->store(2), 3);
  };

  Network removed(3);
  const uint64_t removed_at = remove_node3_cut_off(&removed);
  ASSERT_GT(removed_at, 0u);
  removed.node(3).HearRemoval(removed_at);
  for (int i = 1; i < election_ticks; ++i) removed.node(3).Tick();
  EXPECT_EQ(removed.node(3).removal_believed_at(), 0u) << "still weighing it";
  removed.node(3).Tick();
  EXPECT_EQ(removed.node(3).removal_believed_at(), removed_at);
  removed.node(3).HearRemoval(removed_at + 1);
  EXPECT_EQ(removed.node(3).removal_believed_at(), removed_at) << "believed once, for good";

  Network readded(3);
  ASSERT_EQ(remove_node3_cut_off(&readded), removed_at);
  raft::ConfChange cc;
  cc.changes.push_back({raft::ConfChangeType::kAddLearnerNode, 3});
  ASSERT_TRUE(readded.node(1).ProposeConfChange(cc).ok());
  readded.Settle();
  ASSERT_TRUE(readded.node(2).raw().raft().tracker().progress.count(3));
  readded.node(3).HearRemoval(removed_at);  // from a member yet to apply the re-addition
  ASSERT_TRUE(readded.node(3).MissedItsRemovalAt(removed_at)) << "it cannot tell yet";
  readded.drop = nullptr;
  for (int i = 0; i < election_ticks; ++i) {
    readded.node(1).Tick();
    readded.node(3).Tick();
    readded.Settle();
  }
  EXPECT_EQ(readded.node(3).removal_believed_at(), 0u);
  EXPECT_TRUE(readded.node(3).is_member());
  EXPECT_FALSE(readded.node(3).MissedItsRemovalAt(removed_at));

  // Added again, and its leader's heartbeats reach it while the appends that would carry
  // the change do not (yet): hearing from a leader of its term is enough to drop the word.
  Network slow(3);
  ASSERT_EQ(remove_node3_cut_off(&slow), removed_at);
  ASSERT_TRUE(slow.node(1).ProposeConfChange(cc).ok());
  slow.Settle();
  slow.node(3).HearRemoval(removed_at);
  slow.drop = [](const raft::Message& m) {
    return (m.to == 3 && m.type != raft::MessageType::kHeartbeat) || m.from == 3;
  };
  for (int i = 0; i < election_ticks; ++i) {
    slow.node(1).Tick();
    slow.node(3).Tick();
    slow.Settle();
  }
  EXPECT_TRUE(slow.node(3).MissedItsRemovalAt(removed_at)) << "the change has not reached it";
  EXPECT_EQ(slow.node(3).removal_believed_at(), 0u);
}

// A node that got the entry removing it, but never heard it was committed (the leader
// applied the removal and stopped replicating to it first), believes the tell as well:
// its own entry at that index removes it too. An uncommitted entry that does not, it
// does not.
TEST(NodeTest, ANodeThatHoldsItsRemovalUncommittedBelievesTheTell) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  const uint64_t removal = net.node(1).raw().raft().log().LastIndex() + 1;
  // Node 3 gets the removal's append (the commit index it carries is older), and nothing
  // after it; the leader never hears from it.
  net.drop = [removal](const raft::Message& m) {
    return m.from == 3 || (m.to == 3 && m.commit >= removal);
  };
  raft::ConfChange cc;
  cc.changes.push_back({raft::ConfChangeType::kRemoveNode, 3});
  ASSERT_TRUE(net.node(1).ProposeConfChange(cc).ok());
  net.Settle();
  ASSERT_EQ(*RemovedAt(net.store(2), 3), removal);
  const raft::RaftLog& log = net.node(3).raw().raft().log();
  ASSERT_GE(log.LastIndex(), removal);
  ASSERT_LT(log.committed(), removal);
  EXPECT_TRUE(net.node(3).MissedItsRemovalAt(removal));
  EXPECT_FALSE(net.node(3).MissedItsRemovalAt(removal - 1)) << "an entry it applied";

  // An uncommitted entry of its own that is not its removal: the tell is not believed.
  Network other(3);
  ASSERT_EQ(other.ElectLeader(1), 1u);
  const uint64_t put = other.node(1).raw().raft().log().LastIndex() + 1;
  other.drop = [put](const raft::Message& m) {
    return m.from == 3 || (m.to == 3 && m.commit >= put);
  };
  other.node(1).Write(Put(0, 0, "k", "v"), [](auto) {});
  other.Settle();
  ASSERT_GE(other.node(3).raw().raft().log().LastIndex(), put);
  ASSERT_LT(other.node(3).raw().raft().log().committed(), put);
  EXPECT_FALSE(other.node(3).MissedItsRemovalAt(put));
}

// What a node's own log says against a tell of its removal, over a log set up by hand:
// entries it holds but never heard were committed.
TEST(NodeTest, ATellOfRemovalIsBelievedOnlyWhereTheLogCannotSayOtherwise) {
  raft::ConfState three;
  three.voters = {1, 2, 3};
  NullTransport nowhere;
  auto conf = [](raft::ConfChangeType type, uint64_t index) {
    raft::ConfChange cc;
    cc.changes.push_back({type, 3});
    return raft::Entry{1, index, raft::EntryType::kConfChange, raft::EncodeConfChange(cc)};
  };
  auto node3_over = [&](MemoryNodeStore* store, std::vector<raft::Entry> entries) {
    raft::Ready rd;
    rd.entries = std::move(entries);
    rd.hard_state = raft::HardState{1, 0, 1};  // only entry 1 known committed
    bool persisted = false;
    store->Persist(rd, nullptr, nullptr, [&](absl::Status s) { persisted = s.ok(); });
    EXPECT_TRUE(persisted);
    NodeOptions options;
    options.raft.id = 3;
    return *Node::Create(options, store, &nowhere);
  };
  const raft::Entry first{1, 1, raft::EntryType::kNormal, ""};
  const raft::Entry other{1, 3, raft::EntryType::kNormal, ""};

  MemoryNodeStore removed_only(three);
  auto node = node3_over(&removed_only, {first, conf(raft::ConfChangeType::kRemoveNode, 2), other});
  EXPECT_FALSE(node->MissedItsRemovalAt(1)) << "known committed: it would have applied it";
  EXPECT_TRUE(node->MissedItsRemovalAt(2)) << "its own entry there removes it";
  EXPECT_FALSE(node->MissedItsRemovalAt(3)) << "its own entry there is something else";
  EXPECT_TRUE(node->MissedItsRemovalAt(4)) << "beyond its log";

  MemoryNodeStore readded(three);
  node = node3_over(&readded, {first, conf(raft::ConfChangeType::kRemoveNode, 2), other,
                               conf(raft::ConfChangeType::kAddLearnerNode, 4)});
  EXPECT_FALSE(node->MissedItsRemovalAt(2)) << "an entry after adds it again";
  EXPECT_TRUE(node->MissedItsRemovalAt(5));
}

}  // namespace
}  // namespace rb::node
