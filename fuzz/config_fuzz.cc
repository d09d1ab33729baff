// The configuration parsers on arbitrary input: the .env file, RAFT_PEERS, the JSON
// --config file, and the whole resolution over flags, environment, .env and file. Each
// returns a value or an error with a message; a configuration that resolves must hold
// only valid names, addresses and ports.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/input_reader.h"
#include "server/config.h"

namespace rb::fuzz {
namespace {

void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "config_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

// A setting's name as the four sources spell it, or any text.
std::string Name(InputReader& in, bool env) {
  const auto& settings = server::Settings();
  const uint64_t pick = in.Below(settings.size() + 1);
  if (pick == settings.size()) return in.Bytes(12);
  return env ? settings[pick].env : settings[pick].flag;
}

void CheckResolved(const server::ServerConfig& c) {
  if (!server::ValidName(c.node_id)) Fail("resolved a bad NODE_ID", c.node_id);
  if (c.port < 1 || c.port > 65535) Fail("resolved a bad PORT", std::to_string(c.port));
  if (!server::ValidateAddress(c.raft_address).ok()) Fail("resolved a bad address", c.raft_address);
  for (const server::PeerSpec& p : c.peers) {
    if (!server::ValidName(p.name) || p.name == c.node_id) Fail("resolved a bad peer", p.name);
    if (!server::ValidateAddress(p.address).ok()) Fail("resolved a bad peer address", p.address);
  }
  const int tls = !c.tls_cert_file.empty() + !c.tls_key_file.empty() + !c.tls_ca_file.empty();
  if (tls != 0 && tls != 3) Fail("resolved part of the TLS settings", c.tls_cert_file);
  if (c.data_dir.empty()) Fail("resolved an empty data directory", "");
}

}  // namespace
}  // namespace rb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rb;
  fuzz::InputReader in(data, size);
  const std::string peers = in.Bytes(128);
  auto parsed_peers = server::ParsePeers(peers);
  if (parsed_peers.ok()) {
    for (const server::PeerSpec& p : *parsed_peers) {
      if (!server::ValidName(p.name) || !server::ValidateAddress(p.address).ok()) {
        fuzz::Fail("ParsePeers accepted a bad entry", peers);
      }
    }
  } else if (parsed_peers.status().message().empty()) {
    fuzz::Fail("an error without a message", peers);
  }
  server::ConfigSources sources;
  sources.working_dir = "/work";
  const std::string dot_env = in.Bytes(256);
  auto parsed_env = server::ParseDotEnv(dot_env);
  if (parsed_env.ok()) sources.dot_env = *std::move(parsed_env);
  if (in.Bool()) {
    sources.json_text = in.Bytes(512);
    sources.json_path = "config.json";
  }
  const uint64_t flags = in.Below(6);
  for (uint64_t i = 0; i < flags; ++i) sources.flags[fuzz::Name(in, false)] = in.Bytes(32);
  const uint64_t vars = in.Below(6);
  for (uint64_t i = 0; i < vars; ++i) sources.env[fuzz::Name(in, true)] = in.Bytes(32);
  if (in.Bool()) sources.env["NODE_ID"] = "replica1";
  auto config = server::ResolveConfig(sources);
  if (config.ok()) {
    fuzz::CheckResolved(*config);
  } else if (config.status().message().empty()) {
    fuzz::Fail("an error without a message", "");
  }
  return 0;
}
