#include "raft/confchange.h"

#include "gtest/gtest.h"

namespace rb::raft {
namespace {

ProgressTracker Tracker(std::vector<uint64_t> voters, std::vector<uint64_t> learners = {}) {
  ProgressTracker t(4, 0);
  ConfState cs;
  cs.voters = voters;
  cs.learners = learners;
  auto cp = RestoreConfig(t, 10, cs);
  EXPECT_TRUE(cp.ok()) << cp.status();
  t.config = cp->config;
  t.progress = cp->progress;
  return t;
}

TEST(ConfChangeTest, SimpleAllowsOneVoterChange) {
  ProgressTracker t = Tracker({1, 2, 3});
  auto cp = Changer(t, 10).Simple({{ConfChangeType::kAddNode, 4}});
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->config.voters.incoming.ids(), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(cp->progress.at(4).next, 10u);
  EXPECT_TRUE(cp->progress.at(4).recent_active);
  auto two = Changer(t, 10).Simple({{ConfChangeType::kAddNode, 4}, {ConfChangeType::kAddNode, 5}});
  EXPECT_EQ(two.status().code(), absl::StatusCode::kInvalidArgument);
  // Adding a learner does not count as a voter change.
  EXPECT_TRUE(Changer(t, 10)
                  .Simple({{ConfChangeType::kAddLearnerNode, 4}, {ConfChangeType::kAddNode, 5}})
                  .ok());
}

TEST(ConfChangeTest, CannotRemoveAllVoters) {
  ProgressTracker t = Tracker({1});
  EXPECT_FALSE(Changer(t, 10).Simple({{ConfChangeType::kRemoveNode, 1}}).ok());
}

TEST(ConfChangeTest, EnterAndLeaveJoint) {
  ProgressTracker t = Tracker({1, 2, 3});
  auto joint = Changer(t, 10).EnterJoint(
      false, {{ConfChangeType::kRemoveNode, 3}, {ConfChangeType::kAddNode, 4}});
  ASSERT_TRUE(joint.ok());
  EXPECT_EQ(joint->config.voters.incoming.ids(), (std::vector<uint64_t>{1, 2, 4}));
  EXPECT_EQ(joint->config.voters.outgoing.ids(), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(joint->progress.count(3), 1u);  // still votes in the outgoing half
  t.config = joint->config;
  t.progress = joint->progress;
  EXPECT_FALSE(Changer(t, 10).EnterJoint(false, {}).ok());  // already joint
  EXPECT_FALSE(Changer(t, 10).Simple({{ConfChangeType::kAddNode, 5}}).ok());
  auto left = Changer(t, 10).LeaveJoint();
  ASSERT_TRUE(left.ok());
  EXPECT_FALSE(left->config.voters.IsJoint());
  EXPECT_EQ(left->progress.count(3), 0u);
}

TEST(ConfChangeTest, LeaveJointOutsideJointFails) {
  ProgressTracker t = Tracker({1, 2, 3});
  EXPECT_EQ(Changer(t, 10).LeaveJoint().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ConfChangeTest, RestoreJointConfState) {
  ProgressTracker t(4, 0);
  ConfState cs;
  cs.voters = {1, 2, 4};
  cs.voters_outgoing = {1, 2, 3};
  cs.learners = {5};
  cs.learners_next = {3};
  cs.auto_leave = true;
  auto cp = RestoreConfig(t, 10, cs);
  ASSERT_TRUE(cp.ok()) << cp.status();
  t.config = cp->config;
  t.progress = cp->progress;
  EXPECT_EQ(t.GetConfState(), cs);
}

TEST(ConfChangeTest, RestoreRejectsLearnerThatIsAlsoVoter) {
  ProgressTracker t(4, 0);
  ConfState cs;
  cs.voters = {1, 2};
  cs.learners = {2};
  // Adding 2 as a learner demotes it, leaving {1}: a voter change of one, so allowed, but
  // the resulting config differs from cs. The core catches that mismatch on startup.
  auto cp = RestoreConfig(t, 10, cs);
  ASSERT_TRUE(cp.ok());
  t.config = cp->config;
  t.progress = cp->progress;
  EXPECT_FALSE(t.GetConfState() == cs);
}

TEST(ConfChangeTest, NextConfStateAgreesWithChanger) {
  // A walk through simple, joint and leave-joint changes, each also tried on a tracker the
  // way the core applies it: the two must agree, in results and in refusals.
  ProgressTracker t = Tracker({1, 2, 3}, {7});
  ConfState cs = t.GetConfState();
  auto single = [](ConfChangeType type, uint64_t id) {
    ConfChange cc;
    cc.transition = ConfChangeTransition::kAuto;
    cc.changes = {{type, id}};
    return cc;
  };
  ConfChange enter_joint;
  enter_joint.transition = ConfChangeTransition::kJointExplicit;
  enter_joint.changes = {{ConfChangeType::kRemoveNode, 3},
                         {ConfChangeType::kAddNode, 4},
                         {ConfChangeType::kAddLearnerNode, 2}};
  const std::vector<ConfChange> steps = {
      single(ConfChangeType::kAddNode, 5),     // fine
      single(ConfChangeType::kRemoveNode, 9),  // removing a stranger: a no-op
      enter_joint,                             // joint, demoting 2 to learner_next
      single(ConfChangeType::kAddNode, 6),     // refused: already joint
      ConfChange{},                            // leaves joint
      ConfChange{},                            // refused: not joint
      single(ConfChangeType::kRemoveNode, 1),  // fine
  };
  int refused = 0;
  for (const ConfChange& cc : steps) {
    auto expected = Changer(t, 10).Apply(cc);
    auto next = NextConfState(cs, cc);
    ASSERT_EQ(next.ok(), expected.ok()) << next.status() << " vs " << expected.status();
    if (!expected.ok()) {
      EXPECT_EQ(next.status().code(), expected.status().code());
      ++refused;
      continue;
    }
    t.config = expected->config;
    t.progress = expected->progress;
    EXPECT_EQ(*next, t.GetConfState());
    cs = *next;
  }
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(cs.voters, (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(cs.learners, (std::vector<uint64_t>{2, 7}));
}

}  // namespace
}  // namespace rb::raft
