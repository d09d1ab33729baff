// Node's read path (node_reads.cc) over the test network: ReadIndex rounds, rounds shared
// by a batch's reads, leases, and read contexts across restarts.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "node/test_network.h"

namespace rb::node {
namespace {

namespace kvpb = raftbadger::kvpb;

TEST(NodeTest, LeaseReadsNeedNoRoundTripUntilTheLeaseEnds) {
  uint64_t now_us = 1'000'000;
  Network net(3, /*async_disk=*/false, &now_us);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  Node& leader = net.node(1);
  // 10 ticks of 100 ms, less 2 ticks, less the drift margins: about 0.65 s.
  EXPECT_GT(leader.lease_us(), 600'000u);
  EXPECT_LT(leader.lease_us(), 800'000u);
  // No lease yet: the first lease read is a ReadIndex round, which takes one.
  bool done = false;
  leader.ReadBarrier(ReadConsistency::kLease, [&](absl::Status s) { done = s.ok(); });
  net.Settle();
  ASSERT_TRUE(done);
  ASSERT_TRUE(leader.HasLease());
  // Cut off from everyone: lease reads are still answered at once, linearizable ones wait.
  net.drop = [](const raft::Message&) { return true; };
  now_us += leader.lease_us() / 3;
  done = false;
  leader.ReadBarrier(ReadConsistency::kLease, [&](absl::Status s) { done = s.ok(); });
  EXPECT_TRUE(done);
  EXPECT_EQ(leader.counters().lease_reads, 1u);
  bool linearizable = false;
  leader.ReadBarrier(ReadConsistency::kLinearizable, [&](absl::Status) { linearizable = true; });
  net.Settle();
  EXPECT_FALSE(linearizable);
  // Past the lease (measured from when its confirming round began): no more.
  now_us += leader.lease_us();
  EXPECT_FALSE(leader.HasLease());
  done = false;
  leader.ReadBarrier(ReadConsistency::kLease, [&](absl::Status s) { done = s.ok(); });
  net.Settle();
  EXPECT_FALSE(done);
}

TEST(NodeTest, ALeaderThatHandsOverTrustsNoLeaseForTheRestOfItsTerm) {
  uint64_t now_us = 1'000'000;
  Network net(3, /*async_disk=*/false, &now_us);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  bool done = false;
  net.node(1).ReadBarrier(ReadConsistency::kLinearizable, [&](absl::Status s) { done = s.ok(); });
  net.Settle();
  ASSERT_TRUE(net.node(1).HasLease());
  // Every TimeoutNow (the leader repeats it) is lost: node 1 stays leader, but one could
  // still arrive later, and its target would campaign ignoring every follower's lease.
  net.drop = [](const raft::Message& m) { return m.type == raft::MessageType::kTimeoutNow; };
  net.node(1).TransferLeader(2);
  net.Settle();
  EXPECT_FALSE(net.node(1).HasLease());
  for (int i = 0; i < 30; ++i) {  // the transfer times out; heartbeats keep the quorum
    net.node(1).Tick();
    net.Settle();
  }
  net.drop = nullptr;
  ASSERT_TRUE(net.node(1).is_leader());
  done = false;
  net.node(1).ReadBarrier(ReadConsistency::kLinearizable, [&](absl::Status s) { done = s.ok(); });
  net.Settle();
  EXPECT_TRUE(done);
  EXPECT_FALSE(net.node(1).HasLease());
}

int CountOf(const std::deque<raft::Message>& queue, raft::MessageType type, uint64_t to) {
  int n = 0;
  for (const raft::Message& m : queue) n += m.type == type && m.to == to;
  return n;
}

// Node 1 leads, and "k" holds "v" on every node.
void ElectAndWriteK(Network& net) {
  ASSERT_EQ(net.ElectLeader(1), 1u);
  bool written = false;
  net.node(1).Write(Put(0, 1, "k", "v"), [&](auto r) { written = r.ok(); });
  net.Settle();
  ASSERT_TRUE(written);
}

TEST(NodeTest, LinearizableReadsInOneBatchShareOneReadIndexRound) {
  Network net(3);
  ElectAndWriteK(net);
  if (HasFatalFailure()) return;
  std::vector<std::string> values;
  auto read = [&](uint64_t id) {
    net.node(id).Read("k", ReadConsistency::kLinearizable, [&](auto r) {
      values.push_back(r.ok() && r->has_value() ? **r : r.status().ToString());
    });
  };
  // Alone, each read is a round of its own: a heartbeat to each follower.
  for (int i = 0; i < 3; ++i) read(1);
  EXPECT_EQ(CountOf(net.queue(), raft::MessageType::kHeartbeat, 2), 3);
  net.Settle();
  EXPECT_EQ(net.node(1).counters().read_rounds, 3u);
  // In one batch, the first read starts the round and the others join it.
  net.node(1).BeginBatch();
  for (int i = 0; i < 5; ++i) read(1);
  net.node(1).EndBatch();
  EXPECT_EQ(CountOf(net.queue(), raft::MessageType::kHeartbeat, 2), 1);
  EXPECT_EQ(CountOf(net.queue(), raft::MessageType::kHeartbeat, 3), 1);
  EXPECT_EQ(net.node(1).counters().read_rounds, 4u);
  EXPECT_EQ(net.node(1).counters().reads_joined, 4u);
  net.Settle();
  // On a follower, one request to the leader for the batch.
  net.node(3).BeginBatch();
  for (int i = 0; i < 4; ++i) read(3);
  net.node(3).EndBatch();
  EXPECT_EQ(CountOf(net.queue(), raft::MessageType::kReadIndex, 1), 1);
  net.Settle();
  EXPECT_EQ(net.node(3).counters().reads_joined, 3u);
  EXPECT_EQ(values, std::vector<std::string>(12, "v"));
  EXPECT_EQ(net.node(1).pending_requests() + net.node(3).pending_requests(), 0u);
}

TEST(NodeTest, AReadThatJoinedARoundIsCancelledAloneAndTheRoundServesTheRest) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  std::vector<absl::Status> answers(3, absl::UnknownError("not answered"));
  std::vector<uint64_t> tokens;
  net.node(1).BeginBatch();
  for (size_t i = 0; i < answers.size(); ++i) {
    tokens.push_back(net.node(1).ReadBarrier(ReadConsistency::kLinearizable,
                                             [&answers, i](absl::Status s) { answers[i] = s; }));
  }
  net.node(1).EndBatch();
  ASSERT_EQ(net.node(1).counters().reads_joined, 2u);
  net.node(1).CancelRead(tokens[1]);  // joined the round
  net.node(1).CancelRead(tokens[0]);  // started it
  EXPECT_EQ(answers[0].code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(answers[1].code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(answers[2].code(), absl::StatusCode::kUnknown);
  net.Settle();
  EXPECT_TRUE(answers[2].ok()) << answers[2];
  EXPECT_EQ(net.node(1).pending_requests(), 0u);
}

void OneRoundInFlight(NodeOptions* o) { o->one_read_round_in_flight = true; }

// Takes the queued messages of this type to this node out of the network.
std::vector<raft::Message> TakeAll(Network& net, raft::MessageType type, uint64_t to) {
  std::vector<raft::Message> taken;
  for (auto it = net.queue().begin(); it != net.queue().end();) {
    if (it->type == type && it->to == to) {
      taken.push_back(std::move(*it));
      it = net.queue().erase(it);
    } else {
      ++it;
    }
  }
  return taken;
}

TEST(NodeTest, ReadsArrivingWhileARoundIsOutGoTogetherInTheNext) {
  Network net(3, /*async_disk=*/false, /*clock_us=*/nullptr, OneRoundInFlight);
  ElectAndWriteK(net);
  if (HasFatalFailure()) return;
  std::vector<std::string> values;
  auto read = [&](uint64_t id) {
    return net.node(id).ReadBarrier(ReadConsistency::kLinearizable, [&values](absl::Status s) {
      values.push_back(s.ok() ? "ok" : s.ToString());
    });
  };
  read(1);
  ASSERT_EQ(CountOf(net.queue(), raft::MessageType::kHeartbeat, 2), 1);
  // Outside any batch, yet they start no round of their own while the first is out.
  read(1);
  const uint64_t cancelled = read(1);
  read(1);
  EXPECT_EQ(CountOf(net.queue(), raft::MessageType::kHeartbeat, 2), 1);
  EXPECT_EQ(net.node(1).counters().reads_queued, 3u);
  EXPECT_EQ(net.node(1).pending_requests(), 4u);
  net.node(1).CancelRead(cancelled);  // a waiting read is cancelled alone
  EXPECT_EQ(values, std::vector<std::string>{"DEADLINE_EXCEEDED: the caller's deadline passed"});
  values.clear();
  net.Settle();
  EXPECT_EQ(values, std::vector<std::string>(3, "ok"));
  EXPECT_EQ(net.node(1).counters().read_rounds, 2u);
  // On a follower: one request to the leader while one is out.
  values.clear();
  for (int i = 0; i < 4; ++i) read(3);
  EXPECT_EQ(CountOf(net.queue(), raft::MessageType::kReadIndex, 1), 1);
  net.Settle();
  EXPECT_EQ(values, std::vector<std::string>(4, "ok"));
  EXPECT_EQ(net.node(3).counters().read_rounds, 2u);
  EXPECT_EQ(net.node(3).counters().reads_queued, 3u);
  EXPECT_EQ(net.node(1).pending_requests() + net.node(3).pending_requests(), 0u);
}

// A read that arrives while a round is out must not be answered by that round: its index
// was fixed before the read arrived, and may miss a write acknowledged in between.
TEST(NodeTest, AReadWaitingBehindARoundSeesAWriteAcknowledgedBeforeItArrived) {
  Network net(3, /*async_disk=*/false, /*clock_us=*/nullptr, OneRoundInFlight);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  net.node(1).Write(Put(0, 1, "k", "v1"), [](auto) {});
  net.Settle();
  std::vector<std::string> seen;
  auto read = [&] {
    net.node(3).Read("k", ReadConsistency::kLinearizable, [&seen](auto r) {
      seen.push_back(r.ok() && r->has_value() ? **r : r.status().ToString());
    });
  };
  // Node 3's round reaches the leader, which fixes its index; its heartbeats wait.
  read();
  std::vector<raft::Message> request = TakeAll(net, raft::MessageType::kReadIndex, 1);
  ASSERT_EQ(request.size(), 1u);
  net.node(1).Receive(std::move(request[0]));
  std::vector<raft::Message> heartbeats = TakeAll(net, raft::MessageType::kHeartbeat, 2);
  for (raft::Message& m : TakeAll(net, raft::MessageType::kHeartbeat, 3)) {
    heartbeats.push_back(std::move(m));
  }
  ASSERT_EQ(heartbeats.size(), 2u);
  // A write commits with node 2 and is acknowledged; node 3 gets none of it.
  net.drop = [](const raft::Message& m) { return m.to == 3 && m.type == raft::MessageType::kApp; };
  bool written = false;
  net.node(1).Write(Put(0, 2, "k", "v2"), [&](auto r) { written = r.ok(); });
  net.Settle();
  ASSERT_TRUE(written);
  read();  // after the write's acknowledgement, while the round is still out
  for (raft::Message& m : heartbeats) net.Queue(std::move(m));
  net.Settle();
  EXPECT_EQ(seen, std::vector<std::string>{"v1"}) << "the second read answered by the first round";
  net.drop = nullptr;
  net.node(1).Tick();  // a heartbeat: node 3's answer shows it behind, and it is caught up
  net.Settle();
  EXPECT_EQ(seen, (std::vector<std::string>{"v1", "v2"}));
}

TEST(NodeTest, ARoundLostWithItsMessageHoldsTheNextOnlyForAFewTicks) {
  Network net(3, /*async_disk=*/false, /*clock_us=*/nullptr, OneRoundInFlight);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  int first = 0;
  int second = 0;
  net.node(3).ReadBarrier(ReadConsistency::kLinearizable, [&](absl::Status) { ++first; });
  ASSERT_EQ(TakeAll(net, raft::MessageType::kReadIndex, 1).size(), 1u);  // lost
  net.node(3).ReadBarrier(ReadConsistency::kLinearizable, [&](absl::Status s) {
    EXPECT_TRUE(s.ok()) << s;
    ++second;
  });
  net.Settle();
  EXPECT_EQ(second, 0);
  net.node(3).Tick();
  net.Settle();
  EXPECT_EQ(second, 0) << "one tick is not enough to give a round up";
  net.node(3).Tick();
  net.Settle();
  EXPECT_EQ(second, 1);
  EXPECT_EQ(first, 0);
  EXPECT_EQ(net.node(3).counters().read_rounds_overdue, 1u);
  EXPECT_EQ(net.node(3).counters().read_rounds, 2u);
}

TEST(NodeTest, LinearizableReadSeesPrecedingWrite) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  net.node(1).Write(Put(0, 1, "k", "v"), [](auto) {});
  net.Settle();
  std::optional<std::string> seen;
  net.node(3).Read("k", ReadConsistency::kLinearizable, [&](auto r) {
    ASSERT_TRUE(r.ok());
    seen = *r;
  });
  net.Settle();
  EXPECT_EQ(seen, "v");
}

// Found by the simulator (seed 61000001002 --voters=1): read contexts were "<id>/<counter>"
// and the counter starts again after a restart, so a late answer to a read of the earlier
// run completed a new read at an old read index: a stale read.
TEST(NodeTest, AnAnswerToAnEarlierRunsReadDoesNotCompleteANewOne) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  auto take_read_index = [&]() {
    for (auto it = net.queue().begin(); it != net.queue().end(); ++it) {
      if (it->type == raft::MessageType::kReadIndex) {
        raft::Message m = std::move(*it);
        net.queue().erase(it);
        return m;
      }
    }
    ADD_FAILURE() << "no MsgReadIndex queued";
    return raft::Message();
  };
  net.node(2).ReadBarrier(ReadConsistency::kLinearizable, [](absl::Status) {});
  raft::Message old_request = take_read_index();  // delayed in the network
  net.Restart(2, /*incarnation=*/1);
  net.node(1).Tick();  // a heartbeat: node 2 learns its leader again
  net.Settle();
  bool answered = false;
  net.node(2).ReadBarrier(ReadConsistency::kLinearizable, [&](absl::Status) { answered = true; });
  take_read_index();                  // the new request is lost
  net.Queue(std::move(old_request));  // the old one arrives at last, and is answered
  net.Settle();
  EXPECT_FALSE(answered) << "a read of the earlier run completed this run's read";
  EXPECT_EQ(net.node(2).pending_requests(), 1u);
}

}  // namespace
}  // namespace rb::node
