// LocalCluster: a RaftBadger cluster of real `raftbadger` processes on loopback, started
// exactly as the README's three terminals start one (NODE_ID, RAFT_ADDRESS, RAFT_PEERS,
// BADGER_DB_PATH, PORT, BOOTSTRAP), on free ports, in a folder of its own. Every process
// dies with the test.
#ifndef RAFTBADGER_TESTS_LOCAL_CLUSTER_H_
#define RAFTBADGER_TESTS_LOCAL_CLUSTER_H_

#include <signal.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/raftbadger.grpc.pb.h"
#include "tests/process.h"

namespace rb::tests {

// How long a test waits for a cluster to form or agree.
inline constexpr absl::Duration kFormTimeout = absl::Seconds(30);

// The server binary from the test's runfiles.
std::string ServerBinary();
std::string CliBinary();
// A new, empty folder under the test's temporary directory.
std::string NewTestDir(const std::string& name);

class LocalCluster {
 public:
  // Nodes replica1-T..replican-T, with T this cluster's own tag; the first bootstraps and
  // names the others in RAFT_PEERS. The tag keeps clusters of tests running side by side
  // apart: a leader still sending to a node it lost reaches whatever took that node's port,
  // and a node of the same name would be taken for it. extra_env is added to every node's
  // environment.
  explicit LocalCluster(int n, std::map<std::string, std::string> extra_env = {});
  ~LocalCluster();

  int size() const { return static_cast<int>(ports_.size()); }
  std::string name(int i) const { return absl::StrCat("replica", i, "-", tag_); }
  std::string host(int i) const { return hosts_.empty() ? "localhost" : hosts_[i - 1]; }
  std::string endpoint(int i) const { return host(i) + ":" + std::to_string(ports_[i - 1]); }
  int port(int i) const { return ports_[i - 1]; }
  // Before any Start: node i listens on `port` (one another cluster's node had, say).
  void set_port(int i, int port) { ports_[i - 1] = port; }
  // Before any Start: node i listens on hosts[i-1] and is started through the command
  // prefix launcher(i) (a network namespace, see netlab.h).
  void set_network(std::vector<std::string> hosts,
                   std::function<std::vector<std::string>(int)> launcher) {
    hosts_ = std::move(hosts);
    launcher_ = std::move(launcher);
  }
  std::vector<std::string> endpoints() const;
  std::string data_dir(int i) const { return root_ + "/data/" + name(i); }
  const std::string& root() const { return root_; }
  // The environment node i is started with (the three-terminal sequence).
  std::map<std::string, std::string> Env(int i) const;

  // One more node, not among the bootstrap node's RAFT_PEERS (it joins with JOIN); returns
  // its node number.
  int AddSpare();
  // Starts node i with Env(i) and more_env on top; max_file_bytes: see Process::Start.
  absl::Status Start(int i, const std::map<std::string, std::string>& more_env = {},
                     uint64_t max_file_bytes = 0);
  void StartAll();
  void Signal(int i, int sig) { procs_[i - 1].Signal(sig); }
  // SIGSTOP, returning once node i has stopped whole (Process::Stop), or false.
  bool Pause(int i) { return procs_[i - 1].Stop(absl::Seconds(10)); }
  std::optional<int> WaitExit(int i, absl::Duration timeout) { return procs_[i - 1].Wait(timeout); }
  bool Running(int i) { return procs_[i - 1].Running(); }
  pid_t Pid(int i) const { return procs_[i - 1].pid(); }
  std::string Log(int i) const { return ReadFileOrEmpty(root_ + "/" + name(i) + ".log"); }
  // Waits up to timeout until node i's log holds `text`. Polls: the log is another
  // process's file, with nothing to wait on.
  bool AwaitLog(int i, const std::string& text, absl::Duration timeout) const;
  // Every node's log, each under a "--- name" line (for failure messages).
  std::string Logs() const;

  // How Status and AwaitAgreement dial the nodes (a cluster started with TLS or a token).
  void set_client_security(std::shared_ptr<grpc::ChannelCredentials> credentials,
                           std::string token) {
    credentials_ = std::move(credentials);
    token_ = std::move(token);
  }
  absl::StatusOr<raftbadger::v1::StatusResponse> Status(int i) const;
  // Waits until every node in `nodes` answers Status, all name the same leader, that
  // leader has `voters` voters and every node applied the leader's commit index. Returns
  // the leader's node number.
  absl::StatusOr<int> AwaitAgreement(const std::vector<int>& nodes, size_t voters,
                                     absl::Duration timeout) const;
  int NodeNumberOf(const std::string& name) const;

 private:
  std::string root_;
  std::string tag_;  // this process's id and its count of clusters: unique on the machine
  std::vector<int> ports_;
  std::vector<PortReservation> reservations_;  // of ports_, for the cluster's life
  // Draws a free port, reserves it for the cluster's life and adds it to ports_.
  void AddPort();
  int seeds_ = 0;  // nodes 1..seeds_ make up the initial cluster
  std::map<std::string, std::string> extra_env_;
  std::vector<Process> procs_;
  std::vector<std::string> hosts_;  // empty: localhost
  std::function<std::vector<std::string>(int)> launcher_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_ = grpc::InsecureChannelCredentials();
  std::string token_;
};

}  // namespace rb::tests

#endif  // RAFTBADGER_TESTS_LOCAL_CLUSTER_H_
