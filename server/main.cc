// raftbadger: one RaftBadger node. See server/config.h for its settings (`raftbadger
// --help`), the README for running a cluster.
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/logging.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "node/member_directory.h"
#include "node/sqlite_node_store.h"
#include "raft/codec.h"
#include "server/address_book.h"
#include "server/admin_service.h"
#include "server/bootstrap.h"
#include "server/config.h"
#include "server/disk_space.h"
#include "server/force_new_cluster.h"
#include "server/grpc_limits.h"
#include "server/identity.h"
#include "server/join.h"
#include "server/kv_service.h"
#include "server/metrics.h"
#include "server/metrics_http.h"
#include "server/node_host.h"
#include "server/node_metrics.h"
#include "server/peer_transport.h"
#include "server/request_metrics.h"

extern char** environ;

namespace rb::server {
namespace {

[[noreturn]] void Die(absl::string_view message) {
  std::fprintf(stderr, "raftbadger: %.*s\n", static_cast<int>(message.size()), message.data());
  std::exit(2);
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in.good()) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Command line, environment, .env and --config file, as config.h describes. Settings are
// one table (config.cc) read from four sources; a flag library would only cover one of
// them and repeat every name, so the few lines of argv parsing are here.
ConfigSources GatherSources(int argc, char** argv) {
  ConfigSources src;
  // Under `bazel run`, relative paths mean the directory the user ran it from.
  const char* bwd = std::getenv("BUILD_WORKING_DIRECTORY");
  char cwd[4096];
  src.working_dir = bwd != nullptr ? bwd : (getcwd(cwd, sizeof(cwd)) ? cwd : ".");
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      std::fputs(HelpText().c_str(), stdout);
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) Die(absl::StrCat("unexpected argument \"", arg, "\"; see --help"));
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
      value = argv[++i];
    } else {
      value = "true";  // --bootstrap
    }
    if (name == "config") {
      config_path = value;
      continue;
    }
    bool known = false;
    for (const SettingSpec& s : Settings()) known = known || name == s.flag;
    if (!known) Die(absl::StrCat("unknown flag --", name, "; see --help"));
    src.flags[name] = value;
  }
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    const size_t eq = kv.find('=');
    if (eq != std::string::npos) src.env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (auto dot_env = ReadFile(src.working_dir + "/.env")) {
    auto parsed = ParseDotEnv(*dot_env);
    if (!parsed.ok()) Die(parsed.status().message());
    src.dot_env = *std::move(parsed);
  }
  if (!config_path.empty()) {
    const std::string path =
        config_path[0] == '/' ? config_path : src.working_dir + "/" + config_path;
    src.json_text = ReadFile(path);
    if (!src.json_text) Die(absl::StrCat("--config ", config_path, ": cannot read it"));
    src.json_path = config_path;
  }
  return src;
}

// Fails fast, before any file is touched, if a port cannot be bound.
void CheckPortFree(const ServerConfig& c, int port, const char* setting) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  if (getaddrinfo(c.listen_host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) {
    Die(absl::StrCat("LISTEN_HOST: cannot resolve \"", c.listen_host, "\""));
  }
  const int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const int rc = bind(fd, res->ai_addr, res->ai_addrlen);
  const int err = errno;
  close(fd);
  freeaddrinfo(res);
  if (rc != 0) {
    Die(absl::StrCat(setting, ": cannot listen on ", c.listen_host, ":", port, ": ",
                     err == EADDRINUSE ? "the port is in use" : std::strerror(err)));
  }
}

std::atomic<uint64_t> g_term{0};

const char* ChangeName(raft::ConfChangeType type) {
  switch (type) {
    case raft::ConfChangeType::kAddNode:
      return "add voter";
    case raft::ConfChangeType::kAddLearnerNode:
      return "add learner";
    case raft::ConfChangeType::kRemoveNode:
      return "remove";
  }
  return "change";
}

void SetUpLogging(const ServerConfig& c) {
  if (c.log_level == "debug") SetMinLogSeverity(LogSeverity::kDebug);
  if (c.log_level == "warning") SetMinLogSeverity(LogSeverity::kWarning);
  if (c.log_level == "error") SetMinLogSeverity(LogSeverity::kError);
  SetLogPrefix([name = c.node_id] {
    return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
                        " ", name, " term=", g_term.load());
  });
}

// Deletes what RaftBadger keeps in a data directory (a removed node's, to join again):
// the database, its WAL, the snapshots, and last the identity, so that a crash half-way
// leaves a directory that still says it was removed.
absl::Status WipeDataDir(const std::string& dir) {
  std::error_code error;
  for (const std::string& name :
       {absl::StrCat(storage::kDatabaseFileName), absl::StrCat(storage::kDatabaseFileName, "-wal"),
        absl::StrCat(storage::kDatabaseFileName, "-shm"), std::string(storage::kSnapshotDirName),
        std::string(kIdentityFileName)}) {
    std::filesystem::remove_all(std::filesystem::path(dir) / name, error);
    if (error) return absl::InternalError(absl::StrCat("deleting ", name, ": ", error.message()));
  }
  return absl::OkStatus();
}

// --force-new-cluster: see force_new_cluster.h. Dies with the reason if it cannot.
void ForceOrDie(const ServerConfig& config, uint64_t self_id, storage::Store* raw_store,
                node::SqliteNodeStore* store, DataDirIdentity* identity,
                std::atomic<uint64_t>* cluster_id, bool empty) {
  if (empty) {
    Die(absl::StrCat("FORCE_NEW_CLUSTER: ", config.data_dir, " holds no data to recover"));
  }
  auto forced = ForceNewCluster(raw_store, self_id);
  if (!forced.ok()) Die(absl::StrCat("FORCE_NEW_CLUSTER: ", forced.status().message()));
  if (forced->removed_members == 0) {
    RB_LOG(WARNING) << "FORCE_NEW_CLUSTER: this node is its cluster's only member already; "
                       "nothing to do (start without the flag)";
    return;
  }
  if (absl::Status s = store->ReloadLog(); !s.ok()) {
    Die(absl::StrCat("FORCE_NEW_CLUSTER: ", s.message()));
  }
  // A new id: members of the old cluster that come back are refused, not merged.
  identity->cluster_id = NewClusterId();
  identity->peers_added = true;
  if (absl::Status s = WriteIdentity(config.data_dir, *identity); !s.ok()) {
    Die(absl::StrCat("FORCE_NEW_CLUSTER: ", s.message()));
  }
  cluster_id->store(identity->cluster_id);
  RB_LOG(WARNING) << "FORCE_NEW_CLUSTER: new cluster " << identity->cluster_id << " with "
                  << config.node_id << " as its only voter: " << forced->removed_members
                  << " members removed, " << forced->committed_tail_entries
                  << " entries past the old commit index kept and committed, commit index "
                  << forced->commit_index
                  << ". Add members with --join on empty data directories; start this node "
                     "without the flag from now on";
}

int Run(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  // A file size limit (RLIMIT_FSIZE) then fails the write (EFBIG), a storage failure the
  // node handles, instead of killing the process mid-write.
  signal(SIGXFSZ, SIG_IGN);
  // Debian's abseil checks every Mutex acquisition for lock-order cycles; under load that
  // bookkeeping took about 3% of the leader's CPU (perf). The tests run with it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // SIGTERM and SIGINT are handled by sigwait below, once the node is up; one that
  // arrives during start-up waits for it, so a stop is always graceful. Every thread
  // inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto resolved = ResolveConfig(GatherSources(argc, argv));
  if (!resolved.ok()) Die(resolved.status().message());
  const ServerConfig config = *std::move(resolved);
  CheckPortFree(config, config.port, "PORT");
  if (config.metrics_port != 0) CheckPortFree(config, config.metrics_port, "METRICS_PORT");
  SetUpLogging(config);
  auto loaded_security = NodeSecurity::Load(config);
  if (!loaded_security.ok()) Die(loaded_security.status().message());
  const NodeSecurity security = *std::move(loaded_security);
  for (const std::string& warning : security.Warnings()) RB_LOG(WARNING) << warning;

  // Who this node is, and whether its data directory agrees.
  const uint64_t self_id = RaftIdForName(config.node_id);
  AddressBook book;
  if (!book.Learn(self_id, config.node_id, config.raft_address).ok()) Die("impossible");
  for (const PeerSpec& p : config.peers) {
    absl::Status s = book.Learn(RaftIdForName(p.name), p.name, p.address);
    if (!s.ok()) Die(absl::StrCat("RAFT_PEERS: ", s.message()));
  }
  DataDirIdentity identity;
  bool fresh = false;
  auto existing = ReadIdentity(config.data_dir);
  if (existing.ok() && existing->name != config.node_id) {
    Die(absl::StrCat("BADGER_DB_PATH: data directory ", config.data_dir, " belongs to node ",
                     existing->name, ", not ", config.node_id, "; refusing to start over it"));
  }
  if (existing.ok() && existing->removed_at_index != 0) {
    if (!config.wipe_removed_data) {
      Die(absl::StrCat("BADGER_DB_PATH: node ", existing->name, " was removed from cluster ",
                       existing->cluster_id, " (log index ", existing->removed_at_index,
                       "); its data there is out of date and must not rejoin. To join again, "
                       "start it with --join and --wipe_removed_data (or move ",
                       config.data_dir, " away)"));
    }
    RB_LOG(WARNING) << "node " << existing->name << " was removed from cluster "
                    << existing->cluster_id << " (log index " << existing->removed_at_index
                    << "); WIPE_REMOVED_DATA: deleting its old data to join again";
    if (absl::Status s = WipeDataDir(config.data_dir); !s.ok()) {
      Die(absl::StrCat("WIPE_REMOVED_DATA: ", s.message()));
    }
    existing = absl::NotFoundError("wiped");
  }
  if (existing.ok()) {
    identity = *existing;
  } else if (absl::IsNotFound(existing.status())) {
    fresh = true;
    identity = DataDirIdentity{config.node_id, self_id, config.bootstrap ? NewClusterId() : 0};
    if (absl::Status s = WriteIdentity(config.data_dir, identity); !s.ok()) {
      Die(absl::StrCat("BADGER_DB_PATH: ", s.message()));
    }
  } else {
    Die(absl::StrCat("BADGER_DB_PATH: ", existing.status().message()));
  }
  std::atomic<uint64_t> cluster_id{identity.cluster_id};

  storage::StoreOptions store_options;
  store_options.dir = config.data_dir;
  auto store = node::SqliteNodeStore::Open(store_options, raft::ConfState{});
  if (!store.ok()) Die(absl::StrCat("BADGER_DB_PATH: ", store.status().message()));
  // Members the book does not know (added after this node's RAFT_PEERS, perhaps while it
  // was down) are in the replicated member directory.
  book.set_directory([directory = store->get()](uint64_t id) -> std::optional<PeerInfo> {
    auto row = directory->Get(node::MemberRowKey(id));
    PeerInfo info;
    if (!row.ok() || !row->has_value() || !ParseMemberContext(**row, &info.name, &info.address)) {
      return std::nullopt;
    }
    return info;
  });
  storage::Store& raw_store = (*store)->store();
  const bool empty = raw_store.LastIndex().value_or(0) == 0 && raw_store.applied_index() == 0;
  if (empty && config.bootstrap && identity.cluster_id != 0) {
    // A new cluster (or a bootstrap that crashed before its first entry was durable).
    if (absl::Status s =
            BootstrapNewCluster(&raw_store, self_id, config.node_id, config.raft_address);
        !s.ok()) {
      Die(absl::StrCat("bootstrapping: ", s.message()));
    }
    if (absl::Status s = (*store)->ReloadLog(); !s.ok()) {
      Die(absl::StrCat("bootstrapping: ", s.message()));
    }
    RB_LOG(INFO) << "bootstrapped cluster " << identity.cluster_id << " with " << config.node_id
                 << " as its only voter";
  } else if (!fresh && config.bootstrap) {
    RB_LOG(INFO) << "BOOTSTRAP ignored: " << config.data_dir << " holds this node's data";
  } else if (empty && config.join.empty()) {
    RB_LOG(INFO) << "no data yet: waiting to be added to a cluster";
  } else if (!empty && !config.join.empty()) {
    RB_LOG(INFO) << "--join ignored: " << config.data_dir << " holds this node's data";
  }

  if (config.force_new_cluster)
    ForceOrDie(config, self_id, &raw_store, store->get(), &identity, &cluster_id, empty);

  SelfInfo self{self_id, config.node_id, config.raft_address, &cluster_id, &security};
  PeerCounters counters;
  NodeHost* host_ptr = nullptr;
  PeerTransport transport(&self, &book, &raw_store, &host_ptr, &counters);

  NodeHostOptions host_options;
  raft::Config& rc = host_options.node.raft;
  rc.id = self_id;
  rc.election_tick = config.election_ticks;
  rc.heartbeat_tick = 1;
  rc.pre_vote = true;
  rc.check_quorum = true;
  rc.max_uncommitted_entries_bytes = 256 << 20;
  // A new commit index waits for the next append or heartbeat (at most a tick): a lone
  // write then costs the cluster about a third less CPU, and its latency falls with it on
  // a busy machine. Followers apply up to a tick later when writes stop; their
  // linearizable reads are unaffected (the read round's heartbeats carry the commit).
  rc.skip_broadcast_commit = true;
  rc.seed = NewClusterId();
  host_options.node.snapshot_every_entries = config.snapshot_threshold_entries;
  host_options.node.snapshot_keep_entries =
      std::min<uint64_t>(config.snapshot_threshold_entries, 1000);
  host_options.node.max_pending_requests = config.max_pending_requests;
  host_options.node.incarnation = NewClusterId();  // any value new to this start
  // As etcd's server: reads that arrive while a ReadIndex round is out go together in the
  // next, so a busy node runs about one round per round trip, not one per loop round.
  host_options.node.one_read_round_in_flight = true;
  // A plain put (no session) is answered once committed: its apply and the next Ready's
  // write it rides with no longer hold its answer.
  host_options.node.answer_writes_at_commit = true;
  // Lease reads need a clock that keeps running while the process is stopped (SIGSTOP) and
  // while the machine is suspended: CLOCK_BOOTTIME (CLOCK_MONOTONIC stops in a suspend).
  host_options.node.clock_us = [] {
    timespec ts{};
    RB_CHECK(clock_gettime(CLOCK_BOOTTIME, &ts) == 0, "clock_gettime(CLOCK_BOOTTIME) failed");
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
  };
  host_options.node.tick_us = static_cast<uint64_t>(config.tick_ms) * 1000;
  // Session expiry runs on log time: the leader's wall clock, never going back in the log.
  host_options.node.log_clock_ms = [] {
    return static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
  };
  host_options.tick = absl::Milliseconds(config.tick_ms);
  host_options.snapshot_interval = absl::Seconds(config.snapshot_interval_seconds);
  host_options.free_bytes = [dir = config.data_dir] { return FreeBytes(dir); };
  host_options.min_free_bytes = config.min_free_bytes;
  MetricsRegistry metrics;
  Histogram& write_seconds = DiskWriteHistogram(&metrics);
  Histogram& ready_entries = ReadyEntriesHistogram(&metrics);
  host_options.on_write_done = [&write_seconds](absl::Duration d) {
    write_seconds.Observe(absl::ToDoubleSeconds(d));
  };
  node::NodeHooks hooks;
  hooks.on_ready = [&ready_entries](const raft::Ready& rd) {
    if (!rd.entries.empty()) ready_entries.Observe(static_cast<double>(rd.entries.size()));
  };
  absl::Mutex identity_mu;
  // Set once this node has been removed from the cluster (see on_view_change below). It is
  // recorded at once, so that even a crash right after cannot bring the node back with
  // its old data.
  std::atomic<uint64_t> removed_at{0};
  // On the loop only: the index of the last removal of this node it applied (a node that
  // catches up from the log may replay an old removal that a later entry undid).
  uint64_t removal_applied_at = 0;
  bool was_member = false;
  auto record_removal = [&](uint64_t index) {
    removed_at.store(index);
    absl::MutexLock lock(&identity_mu);
    identity.removed_at_index = index;
    absl::Status s = WriteIdentity(config.data_dir, identity);
    if (!s.ok()) RB_LOG(ERROR) << "recording the removal: " << s.message();
    RB_LOG(WARNING) << "this node was removed from the cluster at log index " << index
                    << "; stopping";
    kill(getpid(), SIGTERM);  // handled below, by the main thread
  };
  hooks.on_apply = [&book, &removal_applied_at, self_id](const raft::Entry& e) {
    if (e.type != raft::EntryType::kConfChange) return;
    auto cc = raft::DecodeConfChange(e.data);
    if (!cc.ok() || cc->changes.empty()) return;
    std::string name, address;
    if (ParseMemberContext(cc->context, &name, &address)) {
      absl::Status s = book.Learn(cc->changes.back().node_id, name, address);
      if (!s.ok()) RB_LOG(ERROR) << "membership change at index " << e.index << ": " << s.message();
    }
    for (const raft::ConfChangeSingle& c : cc->changes) {
      RB_LOG(INFO) << "membership change at index " << e.index << ": " << ChangeName(c.type) << " "
                   << book.NameOf(c.node_id);
      if (c.type == raft::ConfChangeType::kRemoveNode && c.node_id == self_id) {
        removal_applied_at = e.index;
      }
    }
  };
  auto host = NodeHost::Create(host_options, *std::move(store), &transport, hooks);
  if (!host.ok()) Die(absl::StrCat("starting the node: ", host.status().message()));
  host_ptr = host->get();

  auto adopt_cluster = [&](uint64_t id) {
    uint64_t expected = 0;
    if (!cluster_id.compare_exchange_strong(expected, id)) return;
    absl::MutexLock lock(&identity_mu);
    identity.cluster_id = id;
    absl::Status s = WriteIdentity(config.data_dir, identity);
    if (!s.ok()) RB_LOG(ERROR) << "recording the cluster id: " << s.message();
    RB_LOG(INFO) << "joined cluster " << id;
  };

  KvCore core(&config, host_ptr, &(*host)->store(), &book, &cluster_id, &security);
  BadgerServiceImpl badger(&core);
  KvServiceImpl kv(&core);
  ClusterServiceImpl cluster(&core);
  AdminServiceImpl admin(&core, host_ptr, &book, &cluster_id, config.promote_lag_entries,
                         absl::StrCat(config.data_dir, "/", storage::kSnapshotDirName));
  // A peer says this node was removed at an index its log never reached: it lagged behind
  // its own removal, and the leader stopped replicating to it, so it would campaign in vain
  // for ever. Weighed on the loop for an election timeout (node::Node::HearRemoval); once
  // believed, the view says so and the node stops (below).
  auto told_removed = [&, host = host_ptr](uint64_t from, uint64_t index) {
    host->Post([&, from, index](node::Node& n) {
      if (removed_at.load() != 0 || !n.HearRemoval(index)) return;  // logged once per word
      RB_LOG(WARNING) << "peer " << book.NameOf(from)
                      << " says this node was removed from the cluster at log index " << index
                      << ", which this node never received (its log ends at "
                      << n.raw().raft().log().LastIndex()
                      << "); stopping unless that still holds an election timeout from now";
    });
  };
  PeerService peer(&self, &book, &raw_store, host_ptr, &counters, adopt_cluster, told_removed);

  RegisterNodeMetrics(&metrics, NodeMetricsSources{host_ptr, &counters, config.data_dir});
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(absl::StrCat(config.listen_host, ":", config.port),
                           security.ServerCredentials(), &bound_port);
  // One limit for clients and peers on this port. A peer batch holds up to
  // kMaxPeerBatchBytes, or one append alone (up to the core's message size, plus one entry
  // past it); keys and framing need a little more. A larger request is refused by gRPC
  // itself (RESOURCE_EXHAUSTED) before it is read into memory; a value between the value
  // limit and this one is read, then refused (INVALID_ARGUMENT).
  const uint64_t max_receive_bytes =
      kMaxPeerBatchBytes + rc.max_size_per_msg_bytes + config.max_value_bytes + (64 << 10);
  GrpcLimits limits;
  limits.max_receive_bytes = max_receive_bytes;
  limits.max_handler_threads = config.max_handler_threads;
  limits.max_idle = absl::Milliseconds(config.max_connection_idle_ms);
  ApplyGrpcLimits(limits, &builder);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<RequestMetricsFactory>(&metrics));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.RegisterService(&badger);
  builder.RegisterService(&kv);
  builder.RegisterService(&cluster);
  builder.RegisterService(&admin);
  builder.RegisterService(&peer);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) {
    Die(absl::StrCat("PORT: cannot listen on ", config.listen_host, ":", config.port,
                     " (in use?)"));
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus(false);
  std::atomic<bool> storage_failed{false};  // exits 1: restart from disk
  NodeView logged;                          // the view last logged; on the loop only
  bool logged_serving = false;              // what health last said; on the loop only
  (*host)->set_on_view_change([&, health](const NodeView& v) {
    g_term.store(v.term);
    // Removed: a member once, outside the configuration now, with everything it knows to
    // be committed applied (so no later entry it has yet to apply adds it back).
    // Storage failed (a write or an fsync, a damaged page): the node has stopped. The
    // process stops too, with exit code 1, so that its supervisor starts it again from what
    // is on disk; after a failed fsync the page cache cannot be trusted, and retrying the
    // write in this process could report success over lost data.
    if (v.failed && !storage_failed.load() && !(*host)->stopping()) {
      storage_failed.store(true);
      RB_LOG(ERROR) << "storage failed: " << v.failure
                    << "; stopping, to be restarted from what is on disk";
      kill(getpid(), SIGTERM);
    }
    if (v.role != "non-member" && v.role != "stopped") was_member = true;
    if (was_member && v.role == "non-member" && v.applied >= v.commit && removed_at.load() == 0) {
      record_removal(removal_applied_at != 0 ? removal_applied_at : v.applied);
    }
    if (v.removal_believed_at != 0 && removed_at.load() == 0) record_removal(v.removal_believed_at);
    // The health service notifies its watchers on every call: only on a change.
    if (v.serving != logged_serving) health->SetServingStatus(v.serving);
    logged_serving = v.serving;
    // Logged when the role, leader, term or configuration changes, not on every flip of
    // "serving" (a follower under load is a moment behind its commit index each round).
    if (v.role == logged.role && v.leader == logged.leader && v.term == logged.term &&
        v.failed == logged.failed && v.conf == logged.conf) {
      return;
    }
    logged = v;
    RB_LOG(INFO) << "role " << v.role << ", leader " << (v.leader ? book.NameOf(v.leader) : "none")
                 << ", commit " << v.commit << ", applied " << v.applied
                 << (v.serving ? ", serving" : ", not serving")
                 << (v.failed ? absl::StrCat("; STOPPED: ", v.failure) : "");
  });

  (*host)->Start();
  std::unique_ptr<MetricsHttpServer> http;
  if (config.metrics_port != 0) {
    MetricsHttpOptions http_options;
    http_options.host = config.listen_host;
    http_options.port = config.metrics_port;
    http_options.handlers["/metrics"] = [&metrics] {
      return HttpReply{200, "text/plain; version=0.0.4; charset=utf-8", metrics.Render()};
    };
    http_options.handlers["/livez"] = [] { return HttpReply{200, "text/plain", "ok\n"}; };
    http_options.handlers["/readyz"] = [host = host_ptr] {
      const NodeView v = host->view();
      if (v.serving) return HttpReply{200, "text/plain", "ok\n"};
      return HttpReply{503, "text/plain",
                       v.failed        ? absl::StrCat("failed: ", v.failure, "\n")
                       : v.leader == 0 ? std::string("no leader known\n")
                                       : std::string("catching up with the commit index\n")};
    };
    auto started = MetricsHttpServer::Start(std::move(http_options));
    if (!started.ok()) Die(absl::StrCat("METRICS_PORT: ", started.status().message()));
    http = *std::move(started);
    RB_LOG(INFO) << "metrics on http://" << config.listen_host << ":" << config.metrics_port
                 << "/metrics";
  }
  MembershipKeeperOptions keeper_options;
  keeper_options.promote_lag_entries = config.promote_lag_entries;
  keeper_options.period = absl::Milliseconds(config.membership_check_ms);
  keeper_options.name_of = [&book](uint64_t id) { return book.NameOf(id); };
  keeper_options.self_context = MemberContext(config.node_id, config.raft_address);
  keeper_options.read_member_row = [store = &(*host)->store()](uint64_t id) {
    auto row = store->Get(node::MemberRowKey(id));
    return row.ok() ? *row : std::nullopt;
  };
  if (config.bootstrap && !identity.peers_added) {
    keeper_options.seed_peers = config.peers;
    keeper_options.removed_at = [store = &(*host)->store()](uint64_t id) {
      return node::RemovedAt(*store, id);
    };
    keeper_options.ask_leader_to_add = SeedPeerAsker(&book, &security);
    keeper_options.on_seeded = [&] {
      absl::MutexLock lock(&identity_mu);
      identity.peers_added = true;
      absl::Status s = WriteIdentity(config.data_dir, identity);
      if (!s.ok()) RB_LOG(ERROR) << "recording that RAFT_PEERS were added: " << s.message();
    };
  }
  auto keeper = std::make_unique<MembershipKeeper>(host_ptr, std::move(keeper_options));
  std::atomic<bool> join_refused{false};  // exits non-zero, as any refusal to start does
  std::unique_ptr<Joiner> joiner;
  if (empty && !config.join.empty()) {
    joiner = std::make_unique<Joiner>(
        JoinRequest{config.join, config.node_id, config.raft_address, &security},
        [&](absl::StatusOr<uint64_t> cluster) {
          if (cluster.ok()) {
            if (*cluster != 0) adopt_cluster(*cluster);
            return;
          }
          RB_LOG(ERROR) << "--join: the cluster refused to add this node: " << cluster.status();
          join_refused.store(true);
          kill(getpid(), SIGTERM);
        });
  }
  RB_LOG(INFO) << "serving on " << config.listen_host << ":" << config.port << " as "
               << config.node_id << " (raft id " << self_id << "), data in " << config.data_dir;
  int sig = 0;
  sigwait(&signals, &sig);
  RB_LOG(INFO) << "stopping (" << strsignal(sig) << ")";
  // New requests are refused; those in flight get UNAVAILABLE when the node closes.
  health->Shutdown();
  joiner.reset();
  http.reset();
  (*host)->Stop();
  keeper.reset();
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  transport.Stop();
  core.FinishReads();  // none may read the store once it closes
  host->reset();       // closes the store (with a checkpoint)
  if (const uint64_t index = removed_at.load(); index != 0) {
    RB_LOG(INFO) << "stopped: this node was removed from the cluster at log index " << index;
    return 0;
  }
  RB_LOG(INFO) << "stopped";
  if (storage_failed.load()) return 1;
  return join_refused.load() ? 2 : 0;
}

}  // namespace
}  // namespace rb::server

int main(int argc, char** argv) { return rb::server::Run(argc, argv); }
