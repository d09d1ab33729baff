#include "server/async_call.h"

#include <atomic>
#include <memory>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace rb::server {
namespace {

// Counts the cancellations the timer hands back.
struct Cancellations {
  std::atomic<int> count{0};
  absl::Notification first;
  std::function<void(std::function<void(node::Node&)>)> sink() {
    return [this](std::function<void(node::Node&)>) {
      if (++count == 1) first.Notify();
    };
  }
};

TEST(AsyncCallTest, TheFirstAnswerCountsAndRemovesTheDeadline) {
  Cancellations cancels;
  DeadlineTimer timer(cancels.sink());
  int replies = 0;
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  auto call = std::make_shared<AsyncCall>([&](grpc::Status s) {
    ++replies;
    code = s.error_code();
  });
  timer.Add(call, absl::Now() + absl::Hours(1));
  EXPECT_EQ(timer.size(), 1u);
  call->SetCancel([](node::Node&) {});
  EXPECT_TRUE(call->Finish(grpc::Status::OK));
  EXPECT_FALSE(call->Finish(grpc::Status(grpc::StatusCode::INTERNAL, "late")));
  EXPECT_EQ(replies, 1);
  EXPECT_EQ(code, grpc::StatusCode::OK);
  EXPECT_EQ(timer.size(), 0u) << "an answered call stays queued until its deadline";
  EXPECT_EQ(cancels.count, 0);
}

TEST(AsyncCallTest, TheDeadlineAnswersAndHandsBackTheCancellation) {
  Cancellations cancels;
  DeadlineTimer timer(cancels.sink());
  absl::Notification replied;
  grpc::StatusCode code = grpc::StatusCode::OK;
  auto call = std::make_shared<AsyncCall>([&](grpc::Status s) {
    code = s.error_code();
    replied.Notify();
  });
  call->SetCancel([](node::Node&) {});
  timer.Add(call, absl::Now() + absl::Milliseconds(20));
  ASSERT_TRUE(replied.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(code, grpc::StatusCode::DEADLINE_EXCEEDED);
  // The loop's answer, arriving late, changes nothing.
  EXPECT_FALSE(call->Finish(grpc::Status::OK));
  // The cancellation is handed over after the reply.
  ASSERT_TRUE(cancels.first.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(cancels.count, 1);
  EXPECT_EQ(timer.size(), 0u);
}

// The timer sleeps until its earliest deadline; a call that arrives later with an earlier
// deadline must wake it, not wait behind the first.
TEST(AsyncCallTest, AnEarlierDeadlineAddedLaterFiresFirst) {
  Cancellations cancels;
  DeadlineTimer timer(cancels.sink());
  auto late = std::make_shared<AsyncCall>([](grpc::Status) {});
  const absl::Time late_deadline = absl::Now() + absl::Hours(1);
  timer.Add(late, late_deadline);
  ASSERT_TRUE(timer.AwaitSleepingUntilForTesting(late_deadline, absl::Seconds(10)));
  absl::Notification replied;
  auto soon = std::make_shared<AsyncCall>([&](grpc::Status) { replied.Notify(); });
  const absl::Time start = absl::Now();
  timer.Add(soon, start + absl::Milliseconds(20));
  ASSERT_TRUE(replied.WaitForNotificationWithTimeout(absl::Seconds(30)))
      << "the earlier deadline waited behind the later one";
  EXPECT_FALSE(late->done());
  EXPECT_TRUE(late->Finish(grpc::Status::OK));
}

TEST(AsyncCallTest, ACallAnsweredBeforeItIsAddedIsNotQueued) {
  Cancellations cancels;
  DeadlineTimer timer(cancels.sink());
  auto call = std::make_shared<AsyncCall>([](grpc::Status) {});
  ASSERT_TRUE(call->Finish(grpc::Status::OK));
  timer.Add(call, absl::Now() + absl::Hours(1));
  EXPECT_EQ(timer.size(), 0u);
}

}  // namespace
}  // namespace rb::server
