#include "server/worker.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace rb::server {
namespace {

TEST(WorkerTest, RunsWorkInTheOrderPostedOnItsOwnThread) {
  std::vector<int> ran;
  std::thread::id worker_thread;
  absl::Notification done;
  {
    Worker w;
    for (int i = 0; i < 100; ++i) {
      w.Post([&, i] {
        ran.push_back(i);  // only the worker's thread touches ran
        worker_thread = std::this_thread::get_id();
        if (i == 99) done.Notify();
      });
    }
    done.WaitForNotification();
  }
  ASSERT_EQ(ran.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ran[i], i);
  EXPECT_NE(worker_thread, std::this_thread::get_id());
}

TEST(WorkerTest, DestructionRunsWhatWasPostedFirst) {
  int ran = 0;
  absl::Notification release;
  {
    Worker w;
    // The first job holds the thread, so the rest are still queued at destruction.
    w.Post([&] { release.WaitForNotification(); });
    for (int i = 0; i < 10; ++i) w.Post([&] { ++ran; });
    EXPECT_EQ(w.pending(), 11u);
    release.Notify();
  }
  EXPECT_EQ(ran, 10);
}

TEST(WorkerTest, DrainWaitsForWhatWasPosted) {
  Worker w;
  std::atomic<int> ran{0};
  absl::Notification started;
  absl::Notification release;
  w.Post([&] {
    started.Notify();
    release.WaitForNotification();
    ++ran;
  });
  w.Post([&] { ++ran; });
  started.WaitForNotification();
  std::thread releaser([&] { release.Notify(); });
  w.Drain();  // returns only after both ran, however the threads are scheduled
  EXPECT_EQ(ran.load(), 2);
  EXPECT_EQ(w.pending(), 0u);
  releaser.join();
}

}  // namespace
}  // namespace rb::server
