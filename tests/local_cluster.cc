#include "tests/local_cluster.h"

#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/credentials.h"
#include "grpcpp/grpcpp.h"

namespace rb::tests {
namespace {

namespace v1 = raftbadger::v1;

std::string ClusterTag() {
  static int clusters = 0;
  return absl::StrCat(getpid(), "-", ++clusters);
}

std::string Runfile(const std::string& path) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"), "/", path);
}

}  // namespace

std::string ServerBinary() { return Runfile("server/raftbadger"); }
std::string CliBinary() { return Runfile("client/raftbadger-cli"); }

std::string NewTestDir(const std::string& name) {
  static int counter = 0;
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name, "-", getpid(), "-", ++counter);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

LocalCluster::LocalCluster(int n, std::map<std::string, std::string> extra_env)
    : root_(NewTestDir("cluster")), tag_(ClusterTag()), extra_env_(std::move(extra_env)) {
  for (int i = 0; i < n; ++i) AddPort();
  procs_.resize(n);
  seeds_ = n;
}

void LocalCluster::AddPort() {
  ports_.push_back(FreePort());
  reservations_.emplace_back(ports_.back());
}

int LocalCluster::AddSpare() {
  AddPort();
  procs_.resize(ports_.size());
  return size();
}

LocalCluster::~LocalCluster() {
  for (Process& p : procs_) p.Signal(SIGKILL);
}

std::vector<std::string> LocalCluster::endpoints() const {
  std::vector<std::string> out;
  for (int i = 1; i <= size(); ++i) out.push_back(endpoint(i));
  return out;
}

std::map<std::string, std::string> LocalCluster::Env(int i) const {
  std::map<std::string, std::string> env = {
      {"NODE_ID", name(i)},
      {"RAFT_ADDRESS", endpoint(i)},
      {"BADGER_DB_PATH", "./data/" + name(i)},
      {"PORT", std::to_string(ports_[i - 1])},
      {"BOOTSTRAP", i == 1 ? "true" : "false"},
      {"LISTEN_HOST", host(i)},
      {"PATH", "/usr/bin:/bin"},
  };
  if (i == 1) {
    std::vector<std::string> peers;
    for (int j = 2; j <= seeds_; ++j) {
      // As the README writes it (id:port, at localhost), or with the host when there is one.
      peers.push_back(hosts_.empty() ? absl::StrCat(name(j), ":", ports_[j - 1])
                                     : absl::StrCat(name(j), "=", endpoint(j)));
    }
    env["RAFT_PEERS"] = absl::StrJoin(peers, ",");
  }
  for (const auto& [k, v] : extra_env_) env[k] = v;
  return env;
}

absl::Status LocalCluster::Start(int i, const std::map<std::string, std::string>& more_env,
                                 uint64_t max_file_bytes) {
  std::map<std::string, std::string> env = Env(i);
  for (const auto& [k, v] : more_env) env[k] = v;
  std::string path = ServerBinary();
  std::vector<std::string> args;
  if (launcher_) {
    // The launcher execs the server in place: the process keeps its pid (for signals).
    std::vector<std::string> prefix = launcher_(i);
    path = prefix[0];
    args.assign(prefix.begin() + 1, prefix.end());
    args.push_back(ServerBinary());
  }
  auto p = Process::Start(path, args, env, root_, root_ + "/" + name(i) + ".log", max_file_bytes);
  if (!p.ok()) return p.status();
  procs_[i - 1] = *std::move(p);
  return absl::OkStatus();
}

void LocalCluster::StartAll() {
  for (int i = 1; i <= size(); ++i) Start(i).IgnoreError();
}

absl::StatusOr<v1::StatusResponse> LocalCluster::Status(int i) const {
  auto stub = v1::Cluster::NewStub(grpc::CreateChannel(endpoint(i), credentials_));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  client::AttachToken(token_, &ctx);
  v1::StatusResponse resp;
  grpc::Status s = stub->Status(&ctx, v1::StatusRequest(), &resp);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  return resp;
}

std::string LocalCluster::Logs() const {
  std::string out;
  for (int i = 1; i <= size(); ++i) absl::StrAppend(&out, "--- ", name(i), "\n", Log(i));
  return out;
}

int LocalCluster::NodeNumberOf(const std::string& n) const {
  for (int i = 1; i <= size(); ++i) {
    if (name(i) == n) return i;
  }
  return 0;
}

bool LocalCluster::AwaitLog(int i, const std::string& text, absl::Duration timeout) const {
  const absl::Time give_up = absl::Now() + timeout;
  while (absl::Now() < give_up) {
    if (Log(i).find(text) != std::string::npos) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return Log(i).find(text) != std::string::npos;
}

namespace {

size_t VoterCount(const v1::StatusResponse& s) {
  size_t voters = 0;
  for (const auto& m : s.members()) voters += m.voter() ? 1 : 0;
  return voters;
}

// One line per node: what AwaitAgreement compares, so a timeout says which part failed.
std::string Describe(const std::vector<v1::StatusResponse>& all) {
  std::string out;
  for (const auto& s : all) {
    absl::StrAppend(&out, "\n  ", s.name(), ": ", s.role(), " term ", s.term(), " leader \"",
                    s.leader_name(), "\" commit ", s.commit_index(), " applied ", s.applied_index(),
                    " voters ", VoterCount(s));
  }
  return out;
}

}  // namespace

absl::StatusOr<int> LocalCluster::AwaitAgreement(const std::vector<int>& nodes, size_t voters,
                                                 absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last = "no answer yet";
  // Polls the processes' state: there is nothing to wait on across processes.
  while (absl::Now() < deadline) {
    std::vector<v1::StatusResponse> all;
    for (int i : nodes) {
      auto s = Status(i);
      if (!s.ok()) {
        last = absl::StrCat(name(i), ": ", s.status().message());
        break;
      }
      all.push_back(*s);
    }
    if (all.size() == nodes.size()) {
      const std::string leader = all[0].leader_name();
      const int leader_number = NodeNumberOf(leader);
      bool agree = !leader.empty() && leader_number != 0;
      for (const auto& s : all) agree = agree && s.leader_name() == leader;
      // The leader's commit index first, then every node's applied index: under load the
      // commit index moves on, and a reference taken after the others would never be met.
      auto from_leader = agree ? Status(leader_number) : absl::StatusOr<v1::StatusResponse>();
      if (agree && from_leader.ok()) {
        const uint64_t commit = from_leader->commit_index();
        agree = VoterCount(*from_leader) == voters && commit > 0 && from_leader->role() == "leader";
        for (int i : nodes) {
          if (!agree) break;
          auto s = Status(i);
          agree = s.ok() && s->applied_index() >= commit;
        }
        if (agree) return leader_number;
      }
      last = absl::StrCat("not yet agreed by all:", Describe(all));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no agreement within ", absl::FormatDuration(timeout), ": ", last));
}

}  // namespace rb::tests
