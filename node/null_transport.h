// NullTransport: a Transport that drops every message. For a lone voter, which has no one
// to send to (tests and benchmarks of one node).
#ifndef RAFTBADGER_NODE_NULL_TRANSPORT_H_
#define RAFTBADGER_NODE_NULL_TRANSPORT_H_

#include "node/node.h"

namespace rb::node {

class NullTransport : public Transport {
 public:
  void Send(raft::Message) override {}
};

}  // namespace rb::node

#endif  // RAFTBADGER_NODE_NULL_TRANSPORT_H_
