#include "node/kv_api.h"

#include "gtest/gtest.h"

namespace rb::node {
namespace {

namespace v1 = raftbadger::v1;
namespace kvpb = raftbadger::kvpb;

TEST(KvApiTest, WritesBecomeCommandsWithTheirSession) {
  v1::PutRequest put;
  put.set_key("k");
  put.set_value("v");
  put.set_require_existing(true);
  put.mutable_session()->set_client_id(7);
  put.mutable_session()->set_seq(3);
  auto cmd = CommandFor(put, KvLimits());
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->client_id(), 7u);
  EXPECT_EQ(cmd->seq(), 3u);
  EXPECT_EQ(cmd->put().value(), "v");
  EXPECT_TRUE(cmd->put().require_existing());

  v1::CompareAndSwapRequest cas;
  cas.set_key("k");
  cas.set_expect_absent(true);
  cas.set_value("w");
  cmd = CommandFor(cas, KvLimits());
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_TRUE(cmd->cas().expect_absent());
  EXPECT_EQ(cmd->client_id(), 0u);  // no session
}

TEST(KvApiTest, BadRequestsAreInvalidArguments) {
  KvLimits limits;
  limits.max_value_bytes = 4;
  v1::PutRequest put;
  put.set_key("k");
  put.set_value("too long");
  EXPECT_EQ(CommandFor(put, limits).status().code(), absl::StatusCode::kInvalidArgument);
  put.set_value("ok");
  put.set_key(std::string(1, '\0') + "session");
  EXPECT_EQ(CommandFor(put, limits).status().code(), absl::StatusCode::kInvalidArgument);
  put.set_key("k");
  put.mutable_session()->set_client_id(5);  // seq 0
  EXPECT_EQ(CommandFor(put, limits).status().code(), absl::StatusCode::kInvalidArgument);
  v1::CompareAndSwapRequest cas;
  cas.set_key("k");
  EXPECT_EQ(CommandFor(cas, limits).status().code(), absl::StatusCode::kInvalidArgument);
  v1::DeleteRequest del;
  EXPECT_EQ(CommandFor(del, limits).status().code(), absl::StatusCode::kInvalidArgument);
  v1::GetRequest get;
  get.set_key(std::string(5000, 'k'));
  EXPECT_EQ(ValidateGet(get, limits).code(), absl::StatusCode::kInvalidArgument);
}

TEST(KvApiTest, ResultsBecomeResponsesAndStatuses) {
  kvpb::CommandResult result;
  result.set_revision(12);
  v1::PutRequest update;
  update.set_require_existing(true);
  v1::PutResponse put_resp;
  EXPECT_EQ(ResponseFor(update, result, &put_resp).code(), absl::StatusCode::kNotFound);
  result.set_existed(true);
  EXPECT_TRUE(ResponseFor(update, result, &put_resp).ok());
  EXPECT_EQ(put_resp.revision(), 12u);
  v1::CompareAndSwapResponse cas_resp;
  EXPECT_EQ(ResponseFor(v1::CompareAndSwapRequest(), result, &cas_resp).code(),
            absl::StatusCode::kFailedPrecondition);
  result.set_swapped(true);
  EXPECT_TRUE(ResponseFor(v1::CompareAndSwapRequest(), result, &cas_resp).ok());
  EXPECT_TRUE(cas_resp.swapped());
  EXPECT_EQ(ConsistencyOf(v1::LEASE), ReadConsistency::kLease);
  EXPECT_EQ(ConsistencyOf(v1::STALE), ReadConsistency::kLocal);
  EXPECT_EQ(ConsistencyOf(v1::LINEARIZABLE), ReadConsistency::kLinearizable);
}

TEST(KvApiTest, TheOldApiMapsOntoTheSameCommandsWithoutASession) {
  badgerpb::SaveEntriesRequest save;
  save.set_id("k");
  save.set_secrets("v");
  auto cmd = CommandFor(save, KvLimits());
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->client_id(), 0u);
  EXPECT_EQ(cmd->put().value(), "v");
  EXPECT_FALSE(cmd->put().require_existing());
  badgerpb::UpdateEntriesRequest update;
  update.set_id("k");
  update.set_secrets("w");
  cmd = CommandFor(update, KvLimits());
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_TRUE(cmd->put().require_existing());
  kvpb::CommandResult missing;
  badgerpb::UpdateEntriesResponse resp;
  EXPECT_EQ(ResponseFor(update, missing, &resp).code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(resp.success());
  badgerpb::DeleteEntriesRequest del;
  EXPECT_EQ(CommandFor(del, KvLimits()).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rb::node
