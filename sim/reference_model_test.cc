#include "sim/reference_model.h"

#include "gtest/gtest.h"
#include "proto/kv.pb.h"

namespace rb::sim {
namespace {

namespace kvpb = raftbadger::kvpb;

std::string Put(uint64_t client, uint64_t seq, const std::string& key, const std::string& v) {
  kvpb::Command c;
  c.set_client_id(client);
  c.set_seq(seq);
  c.mutable_put()->set_key(key);
  c.mutable_put()->set_value(v);
  return c.SerializeAsString();
}

std::string Register() {
  kvpb::Command c;
  c.mutable_register_session();
  return c.SerializeAsString();
}

TEST(ReferenceModelTest, AnswersForAnyAppliedIndex) {
  ReferenceModel m;
  ASSERT_TRUE(m.Apply(1, true, Register()));  // session 1
  ASSERT_TRUE(m.Apply(2, true, Put(1, 1, "k", "a")));
  ASSERT_TRUE(m.Apply(3, true, Put(1, 2, "k", "b")));
  EXPECT_EQ(m.ValueAt("k", 1), std::nullopt);
  EXPECT_EQ(m.ValueAt("k", 2), "a");
  EXPECT_EQ(m.ValueAt("k", 3), "b");
  EXPECT_EQ(m.ValueAt("other", 3), std::nullopt);
}

TEST(ReferenceModelTest, RetriesHaveNoEffectAndGapsAreRefused) {
  ReferenceModel m;
  ASSERT_TRUE(m.Apply(1, true, Register()));  // session 1
  ASSERT_TRUE(m.Apply(2, true, Register()));  // session 2
  ASSERT_TRUE(m.Apply(3, true, Put(1, 1, "k", "a")));
  ASSERT_TRUE(m.Apply(4, true, Put(2, 1, "k", "b")));
  ASSERT_TRUE(m.Apply(5, true, Put(1, 1, "k", "a")));  // client 1 retries seq 1
  EXPECT_EQ(m.ValueAt("k", 5), "b");
  ASSERT_TRUE(m.Apply(6, true, Put(9, 1, "k", "no session")));
  EXPECT_EQ(m.ValueAt("k", 6), "b");
  EXPECT_FALSE(m.Apply(8, true, Put(1, 2, "k", "c")));
  EXPECT_EQ(m.applied_index(), 6u);
}

TEST(ReferenceModelTest, SessionsExpireAndAreEvictedAsTheStateMachineDoes) {
  ReferenceModel m(node::SessionPolicy{1000, 2, 8});
  auto at = [](std::string cmd, uint64_t time_ms) {
    kvpb::Command c;
    c.ParseFromString(cmd);
    c.set_time_ms(time_ms);
    return c.SerializeAsString();
  };
  ASSERT_TRUE(m.Apply(1, true, at(Register(), 100)));            // session 1
  ASSERT_TRUE(m.Apply(2, true, at(Register(), 900)));            // session 2
  ASSERT_TRUE(m.Apply(3, true, at(Put(0, 1, "k", "x"), 1500)));  // 1 idle since 100: gone
  ASSERT_TRUE(m.Apply(4, true, at(Put(1, 1, "k", "from 1"), 1500)));
  EXPECT_EQ(m.ValueAt("k", 4), "x");
  ASSERT_TRUE(m.Apply(5, true, at(Put(2, 1, "k", "from 2"), 1500)));
  EXPECT_EQ(m.ValueAt("k", 5), "from 2");
  // Two sessions at most: registering two more evicts the least recently used (2).
  ASSERT_TRUE(m.Apply(6, true, at(Register(), 1600)));
  ASSERT_TRUE(m.Apply(7, true, at(Register(), 1600)));
  ASSERT_TRUE(m.Apply(8, true, at(Put(2, 2, "k", "2 again"), 1600)));
  EXPECT_EQ(m.ValueAt("k", 8), "from 2");
  ASSERT_TRUE(m.Apply(9, true, at(Put(7, 1, "k", "from 7"), 1600)));
  EXPECT_EQ(m.ValueAt("k", 9), "from 7");
}

TEST(ReferenceModelTest, CompareAndSwapAndDelete) {
  ReferenceModel m;
  kvpb::Command cas;
  ASSERT_TRUE(m.Apply(1, true, Register()));  // session 1
  cas.set_client_id(1);
  cas.set_seq(1);
  cas.mutable_cas()->set_key("k");
  cas.mutable_cas()->set_expected("x");
  cas.mutable_cas()->set_value("y");
  ASSERT_TRUE(m.Apply(2, true, cas.SerializeAsString()));
  EXPECT_EQ(m.ValueAt("k", 2), std::nullopt);  // nothing to compare with: no swap
  cas.set_seq(2);
  cas.mutable_cas()->set_expect_absent(true);
  ASSERT_TRUE(m.Apply(3, true, cas.SerializeAsString()));
  EXPECT_EQ(m.ValueAt("k", 3), "y");
  kvpb::Command del;
  del.set_client_id(1);
  del.set_seq(3);
  del.mutable_delete_()->set_key("k");
  ASSERT_TRUE(m.Apply(4, true, del.SerializeAsString()));
  EXPECT_EQ(m.ValueAt("k", 4), std::nullopt);
  EXPECT_EQ(m.ValueAt("k", 3), "y");
}

}  // namespace
}  // namespace rb::sim
