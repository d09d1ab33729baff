// Worker: one thread that runs posted work in the order posted.
//
// The server reads the store for callback-API reads here, not on the node's loop: a read
// waits while a write holds the store, sometimes for a long fsync, and the loop must keep
// ticking and sending heartbeats meanwhile. One thread serves every read: it drains the
// queue per wake-up, where a thread per request cost a wake-up and a switch each.
#ifndef RAFTBADGER_SERVER_WORKER_H_
#define RAFTBADGER_SERVER_WORKER_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace rb::server {

class Worker {
 public:
  // `name` names the thread (base/thread_name.h).
  explicit Worker(std::string name = "rb-worker");
  // Runs what was posted before, then stops the thread.
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Queues work; it runs on the worker's thread. Unbounded here: callers bound what they
  // post (the server, by its reads in flight).
  void Post(std::function<void()> work);
  // Work posted and not yet finished.
  size_t pending() const;
  // Waits until everything posted so far has run. REQUIRES: nothing posts meanwhile
  // (otherwise it may wait for that too).
  void Drain() const;

 private:
  void Run();

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  const std::string name_;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_WORKER_H_
