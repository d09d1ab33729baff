#include "server/async_call.h"

#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/thread_name.h"

namespace rb::server {

grpc::Status DeadlineExceededStatus() {
  return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                      "the request's deadline passed before the cluster answered; a write may "
                      "still be applied");
}

bool AsyncCall::Finish(grpc::Status s) {
  Reply reply;
  DeadlineTimer* timer = nullptr;
  DeadlineTimer::Slot slot;
  {
    absl::MutexLock lock(&mu_);
    if (done_) return false;
    done_ = true;
    reply = std::move(reply_);
    cancel_ = nullptr;
    timer = timer_;
    slot = timer_slot_;
  }
  if (timer != nullptr) timer->Remove(slot);
  reply(std::move(s));
  return true;
}

void AsyncCall::SetCancel(std::function<void(node::Node&)> cancel) {
  absl::MutexLock lock(&mu_);
  if (!done_) cancel_ = std::move(cancel);
}

bool AsyncCall::done() const {
  absl::MutexLock lock(&mu_);
  return done_;
}

std::function<void(node::Node&)> AsyncCall::Expire() {
  Reply reply;
  std::function<void(node::Node&)> cancel;
  {
    absl::MutexLock lock(&mu_);
    if (done_) return nullptr;
    done_ = true;
    reply = std::move(reply_);
    cancel = std::move(cancel_);
  }
  reply(DeadlineExceededStatus());
  return cancel;
}

DeadlineTimer::DeadlineTimer(std::function<void(std::function<void(node::Node&)>)> on_expired)
    : on_expired_(std::move(on_expired)) {
  thread_ = std::thread([this] { Run(); });
}

DeadlineTimer::~DeadlineTimer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void DeadlineTimer::Add(const std::shared_ptr<AsyncCall>& call, absl::Time deadline) {
  Slot slot;
  {
    absl::MutexLock lock(&mu_);
    slot = Slot{deadline, next_seq_++};
  }
  {
    absl::MutexLock lock(&call->mu_);
    RB_CHECK(call->timer_ == nullptr, "an AsyncCall added to a timer twice");
    // Answered already (the loop was quick): nothing to expire.
    if (call->done_) return;
    call->timer_ = this;
    call->timer_slot_ = slot;
  }
  // A call answered between the two locks leaves its entry until the deadline, where it
  // is found done and dropped.
  absl::MutexLock lock(&mu_);
  queue_.emplace(slot, call);
}

void DeadlineTimer::Remove(const Slot& slot) {
  absl::MutexLock lock(&mu_);
  queue_.erase(slot);
}

size_t DeadlineTimer::size() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

bool DeadlineTimer::AwaitSleepingUntilForTesting(absl::Time deadline,
                                                 absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto sleeping = [this, deadline]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return sleeping_until_ == deadline; };
  return mu_.AwaitWithTimeout(absl::Condition(&sleeping), timeout);
}

void DeadlineTimer::Run() {
  SetThreadName("rb-deadlines");
  for (;;) {
    std::vector<std::shared_ptr<AsyncCall>> expired;
    {
      absl::MutexLock lock(&mu_);
      // Sleep until the earliest deadline, or until a call with an earlier one arrives.
      const absl::Time wake = queue_.empty() ? absl::InfiniteFuture() : queue_.begin()->first.first;
      sleeping_until_ = wake;
      auto changed = [this, wake]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || (!queue_.empty() && queue_.begin()->first.first < wake);
      };
      mu_.AwaitWithDeadline(absl::Condition(&changed), wake);
      if (stopping_) return;
      const absl::Time now = absl::Now();
      // Bounded by the queue, which is bounded by the calls in flight.
      while (!queue_.empty() && queue_.begin()->first.first <= now) {
        if (auto call = queue_.begin()->second.lock()) expired.push_back(std::move(call));
        queue_.erase(queue_.begin());
      }
    }
    for (auto& call : expired) {
      std::function<void(node::Node&)> cancel = call->Expire();
      if (cancel) on_expired_(std::move(cancel));
    }
  }
}

}  // namespace rb::server
