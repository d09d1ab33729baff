#include "sim/linearizability.h"

#include "gtest/gtest.h"

namespace rb::sim {
namespace {

Operation Put(uint64_t client, std::string key, std::string v, uint64_t call, uint64_t ret) {
  Operation op;
  op.client = client;
  op.kind = OpKind::kPut;
  op.key = std::move(key);
  op.value = std::move(v);
  op.completed = ret != kNeverReturned;
  op.call_us = call;
  op.return_us = ret;
  return op;
}

Operation Get(uint64_t client, std::string key, std::optional<std::string> read, uint64_t call,
              uint64_t ret) {
  Operation op;
  op.client = client;
  op.kind = OpKind::kGet;
  op.key = std::move(key);
  op.read = std::move(read);
  op.completed = true;
  op.call_us = call;
  op.return_us = ret;
  return op;
}

Operation Cas(std::string key, std::optional<std::string> expected, std::string v, bool swapped,
              uint64_t call, uint64_t ret) {
  Operation op;
  op.kind = OpKind::kCas;
  op.key = std::move(key);
  op.expected = std::move(expected);
  op.value = std::move(v);
  op.flag = swapped;
  op.completed = true;
  op.call_us = call;
  op.return_us = ret;
  return op;
}

TEST(LinearizabilityTest, SequentialHistoryIsLinearizable) {
  std::vector<Operation> h = {Put(1, "k", "a", 0, 10), Get(1, "k", "a", 20, 30),
                              Cas("k", "a", "b", true, 40, 50), Get(2, "k", "b", 60, 70)};
  EXPECT_TRUE(CheckLinearizable(h).linearizable);
}

TEST(LinearizabilityTest, StaleReadAfterWriteIsNot) {
  // The put returned before the get was called, yet the get saw the old (absent) value.
  std::vector<Operation> h = {Put(1, "k", "a", 0, 10), Get(2, "k", std::nullopt, 20, 30)};
  LinearizabilityResult r = CheckLinearizable(h);
  EXPECT_FALSE(r.linearizable);
  EXPECT_EQ(r.failed_key, "k");
}

TEST(LinearizabilityTest, ConcurrentReadMaySeeEitherValue) {
  std::vector<Operation> before = {Put(1, "k", "a", 0, 100), Get(2, "k", std::nullopt, 10, 20)};
  std::vector<Operation> after = {Put(1, "k", "a", 0, 100), Get(2, "k", "a", 10, 20)};
  EXPECT_TRUE(CheckLinearizable(before).linearizable);
  EXPECT_TRUE(CheckLinearizable(after).linearizable);
}

TEST(LinearizabilityTest, TimedOutWriteMayOrMayNotHaveHappened) {
  std::vector<Operation> seen = {Put(1, "k", "a", 0, kNeverReturned), Get(2, "k", "a", 50, 60)};
  std::vector<Operation> unseen = {Put(1, "k", "a", 0, kNeverReturned),
                                   Get(2, "k", std::nullopt, 50, 60)};
  EXPECT_TRUE(CheckLinearizable(seen).linearizable);
  EXPECT_TRUE(CheckLinearizable(unseen).linearizable);
  // But it cannot take effect before it was called.
  std::vector<Operation> too_early = {Get(2, "k", "a", 0, 5), Put(1, "k", "a", 10, kNeverReturned)};
  EXPECT_FALSE(CheckLinearizable(too_early).linearizable);
}

TEST(LinearizabilityTest, ReadsCannotGoBackInTime) {
  std::vector<Operation> h = {Put(1, "k", "a", 0, 10), Put(1, "k", "b", 20, 30),
                              Get(2, "k", "b", 40, 50), Get(3, "k", "a", 60, 70)};
  EXPECT_FALSE(CheckLinearizable(h).linearizable);
}

TEST(LinearizabilityTest, CasResultsAreChecked) {
  std::vector<Operation> h = {Put(1, "k", "a", 0, 10), Cas("k", "x", "b", true, 20, 30)};
  EXPECT_FALSE(CheckLinearizable(h).linearizable);
}

TEST(LinearizabilityTest, KeysAreIndependent) {
  std::vector<Operation> h = {Put(1, "x", "1", 0, 10), Put(1, "y", "2", 20, 30),
                              Get(2, "x", "1", 40, 50), Get(2, "y", "2", 40, 50)};
  EXPECT_TRUE(CheckLinearizable(h).linearizable);
}

TEST(LinearizabilityTest, AFailureNamesTheLongestLegalOrderAndTheOperationThatCannotFollow) {
  // a is written, then b; a later read still returns a: b's write cannot be undone.
  std::vector<Operation> h = {Put(1, "k", "a", 0, 10), Put(1, "k", "b", 20, 30),
                              Get(2, "k", "a", 40, 50), Put(3, "other", "x", 0, 5)};
  const LinearizabilityResult r = CheckLinearizable(h);
  ASSERT_FALSE(r.linearizable);
  EXPECT_EQ(r.failed_key, "k");
  EXPECT_EQ(r.longest_order, (std::vector<size_t>{0, 1}));  // history indexes, in order
  ASSERT_TRUE(r.unorderable_op.has_value());
  EXPECT_EQ(*r.unorderable_op, 2u);
  EXPECT_NE(r.explanation.find("places 2 of them"), std::string::npos) << r.explanation;
  EXPECT_NE(r.explanation.find("client 2's get called at 40us"), std::string::npos)
      << r.explanation;
}

}  // namespace
}  // namespace rb::sim
