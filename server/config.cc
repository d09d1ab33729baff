#include "server/config.h"

#include <cctype>
#include <cstdlib>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace rb::server {
namespace {

// A value and where it came from, for messages that name both.
struct Value {
  std::string text;
  std::string source;  // "--node_id", "NODE_ID (environment)", ...
};

absl::Status Bad(const Value& v, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(v.source, ": ", why));
}

absl::StatusOr<bool> ParseBool(const Value& v) {
  const std::string s = absl::AsciiStrToLower(v.text);
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off" || s.empty()) return false;
  return Bad(v, absl::StrCat("\"", v.text, "\" is not true or false"));
}

absl::StatusOr<uint64_t> ParseUint(const Value& v, uint64_t min, uint64_t max) {
  uint64_t n = 0;
  if (!absl::SimpleAtoi(v.text, &n) || n < min || n > max) {
    return Bad(v, absl::StrCat("\"", v.text, "\" is not a whole number from ", min, " to ", max));
  }
  return n;
}

}  // namespace

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

std::string Resolve(const std::string& working_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || working_dir.empty()) return path;
  return absl::StrCat(working_dir, "/", path);
}

const std::vector<SettingSpec>& Settings() {
  static const auto* settings = new std::vector<SettingSpec>{
      {"node_id", "NODE_ID", "NodeID", "",
       "this node's name (e.g. replica1); required; letters, digits, - _ ."},
      {"raft_address", "RAFT_ADDRESS", "RaftAddress", "localhost:<port>",
       "host:port at which the other members reach this node"},
      {"raft_peers", "RAFT_PEERS", "RaftPeers", "",
       "peers the bootstrap node adds: comma-separated id:port (at localhost) or id=host:port"},
      {"bootstrap", "BOOTSTRAP", "BootstrapNode", "false",
       "true on exactly one node of a new cluster: it starts alone and adds RAFT_PEERS"},
      {"join", "JOIN", "Join", "",
       "host:port of members of a running cluster (comma-separated): on an empty data "
       "directory, ask it to add this node"},
      {"force_new_cluster", "FORCE_NEW_CLUSTER", "ForceNewCluster", "false",
       "after losing a majority for good: make this node's data a new one-voter cluster "
       "(once; then start without it)"},
      {"wipe_removed_data", "WIPE_REMOVED_DATA", "WipeRemovedData", "false",
       "with --join: if this node was removed from its cluster, delete its old data and "
       "join again"},
      {"promote_lag_entries", "PROMOTE_LAG_ENTRIES", "PromoteLagEntries", "100",
       "a learner this close to the leader's commit index is promoted to voter"},
      {"membership_check_ms", "MEMBERSHIP_CHECK_MS", "MembershipCheckMs", "300",
       "how often a node checks the membership: promotes caught-up learners while it leads, "
       "adds RAFT_PEERS (one change per check)"},
      {"port", "PORT", "Port", "50051",
       "gRPC port for clients and peers (BadgerService, KV, Cluster, RaftPeer, health)"},
      {"listen_host", "LISTEN_HOST", "ListenHost", "0.0.0.0", "address the port is bound on"},
      {"data_dir", "BADGER_DB_PATH", "BadgerDirectory", "./data",
       "data directory (the Raft log and the key-value state, one SQLite database)"},
      {"raft_dir", "RAFT_DIR", "RaftDirectory", "",
       "accepted for compatibility: the Raft log lives in the data directory"},
      {"snapshot_threshold", "SNAPSHOT_THRESHOLD", "SnapshotThreshold", "1000",
       "applied entries between compactions of the log (a snapshot is built when a follower "
       "needs one)"},
      {"snapshot_interval", "SNAPSHOT_INTERVAL", "SnapshotInterval", "3600",
       "seconds after which a snapshot is taken even below the threshold (0: never)"},
      {"read_consistency", "READ_CONSISTENCY", "ReadConsistency", "linearizable",
       "reads of requests that carry no consistency (GetEntries): linearizable, lease or stale"},
      {"max_value_bytes", "MAX_VALUE_BYTES", "MaxValueBytes", "1048576",
       "largest value accepted (larger: INVALID_ARGUMENT, nothing written)"},
      {"tick_ms", "TICK_MS", "TickMs", "100", "Raft tick; heartbeats go every tick"},
      {"election_ticks", "ELECTION_TICKS", "ElectionTicks", "10",
       "ticks without a leader before an election (randomized up to twice that)"},
      {"request_timeout_ms", "REQUEST_TIMEOUT_MS", "RequestTimeoutMs", "5000",
       "deadline of a request whose caller set none"},
      {"max_pending_requests", "MAX_PENDING_REQUESTS", "MaxPendingRequests", "10000",
       "requests waiting on this node at once; more get RESOURCE_EXHAUSTED"},
      {"max_handler_threads", "MAX_HANDLER_THREADS", "MaxHandlerThreads", "256",
       "gRPC handler threads, and writes and point reads in flight (each); more get "
       "RESOURCE_EXHAUSTED"},
      {"max_connection_idle_ms", "MAX_CONNECTION_IDLE_MS", "MaxConnectionIdleMs", "600000",
       "a client connection with no call for this long is closed"},
      {"min_free_bytes", "MIN_FREE_BYTES", "MinFreeBytes", "67108864",
       "free space kept on DATA_DIR's file system: below it the node refuses writes "
       "(RESOURCE_EXHAUSTED) and goes on serving reads, until space is freed"},
      {"metrics_port", "METRICS_PORT", "MetricsPort", "0",
       "HTTP port for /metrics (Prometheus), /livez and /readyz, on LISTEN_HOST (0: off)"},
      {"log_level", "LOG_LEVEL", "LogLevel", "info", "debug, info, warning or error"},
      {"tls_cert_file", "TLS_CERT_FILE", "TlsCertFile", "",
       "this node's certificate (PEM); it must name NODE_ID; with the next two: TLS"},
      {"tls_key_file", "TLS_KEY_FILE", "TlsKeyFile", "", "the certificate's private key (PEM)"},
      {"tls_ca_file", "TLS_CA_FILE", "TlsCaFile", "",
       "the CA certificate (PEM) that signed every member's and client's certificate"},
      {"auth_token_file", "AUTH_TOKEN_FILE", "AuthTokenFile", "",
       "a file holding a token clients may send as `authorization: Bearer <token>` instead "
       "of a certificate (without TLS: required of every client)"},
  };
  return *settings;
}

absl::StatusOr<std::map<std::string, std::string>> ParseDotEnv(absl::string_view text) {
  std::map<std::string, std::string> out;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    absl::ConsumePrefix(&line, "export ");
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(".env line ", line_number, ": expected KEY=VALUE"));
    }
    std::string key(absl::StripAsciiWhitespace(line.substr(0, eq)));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (value.size() >= 2 && (value[0] == '"' || value[0] == '\'') && value.back() == value[0]) {
      value = value.substr(1, value.size() - 2);
    } else {
      const size_t hash = value.find(" #");
      if (hash != absl::string_view::npos)
        value = absl::StripAsciiWhitespace(value.substr(0, hash));
    }
    out[key] = std::string(value);
  }
  return out;
}

absl::Status ValidateAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat("\"", address, "\" is not host:port"));
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port == 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", address, "\" has no port from 1 to 65535"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PeerSpec>> ParsePeers(absl::string_view text) {
  std::vector<PeerSpec> peers;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    PeerSpec peer;
    const size_t eq = item.find('=');
    if (eq != absl::string_view::npos) {
      peer.name = std::string(item.substr(0, eq));
      peer.address = std::string(item.substr(eq + 1));
    } else {
      const size_t colon = item.find(':');
      if (colon == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("entry \"", item, "\" is not id:port or id=host:port"));
      }
      peer.name = std::string(item.substr(0, colon));
      peer.address = absl::StrCat("localhost:", item.substr(colon + 1));
    }
    if (!ValidName(peer.name)) {
      return absl::InvalidArgumentError(absl::StrCat("entry \"", item, "\" has a bad node id"));
    }
    absl::Status address = ValidateAddress(peer.address);
    if (!address.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("entry \"", item, "\": ", address.message()));
    }
    for (const PeerSpec& other : peers) {
      if (other.name == peer.name) {
        return absl::InvalidArgumentError(absl::StrCat("node id ", peer.name, " appears twice"));
      }
    }
    peers.push_back(std::move(peer));
  }
  return peers;
}

absl::StatusOr<ServerConfig> ResolveConfig(const ConfigSources& sources) {
  // The JSON file: every key must be a setting's; values may be strings, numbers or bools.
  std::map<std::string, std::string> json_values;
  if (sources.json_text) {
    nlohmann::json doc = nlohmann::json::parse(*sources.json_text, nullptr, /*exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--config ", sources.json_path, ": not a JSON object"));
    }
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      const SettingSpec* spec = nullptr;
      for (const SettingSpec& s : Settings()) {
        if (it.key() == s.json) spec = &s;
      }
      if (spec == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("--config ", sources.json_path, ": unknown key \"", it.key(), "\""));
      }
      const nlohmann::json& v = it.value();
      if (v.is_string()) {
        json_values[spec->flag] = v.get<std::string>();
      } else if (v.is_boolean()) {
        json_values[spec->flag] = v.get<bool>() ? "true" : "false";
      } else if (v.is_number_unsigned()) {
        json_values[spec->flag] = std::to_string(v.get<uint64_t>());
      } else if (v.is_array()) {
        // RaftPeers may be a list of "id:port" / "id=host:port" strings.
        std::vector<std::string> items;
        for (const auto& item : v) {
          if (!item.is_string()) {
            return absl::InvalidArgumentError(
                absl::StrCat("--config ", sources.json_path, ": ", it.key(), " must list strings"));
          }
          items.push_back(item.get<std::string>());
        }
        json_values[spec->flag] = absl::StrJoin(items, ",");
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--config ", sources.json_path, ": ",
                                                       it.key(), " has a value of the wrong type"));
      }
    }
  }
  // One value per setting, by precedence.
  std::map<std::string, Value> values;
  for (const SettingSpec& s : Settings()) {
    if (auto f = sources.flags.find(s.flag); f != sources.flags.end()) {
      values[s.flag] = {f->second, absl::StrCat("--", s.flag)};
    } else if (auto e = sources.env.find(s.env); e != sources.env.end()) {
      values[s.flag] = {e->second, absl::StrCat(s.env, " (environment)")};
    } else if (auto d = sources.dot_env.find(s.env); d != sources.dot_env.end()) {
      values[s.flag] = {d->second, absl::StrCat(s.env, " (.env)")};
    } else if (auto j = json_values.find(s.flag); j != json_values.end()) {
      values[s.flag] = {j->second, absl::StrCat(s.json, " (", sources.json_path, ")")};
    } else {
      values[s.flag] = {s.default_value, absl::StrCat(s.env, " (default)")};
    }
  }
  ServerConfig c;
  const Value& node_id = values["node_id"];
  if (node_id.text.empty()) {
    return absl::InvalidArgumentError("NODE_ID is required (or --node_id): this node's name");
  }
  if (!ValidName(node_id.text)) {
    return Bad(node_id, "use 1 to 64 letters, digits, '-', '_' or '.'");
  }
  c.node_id = node_id.text;
  {
    auto port = ParseUint(values["port"], 1, 65535);
    if (!port.ok()) return port.status();
    c.port = static_cast<int>(*port);
  }
  c.listen_host = values["listen_host"].text;
  const Value& raft_address = values["raft_address"];
  c.raft_address = raft_address.source.find("(default)") != std::string::npos
                       ? absl::StrCat("localhost:", c.port)
                       : raft_address.text;
  if (absl::Status s = ValidateAddress(c.raft_address); !s.ok()) {
    return Bad(raft_address, s.message());
  }
  {
    auto peers = ParsePeers(values["raft_peers"].text);
    if (!peers.ok()) return Bad(values["raft_peers"], peers.status().message());
    c.peers = *std::move(peers);
    for (const PeerSpec& p : c.peers) {
      if (p.name == c.node_id) {
        return Bad(values["raft_peers"], absl::StrCat("names this node (", c.node_id, ") itself"));
      }
    }
  }
  {
    auto port = ParseUint(values["metrics_port"], 0, 65535);
    if (!port.ok()) return port.status();
    c.metrics_port = static_cast<int>(*port);
    if (c.metrics_port != 0 && c.metrics_port == c.port) {
      return Bad(values["metrics_port"], "must differ from PORT");
    }
  }
  {
    auto b = ParseBool(values["bootstrap"]);
    if (!b.ok()) return b.status();
    c.bootstrap = *b;
  }
  {
    auto b = ParseBool(values["force_new_cluster"]);
    if (!b.ok()) return b.status();
    c.force_new_cluster = *b;
  }
  {
    auto b = ParseBool(values["wipe_removed_data"]);
    if (!b.ok()) return b.status();
    c.wipe_removed_data = *b;
    if (c.wipe_removed_data && values["join"].text.empty()) {
      return Bad(values["wipe_removed_data"], "only means something with --join");
    }
  }
  if (const Value& join = values["join"]; !join.text.empty()) {
    for (absl::string_view item : absl::StrSplit(join.text, ',', absl::SkipWhitespace())) {
      item = absl::StripAsciiWhitespace(item);
      if (absl::Status s = ValidateAddress(item); !s.ok()) return Bad(join, s.message());
      c.join.emplace_back(item);
    }
    if (c.bootstrap) return Bad(join, "a node that joins a cluster must not also bootstrap one");
    if (c.force_new_cluster) {
      return Bad(join, "a node that joins a cluster must not also force a new one");
    }
  }
  c.data_dir = Resolve(sources.working_dir, values["data_dir"].text);
  {
    const Value& cert = values["tls_cert_file"];
    const Value& key = values["tls_key_file"];
    const Value& ca = values["tls_ca_file"];
    const int given = !cert.text.empty() + !key.text.empty() + !ca.text.empty();
    if (given != 0 && given != 3) {
      const Value& missing = cert.text.empty() ? cert : key.text.empty() ? key : ca;
      return Bad(missing, "TLS needs TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE together");
    }
    if (given == 3) {
      c.tls_cert_file = Resolve(sources.working_dir, cert.text);
      c.tls_key_file = Resolve(sources.working_dir, key.text);
      c.tls_ca_file = Resolve(sources.working_dir, ca.text);
    }
    if (!values["auth_token_file"].text.empty()) {
      c.auth_token_file = Resolve(sources.working_dir, values["auth_token_file"].text);
    }
  }
  if (c.data_dir.empty()) return Bad(values["data_dir"], "must not be empty");
  struct UintSetting {
    const char* flag;
    uint64_t min, max;
    std::function<void(uint64_t)> set;
  };
  const UintSetting uints[] = {
      {"snapshot_threshold", 1, uint64_t{1} << 40,
       [&](uint64_t v) { c.snapshot_threshold_entries = v; }},
      {"snapshot_interval", 0, uint64_t{1} << 32,
       [&](uint64_t v) { c.snapshot_interval_seconds = v; }},
      {"max_value_bytes", 1, 64 << 20, [&](uint64_t v) { c.max_value_bytes = v; }},
      {"tick_ms", 1, 10000, [&](uint64_t v) { c.tick_ms = static_cast<int>(v); }},
      {"election_ticks", 2, 1000, [&](uint64_t v) { c.election_ticks = static_cast<int>(v); }},
      {"request_timeout_ms", 1, 3600000,
       [&](uint64_t v) { c.request_timeout_ms = static_cast<int>(v); }},
      {"max_pending_requests", 1, 1000000, [&](uint64_t v) { c.max_pending_requests = v; }},
      {"max_handler_threads", 4, 100000,
       [&](uint64_t v) { c.max_handler_threads = static_cast<int>(v); }},
      {"max_connection_idle_ms", 100, uint64_t{24} * 3600 * 1000,
       [&](uint64_t v) { c.max_connection_idle_ms = static_cast<int64_t>(v); }},
      {"promote_lag_entries", 0, uint64_t{1} << 40, [&](uint64_t v) { c.promote_lag_entries = v; }},
      {"membership_check_ms", 10, 3600000,
       [&](uint64_t v) { c.membership_check_ms = static_cast<int>(v); }},
      {"min_free_bytes", 0, uint64_t{1} << 50, [&](uint64_t v) { c.min_free_bytes = v; }},
  };
  for (const UintSetting& u : uints) {
    auto v = ParseUint(values[u.flag], u.min, u.max);
    if (!v.ok()) return v.status();
    u.set(*v);
  }
  const Value& read = values["read_consistency"];
  const std::string mode = absl::AsciiStrToLower(read.text);
  if (mode == "linearizable") {
    c.read_mode = ReadMode::kLinearizable;
  } else if (mode == "lease") {
    c.read_mode = ReadMode::kLease;
  } else if (mode == "stale") {
    c.read_mode = ReadMode::kStale;
  } else {
    return Bad(read, absl::StrCat("\"", read.text, "\" is not linearizable, lease or stale"));
  }
  const Value& level = values["log_level"];
  c.log_level = absl::AsciiStrToLower(level.text);
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warning" &&
      c.log_level != "error") {
    return Bad(level, absl::StrCat("\"", level.text, "\" is not debug, info, warning or error"));
  }
  return c;
}

std::string HelpText() {
  std::string out =
      "raftbadger: a replicated key-value store (Raft over SQLite), serving the badgerpb\n"
      "BadgerService API of the Go service of the same name, and raftbadger.v1.KV.\n\n"
      "Start a 3-node cluster (any start order):\n"
      "  NODE_ID=replica2 RAFT_ADDRESS=localhost:50052 BADGER_DB_PATH=./data/replica2 "
      "PORT=50052 BOOTSTRAP=false raftbadger\n"
      "  NODE_ID=replica3 RAFT_ADDRESS=localhost:50053 BADGER_DB_PATH=./data/replica3 "
      "PORT=50053 BOOTSTRAP=false raftbadger\n"
      "  NODE_ID=replica1 RAFT_ADDRESS=localhost:50051 RAFT_PEERS=replica2:50052,replica3:50053 "
      "BADGER_DB_PATH=./data/replica1 PORT=50051 BOOTSTRAP=true raftbadger\n\n"
      "Grow it: a new node with an empty data directory and --join=localhost:50051.\n\n"
      "Each setting is a flag, an environment variable, a .env entry (in the working\n"
      "directory) and a key of the JSON file given by --config=FILE. Precedence: flag,\n"
      "environment, .env, file, default.\n\n";
  absl::StrAppend(&out, absl::StrFormat("  %-24s %-22s %-20s %-18s %s\n", "flag", "environment",
                                        "JSON key", "default", "meaning"));
  for (const SettingSpec& s : Settings()) {
    absl::StrAppend(&out, absl::StrFormat("  --%-22s %-22s %-20s %-18s %s\n", s.flag, s.env, s.json,
                                          s.default_value, s.help));
  }
  absl::StrAppend(&out, "  --config=FILE            a JSON file of the keys above\n");
  return out;
}

}  // namespace rb::server
