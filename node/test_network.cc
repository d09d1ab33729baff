#include "node/test_network.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace rb::node {

void Link::Send(raft::Message m) { net_->Queue(std::move(m)); }
void Link::TellRemoved(uint64_t to, uint64_t removed_at_index) {
  net_->tells.push_back(absl::StrCat(from_, " -> ", to, ": ", removed_at_index));
}

raftbadger::kvpb::Command Put(uint64_t client, uint64_t seq, std::string k, std::string v) {
  raftbadger::kvpb::Command c;
  c.set_client_id(client);
  c.set_seq(seq);
  c.mutable_put()->set_key(std::move(k));
  c.mutable_put()->set_value(std::move(v));
  return c;
}

}  // namespace rb::node
