#include "node/state_machine.h"

#include "gtest/gtest.h"
#include "node/memory_node_store.h"

namespace rb::node {
namespace {

namespace kvpb = raftbadger::kvpb;

class StateMachineTest : public ::testing::Test {
 protected:
  StateMachineTest() : store_(raft::ConfState{{1}, {}, {}, {}, false}) {
    // The sessions the tests use: a session's id is the index it was registered at.
    for (uint64_t id : {1, 7, 8}) EXPECT_EQ(Apply(id, Register()).result.session_id(), id);
  }

  ApplyOutcome Apply(uint64_t index, const kvpb::Command& cmd) {
    ApplyOutcome out;
    EXPECT_TRUE(store_
                    .Apply([&](KvTxn* txn) -> absl::Status {
                      auto r = ApplyCommand(txn, index, cmd.SerializeAsString(), policy_);
                      if (!r.ok()) return r.status();
                      out = *r;
                      return absl::OkStatus();
                    })
                    .ok());
    return out;
  }
  static kvpb::Command Put(uint64_t client, uint64_t seq, std::string k, std::string v) {
    kvpb::Command c;
    c.set_client_id(client);
    c.set_seq(seq);
    c.mutable_put()->set_key(std::move(k));
    c.mutable_put()->set_value(std::move(v));
    return c;
  }
  static kvpb::Command Register(uint64_t time_ms = 0) {
    kvpb::Command c;
    c.mutable_register_session();
    c.set_time_ms(time_ms);
    return c;
  }
  static kvpb::Command At(kvpb::Command c, uint64_t time_ms) {
    c.set_time_ms(time_ms);
    return c;
  }
  SessionPolicy policy_;
  MemoryNodeStore store_;
};

TEST_F(StateMachineTest, PutDeleteCas) {
  Apply(1, Put(1, 1, "k", "a"));
  EXPECT_EQ(**store_.Get("k"), "a");
  kvpb::Command cas;
  cas.set_client_id(1);
  cas.set_seq(2);
  cas.mutable_cas()->set_key("k");
  cas.mutable_cas()->set_expected("wrong");
  cas.mutable_cas()->set_value("b");
  EXPECT_FALSE(Apply(2, cas).result.swapped());
  cas.set_seq(3);
  cas.mutable_cas()->set_expected("a");
  EXPECT_TRUE(Apply(3, cas).result.swapped());
  EXPECT_EQ(**store_.Get("k"), "b");
  kvpb::Command del;
  del.set_client_id(1);
  del.set_seq(4);
  del.mutable_delete_()->set_key("k");
  EXPECT_TRUE(Apply(4, del).result.existed());
  del.set_seq(5);
  EXPECT_FALSE(Apply(5, del).result.existed());
  EXPECT_FALSE(store_.Get("k")->has_value());
}

// The old API's UpdateEntries: a missing key is reported and nothing is written.
TEST_F(StateMachineTest, PutRequiringAnExistingKeyWritesOnlyOverOne) {
  kvpb::Command update = Put(1, 1, "k", "new");
  update.mutable_put()->set_require_existing(true);
  ApplyOutcome out = Apply(5, update);
  EXPECT_FALSE(out.result.existed());
  EXPECT_FALSE(store_.Get("k")->has_value());
  Apply(6, Put(1, 2, "k", "old"));
  update.set_seq(3);
  out = Apply(7, update);
  EXPECT_TRUE(out.result.existed());
  EXPECT_EQ(**store_.Get("k"), "new");
  EXPECT_EQ(out.result.revision(), 7u);
}

TEST_F(StateMachineTest, EveryResultCarriesItsRevisionAndARetryTheFirstOne) {
  EXPECT_EQ(Apply(3, Put(1, 1, "a", "x")).result.revision(), 3u);
  EXPECT_EQ(Apply(9, Put(1, 1, "a", "x")).result.revision(), 3u);  // duplicate
}

TEST_F(StateMachineTest, RetriedCommandAppliesOnceAndReturnsFirstResult) {
  Apply(1, Put(7, 1, "k", "first"));
  Apply(2, Put(8, 1, "k", "other client"));
  // Client 7 retries seq 1 (its first attempt's outcome was unknown to it).
  ApplyOutcome retry = Apply(3, Put(7, 1, "k", "first"));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(**store_.Get("k"), "other client");  // not applied again
}

TEST_F(StateMachineTest, OlderSeqIsStale) {
  Apply(1, Put(7, 5, "k", "v5"));
  ApplyOutcome old = Apply(2, Put(7, 4, "k", "v4"));
  EXPECT_TRUE(old.stale);
  EXPECT_EQ(**store_.Get("k"), "v5");
}

TEST_F(StateMachineTest, UnknownSessionChangesNothing) {
  ApplyOutcome out = Apply(20, Put(42, 1, "k", "v"));
  EXPECT_TRUE(out.unknown_session);
  EXPECT_FALSE(store_.Get("k")->has_value());
  // Without a session a command applies, with no duplicate suppression.
  EXPECT_FALSE(Apply(21, Put(0, 5, "k", "v")).unknown_session);
  EXPECT_EQ(**store_.Get("k"), "v");
}

TEST_F(StateMachineTest, IdleSessionsExpireByLogTime) {
  policy_.idle_timeout_ms = 1000;
  const uint64_t a = Apply(20, Register(100)).result.session_id();
  const uint64_t b = Apply(21, Register(900)).result.session_id();
  EXPECT_FALSE(Apply(22, At(Put(b, 1, "k", "b1"), 950)).unknown_session);
  // Log time 1500: a has been idle since 100, b only since 950.
  Apply(23, At(Put(0, 1, "other", "x"), 1500));
  EXPECT_TRUE(Apply(24, At(Put(a, 1, "k", "a1"), 1500)).unknown_session);
  EXPECT_FALSE(Apply(25, At(Put(b, 2, "k", "b2"), 1500)).unknown_session);
  EXPECT_EQ(**store_.Get("k"), "b2");
}

TEST_F(StateMachineTest, LogTimeNeverGoesBack) {
  policy_.idle_timeout_ms = 1000;
  Apply(20, At(Put(0, 1, "k", "v"), 5000));
  // The next leader's clock is behind: its stamp does not move log time back, so a session
  // it registers is not born already idle, nor does it expire early.
  const uint64_t s = Apply(21, Register(100)).result.session_id();
  Apply(22, At(Put(0, 2, "other", "x"), 5900));
  EXPECT_FALSE(Apply(23, At(Put(s, 1, "k", "w"), 5900)).unknown_session);
  EXPECT_EQ(**store_.Get("k"), "w");
}

TEST_F(StateMachineTest, SessionTableIsBounded) {
  policy_.max_sessions = 3;  // the fixture's 3 sessions fill it
  std::vector<uint64_t> ids;
  for (uint64_t index = 20; index < 25; ++index) {
    ids.push_back(Apply(index, Register(index)).result.session_id());
  }
  // The least recently used went first: the fixture's three and the first two new ones.
  EXPECT_TRUE(Apply(30, Put(1, 1, "k", "v")).unknown_session);
  EXPECT_TRUE(Apply(31, Put(ids[1], 1, "k", "v")).unknown_session);
  for (size_t i = 2; i < ids.size(); ++i) {
    EXPECT_FALSE(Apply(32 + i, Put(ids[i], 1, "k", "v")).unknown_session) << i;
  }
  auto count = store_.Get(std::string(1, kReservedKeyPrefix) + "sesscount");
  ASSERT_TRUE(count.ok() && count->has_value());
  EXPECT_EQ(static_cast<uint8_t>((**count)[7]), 3);
}

TEST(SessionErrorTest, IsRecognizable) {
  EXPECT_TRUE(IsSessionExpired(SessionExpiredError(5)));
  EXPECT_FALSE(IsSessionExpired(absl::FailedPreconditionError("cas mismatch")));
}

TEST_F(StateMachineTest, MalformedEntryChangesNothing) {
  ApplyOutcome out;
  ASSERT_TRUE(store_
                  .Apply([&](KvTxn* txn) -> absl::Status {
                    auto r = ApplyCommand(txn, 1, "\xff\xff not a command");
                    out = *r;
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_TRUE(out.malformed);
}

TEST(ValidateKeyTest, RejectsEmptyReservedAndLongKeys) {
  EXPECT_TRUE(ValidateKey("k").ok());
  EXPECT_FALSE(ValidateKey("").ok());
  EXPECT_FALSE(ValidateKey(std::string(1, '\0') + "session").ok());
  EXPECT_FALSE(ValidateKey(std::string(5000, 'k')).ok());
}

TEST(SessionKeyTest, OrderedByClientAndReserved) {
  EXPECT_LT(SessionKey(1), SessionKey(2));
  EXPECT_LT(SessionKey(255), SessionKey(256));
  EXPECT_EQ(SessionKey(1)[0], kReservedKeyPrefix);
}

}  // namespace
}  // namespace rb::node
