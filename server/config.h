// The server's settings and where they come from.
//
// Every setting has four names: a flag (--node_id), an environment variable (NODE_ID, as
// the old Go service used), a .env entry (the same name, in the working directory's .env)
// and a JSON key (NodeID, in the file --config names; the old service's config.json keys
// Port, BootstrapNode, RaftDirectory and BadgerDirectory are among them). Precedence:
// flag, environment, .env, file, default. Resolution is a pure function of those four
// sources, so it is tested without a process.
//
// Bad configuration is an error naming the setting and where its value came from; the
// server prints it as one line and exits non-zero.
#ifndef RAFTBADGER_SERVER_CONFIG_H_
#define RAFTBADGER_SERVER_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rb::server {

// A peer named in RAFT_PEERS.
struct PeerSpec {
  std::string name;
  std::string address;  // host:port
};

enum class ReadMode { kLinearizable, kLease, kStale };

struct ServerConfig {
  std::string node_id;
  std::string raft_address;  // how peers reach this node (host:port)
  std::vector<PeerSpec> peers;
  bool bootstrap = false;
  std::vector<std::string> join;  // members to ask for this node's addition (host:port)
  uint64_t promote_lag_entries = 100;
  int membership_check_ms = 300;  // MembershipKeeperOptions::period
  bool force_new_cluster = false;
  bool wipe_removed_data = false;
  int port = 50051;
  int metrics_port = 0;  // 0: no HTTP endpoint
  std::string listen_host = "0.0.0.0";
  std::string data_dir = "./data";
  uint64_t snapshot_threshold_entries = 1000;
  uint64_t snapshot_interval_seconds = 3600;
  ReadMode read_mode = ReadMode::kLinearizable;  // for GetEntries, which carries none
  uint64_t max_value_bytes = 1 << 20;
  int tick_ms = 100;
  int election_ticks = 10;
  int request_timeout_ms = 5000;  // deadline of a request whose caller set none
  size_t max_pending_requests = 10000;
  int max_handler_threads = 256;
  int64_t max_connection_idle_ms = 600000;
  uint64_t min_free_bytes = 64 << 20;  // below it on DATA_DIR's disk: writes refused
  std::string log_level = "info";
  // PEM files (server/security.h); all empty: plaintext.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
  std::string auth_token_file;  // empty: clients need no token
};

// One setting: its four names, default and meaning (what --help prints).
struct SettingSpec {
  const char* flag;
  const char* env;
  const char* json;
  const char* default_value;
  const char* help;
};
const std::vector<SettingSpec>& Settings();

// Where the values come from. Flags hold only those given on the command line.
struct ConfigSources {
  std::map<std::string, std::string> flags;    // by flag name
  std::map<std::string, std::string> env;      // the process environment (any names)
  std::map<std::string, std::string> dot_env;  // the .env file's entries (any names)
  std::optional<std::string> json_text;        // the --config file's contents
  std::string json_path;                       // for messages
  std::string working_dir;                     // relative paths resolve against it
};

// Resolves and validates the configuration.
absl::StatusOr<ServerConfig> ResolveConfig(const ConfigSources& sources);

// Parses a .env file: KEY=VALUE lines, optional `export `, quotes and # comments.
absl::StatusOr<std::map<std::string, std::string>> ParseDotEnv(absl::string_view text);

// A node name (NODE_ID): 1 to 64 letters, digits, '-', '_' or '.'.
bool ValidName(absl::string_view name);
// host:port with a port from 1 to 65535.
absl::Status ValidateAddress(absl::string_view address);

// Parses RAFT_PEERS: comma-separated `id:port` (that id at localhost:port) or `id=host:port`.
absl::StatusOr<std::vector<PeerSpec>> ParsePeers(absl::string_view text);

// Checks host:port with a port in 1..65535.
absl::Status ValidateAddress(absl::string_view address);

// The --help text: every setting with its flag, variable, JSON key and default.
std::string HelpText();

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_CONFIG_H_
