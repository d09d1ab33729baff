// AsyncCall: the answer to one request served through gRPC's callback API, given once by
// whichever comes first: the node loop's callback, or the request's deadline.
//
// A synchronous handler blocks a gRPC thread until the loop answers (LoopCall), so every
// request costs a thread hand-off from the loop back to that thread. With the callback API
// the handler returns at once, and the loop's answer finishes the call directly. The
// deadline then needs a clock of its own: DeadlineTimer, one thread for all calls.
#ifndef RAFTBADGER_SERVER_ASYNC_CALL_H_
#define RAFTBADGER_SERVER_ASYNC_CALL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "node/node.h"

namespace rb::server {

class DeadlineTimer;

// The answer to a request whose deadline passed first (synchronous handlers give it too).
grpc::Status DeadlineExceededStatus();

class AsyncCall {
 public:
  // Runs once, with the answer, on the thread that gave it (the loop, the timer or the
  // caller of Finish). It must not block: it finishes a gRPC reactor or hands on.
  using Reply = std::function<void(grpc::Status)>;

  explicit AsyncCall(Reply reply) : reply_(std::move(reply)) {}
  AsyncCall(const AsyncCall&) = delete;
  AsyncCall& operator=(const AsyncCall&) = delete;

  // Gives the answer; only the first one counts. False if the call was already answered
  // (its deadline passed).
  bool Finish(grpc::Status s);
  // How to release what the request holds on the node if the deadline passes first.
  void SetCancel(std::function<void(node::Node&)> cancel);
  bool done() const;

 private:
  friend class DeadlineTimer;
  // The deadline passed: answers DEADLINE_EXCEEDED unless answered already, and returns the
  // cancellation to run on the loop (empty if none, or if the call was answered).
  std::function<void(node::Node&)> Expire();

  mutable absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  Reply reply_ ABSL_GUARDED_BY(mu_);
  std::function<void(node::Node&)> cancel_ ABSL_GUARDED_BY(mu_);
  // Where DeadlineTimer::Add queued it; removed from there when the call finishes first.
  DeadlineTimer* timer_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::pair<absl::Time, uint64_t> timer_slot_ ABSL_GUARDED_BY(mu_);
};

// One thread that expires calls at their deadlines. Bounded by the calls in flight: a call
// answered before its deadline leaves the queue then.
class DeadlineTimer {
 public:
  // on_expired runs on the timer's thread with each expired call's cancellation (if any);
  // the server posts it to the loop.
  explicit DeadlineTimer(std::function<void(std::function<void(node::Node&)>)> on_expired);
  ~DeadlineTimer();  // expires nothing: calls still waiting are the owner's to answer
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // REQUIRES: call is not yet answered, and not added before.
  void Add(const std::shared_ptr<AsyncCall>& call, absl::Time deadline);
  size_t size() const;
  // Tests only: waits (up to timeout) until the timer's thread sleeps until `deadline`.
  bool AwaitSleepingUntilForTesting(absl::Time deadline, absl::Duration timeout) const;

 private:
  friend class AsyncCall;
  using Slot = std::pair<absl::Time, uint64_t>;  // deadline, then order of arrival
  void Remove(const Slot& slot);
  void Run();

  const std::function<void(std::function<void(node::Node&)>)> on_expired_;
  mutable absl::Mutex mu_;
  std::map<Slot, std::weak_ptr<AsyncCall>> queue_ ABSL_GUARDED_BY(mu_);  // earliest first
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  absl::Time sleeping_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_ASYNC_CALL_H_
