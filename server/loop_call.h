// LoopCall: a request's answer, shared between the gRPC handler that waits for it and the
// node loop's callback that gives it (which may run after the handler gave up at its
// deadline).
#ifndef RAFTBADGER_SERVER_LOOP_CALL_H_
#define RAFTBADGER_SERVER_LOOP_CALL_H_

#include <functional>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "node/node.h"

namespace rb::server {

// Handlers create one per request, post work that captures it to the loop, and wait.
class LoopCall {
 public:
  // Records the answer (the first one counts).
  void Finish(grpc::Status s) {
    absl::MutexLock lock(&mu_);
    if (done_) return;
    done_ = true;
    status_ = std::move(s);
  }
  // How to release what the request holds on the node if the caller gives up.
  void SetCancel(std::function<void(node::Node&)> cancel) {
    absl::MutexLock lock(&mu_);
    if (!done_) cancel_ = std::move(cancel);
  }
  // Waits for the answer until deadline. On timeout, returns false and hands back the
  // cancellation to run on the loop (if any).
  bool Await(absl::Time deadline, grpc::Status* status, std::function<void(node::Node&)>* cancel) {
    absl::MutexLock lock(&mu_);
    auto finished = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_; };
    if (!mu_.AwaitWithDeadline(absl::Condition(&finished), deadline)) {
      *cancel = std::move(cancel_);
      return false;
    }
    *status = status_;
    return true;
  }

 private:
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::function<void(node::Node&)> cancel_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_LOOP_CALL_H_
