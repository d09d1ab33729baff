#include "raft/codec.h"

#include "gtest/gtest.h"

namespace rb::raft {
namespace {

TEST(CodecTest, MessageRoundTrip) {
  Message m;
  m.type = MessageType::kApp;
  m.from = 1;
  m.to = 2;
  m.term = 5;
  m.log_term = 4;
  m.index = 10;
  m.commit = 9;
  m.entries = {Entry{4, 11, EntryType::kNormal, "a"}, Entry{5, 12, EntryType::kConfChange, "b"}};
  m.context = "ctx";
  auto back = DecodeMessage(EncodeMessage(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->type, m.type);
  EXPECT_EQ(back->term, 5u);
  EXPECT_EQ(back->entries, m.entries);
  EXPECT_EQ(back->context, "ctx");
  EXPECT_EQ(back->commit, 9u);
}

TEST(CodecTest, SnapshotMessageRoundTrip) {
  auto snap = std::make_shared<Snapshot>();
  snap->data = "state";
  snap->metadata = {ConfState{{1, 2}, {3}, {}, {}, false}, 7, 2};
  Message m;
  m.type = MessageType::kSnap;
  m.from = 1;
  m.to = 3;
  m.term = 2;
  m.snapshot = snap;
  auto back = DecodeMessage(EncodeMessage(m));
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_NE(back->snapshot, nullptr);
  EXPECT_EQ(back->snapshot->data, "state");
  EXPECT_EQ(back->snapshot->metadata.index, 7u);
  EXPECT_EQ(back->snapshot->metadata.conf_state, snap->metadata.conf_state);
}

TEST(CodecTest, RejectsMalformedPeerMessages) {
  EXPECT_FALSE(DecodeMessage("\xff\xff\xff garbage").ok());
  Message m;
  m.type = MessageType::kHup;  // local only
  m.from = 1;
  m.to = 2;
  EXPECT_EQ(DecodeMessage(EncodeMessage(m)).status().code(), absl::StatusCode::kInvalidArgument);
  m.type = MessageType::kHeartbeat;
  m.term = 1;
  m.from = 0;  // no sender
  EXPECT_FALSE(DecodeMessage(EncodeMessage(m)).ok());
  m.from = 1;
  EXPECT_TRUE(DecodeMessage(EncodeMessage(m)).ok());
  m.type = MessageType::kVote;
  m.term = kMaxWireTermOrIndex + 1;  // a term whose successor could overflow
  EXPECT_FALSE(DecodeMessage(EncodeMessage(m)).ok());
  m.term = kMaxWireTermOrIndex;
  EXPECT_TRUE(DecodeMessage(EncodeMessage(m)).ok());
  m.term = 1;
  m.commit = ~uint64_t{0};
  EXPECT_FALSE(DecodeMessage(EncodeMessage(m)).ok());
  m.commit = 0;
  m.term = 0;  // a vote for no term
  EXPECT_FALSE(DecodeMessage(EncodeMessage(m)).ok());
  m.type = MessageType::kProp;  // forwarded proposals carry no term
  EXPECT_TRUE(DecodeMessage(EncodeMessage(m)).ok());
  m.term = 2;
  EXPECT_FALSE(DecodeMessage(EncodeMessage(m)).ok());
  m.type = MessageType::kApp;
  m.term = 3;
  m.index = 5;
  m.entries = {Entry{3, 7}};  // gap after index 5
  EXPECT_FALSE(DecodeMessage(EncodeMessage(m)).ok());
  m.entries = {Entry{9, 6}};  // entry from a term after the message's
  EXPECT_FALSE(DecodeMessage(EncodeMessage(m)).ok());
  m.entries.clear();
  m.log_term = 4;  // the entry it follows is from a term after the message's
  EXPECT_FALSE(DecodeMessage(EncodeMessage(m)).ok());
  m.log_term = 3;
  EXPECT_TRUE(DecodeMessage(EncodeMessage(m)).ok());
  m.type = MessageType::kSnap;  // without snapshot
  EXPECT_FALSE(DecodeMessage(EncodeMessage(m)).ok());
  auto future = std::make_shared<Snapshot>();
  future->metadata = {ConfState{{1, 2}, {}, {}, {}, false}, 7, 4};  // term 4 > the message's 3
  m.snapshot = future;
  EXPECT_FALSE(DecodeMessage(EncodeMessage(m)).ok());
  m.term = 4;
  EXPECT_TRUE(DecodeMessage(EncodeMessage(m)).ok());
  m.snapshot = nullptr;

  raftbadger::raftpb::Message p;
  p.set_type(static_cast<raftbadger::raftpb::MessageType>(99));
  p.set_from(1);
  p.set_to(2);
  EXPECT_FALSE(FromProto(p).ok());
}

TEST(CodecTest, RejectsUnsortedConfState) {
  raftbadger::raftpb::ConfState p;
  p.add_voters(3);
  p.add_voters(1);
  EXPECT_FALSE(FromProto(p).ok());
}

TEST(CodecTest, ConfChangeRoundTripAndValidation) {
  ConfChange cc;
  cc.transition = ConfChangeTransition::kJointExplicit;
  cc.changes = {{ConfChangeType::kAddNode, 4}, {ConfChangeType::kRemoveNode, 1}};
  cc.context = "why";
  auto back = DecodeConfChange(EncodeConfChange(cc));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->transition, cc.transition);
  ASSERT_EQ(back->changes.size(), 2u);
  EXPECT_EQ(back->changes[1].type, ConfChangeType::kRemoveNode);
  EXPECT_EQ(back->context, "why");
  // The empty change (leave joint) encodes to nothing and decodes to no changes.
  auto leave = DecodeConfChange(EncodeConfChange(ConfChange{}));
  ASSERT_TRUE(leave.ok());
  EXPECT_TRUE(leave->LeavesJoint());
  cc.changes = {{ConfChangeType::kAddNode, 0}};
  EXPECT_FALSE(DecodeConfChange(EncodeConfChange(cc)).ok());
}

TEST(CodecTest, ConfChangeTransitionSemantics) {
  bool auto_leave = false;
  ConfChange one;
  one.changes = {{ConfChangeType::kAddNode, 2}};
  EXPECT_FALSE(one.EntersJoint(&auto_leave));
  ConfChange two = one;
  two.changes.push_back({ConfChangeType::kAddNode, 3});
  EXPECT_TRUE(two.EntersJoint(&auto_leave));
  EXPECT_TRUE(auto_leave);
  two.transition = ConfChangeTransition::kJointExplicit;
  EXPECT_TRUE(two.EntersJoint(&auto_leave));
  EXPECT_FALSE(auto_leave);
  one.transition = ConfChangeTransition::kJointImplicit;
  EXPECT_TRUE(one.EntersJoint(&auto_leave));
  EXPECT_TRUE(auto_leave);
}

}  // namespace
}  // namespace rb::raft
