#include "node/state_machine.h"

#include "gtest/gtest.h"
#include "node/memory_node_store.h"

namespace rb::node {
namespace {

namespace kvpb = raftbadger::kvpb;

class StateMachineTest : public ::testing::Test {
 protected:
  StateMachineTest() : store_(raft::ConfState{{1}, {}, {}, {}, false}) {}

  ApplyOutcome Apply(uint64_t index, const kvpb::Command& cmd) {
    ApplyOutcome out;
    EXPECT_TRUE(store_
                    .Apply([&](KvTxn* txn) -> absl::Status {
                      auto r = ApplyCommand(txn, index, cmd.SerializeAsString());
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
