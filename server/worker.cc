#include "server/worker.h"

#include <utility>

#include "base/thread_name.h"

namespace rb::server {

Worker::Worker(std::string name) : name_(std::move(name)), thread_([this] { Run(); }) {}

Worker::~Worker() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void Worker::Post(std::function<void()> work) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(work));
}

size_t Worker::pending() const {
  absl::MutexLock lock(&mu_);
  return queue_.size() + running_;
}

void Worker::Drain() const {
  absl::MutexLock lock(&mu_);
  auto idle = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.empty() && running_ == 0; };
  mu_.Await(absl::Condition(&idle));
}

void Worker::Run() {
  SetThreadName(name_);
  std::deque<std::function<void()>> batch;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      running_ = 0;
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stopping_; };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and nothing left
      batch.swap(queue_);
      running_ = batch.size();
    }
    // Bounded: what was queued at the wake-up; later work waits for the next one.
    for (auto& work : batch) work();
    batch.clear();
  }
}

}  // namespace rb::server
