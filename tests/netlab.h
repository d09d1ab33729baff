// NetLab: one network namespace per node, for tests that cut the network between real
// processes. Each namespace holds one end of a veth pair whose other end is on a bridge
// in the test's own namespace, so every node has an address of its own (10.77.S.i) that
// the others and the test's clients reach over the bridge (which has 10.77.S.254).
// Partitions are nftables rules inside a node's namespace, dropping what arrives from or
// leaves for chosen peers; the test's clients (on the bridge address) are never cut.
//
// Needs root with the right to create namespaces and interfaces (CAP_SYS_ADMIN and
// CAP_NET_ADMIN) and Debian's iproute2 and nftables. Create() says why when it cannot,
// so that a test can skip instead of failing on a machine without them.
#ifndef RAFTBADGER_TESTS_NETLAB_H_
#define RAFTBADGER_TESTS_NETLAB_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rb::tests {

class NetLab {
 public:
  // Namespaces for nodes 1..n. Everything made is removed by the destructor.
  static absl::StatusOr<std::unique_ptr<NetLab>> Create(int n);
  ~NetLab();

  int size() const { return n_; }
  // Node i's address (10.77.S.i) and the command prefix that runs a program in its
  // namespace (`ip netns exec <name>`).
  std::string host(int i) const;
  std::vector<std::string> Launcher(int i) const;

  // Node `to` drops every packet from `from` (one way: `from` still receives from `to`,
  // though a TCP connection, needing both ways, fails in both).
  absl::Status DropFrom(int to, int from);
  // Both ways between a and b.
  absl::Status Cut(int a, int b);
  // Node i drops everything from and to every other node (clients still reach it).
  absl::Status Isolate(int i);
  // Removes every rule: the network is whole again.
  absl::Status Heal();

 private:
  NetLab(int n, int subnet, std::string prefix)
      : n_(n), subnet_(subnet), prefix_(std::move(prefix)) {}
  std::string ns(int i) const;
  absl::Status Setup();
  absl::Status Nft(int i, const std::string& rule);

  int n_;
  int subnet_;          // S in 10.77.S.0/24
  std::string prefix_;  // of every name made, unique to this process
};

}  // namespace rb::tests

#endif  // RAFTBADGER_TESTS_NETLAB_H_
