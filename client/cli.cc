// raftbadger-cli: talk to a RaftBadger cluster from a shell.
//
//   raftbadger-cli --endpoints=localhost:50051,localhost:50052 put KEY VALUE
//   raftbadger-cli --endpoints=... get KEY [--consistency=linearizable|lease|stale]
//   raftbadger-cli --endpoints=... update KEY VALUE | delete KEY | cas KEY EXPECTED NEW
//   raftbadger-cli --endpoints=... cas KEY --absent NEW | list PREFIX [--limit=N]
//   raftbadger-cli --endpoints=... status [-w json] | demo
//   raftbadger-cli --endpoints=... member list | member add NAME HOST:PORT
//   raftbadger-cli --endpoints=... member promote NAME | member remove NAME
//   raftbadger-cli --endpoints=... transfer-leader NAME | snapshot [--endpoint=HOST:PORT]
//   raftbadger-cli --endpoints=... backup FILE [--endpoint=HOST:PORT]
//   raftbadger-cli restore FILE --data-dir=DIR --name=NAME
//   raftbadger-cli inspect --data-dir=DIR
//   raftbadger-cli --endpoints=... compact [--endpoint=HOST:PORT]
//
// Exit codes a script can rely on: 0 done; 1 the key was not found, or a compare failed;
// 2 usage error; 3 the cluster could not answer (unavailable, deadline, other errors).
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "server/inspect.h"
#include "server/restore.h"

namespace rb::client {
namespace {

namespace v1 = raftbadger::v1;

constexpr int kOk = 0, kNotFound = 1, kUsage = 2, kFailed = 3;

int Usage(const std::string& why) {
  std::fprintf(
      stderr,
      "raftbadger-cli: %s\n"
      "usage: raftbadger-cli --endpoints=HOST:PORT[,...] COMMAND\n"
      "  put KEY VALUE        write (through the leader)\n"
      "  get KEY              read [--consistency=linearizable|lease|stale]\n"
      "                       [--endpoint=HOST:PORT to ask that member]\n"
      "  update KEY VALUE     write only if KEY exists\n"
      "  delete KEY\n"
      "  cas KEY EXPECTED NEW write NEW only if KEY holds EXPECTED (--absent: if missing)\n"
      "  list PREFIX          keys with PREFIX [--limit=N, default 100]\n"
      "  status               one row per endpoint [-w json: a JSON array]\n"
      "  demo                 write a key through the leader, read it from every follower\n"
      "  member list          the members, as the leader sees them\n"
      "  member add NAME HOST:PORT\n"
      "                       add a node (its RAFT_ADDRESS) as a learner; it is promoted to\n"
      "                       voter once it has caught up\n"
      "  member promote NAME  make a caught-up learner a voter now\n"
      "  member remove NAME   remove a member (the leader hands over leadership first)\n"
      "  transfer-leader NAME make NAME (a voter) the leader\n"
      "  snapshot             snapshot a member now and compact its log [--endpoint]\n"
      "  backup FILE          a consistent copy of a member's state machine [--endpoint],\n"
      "                       verified before it is kept\n"
      "  restore FILE --data-dir=DIR --name=NAME\n"
      "                       prepare DIR (empty) to start a new one-node cluster from FILE\n"
      "  compact              checkpoint a member's WAL into its database and truncate it\n"
      "                       [--endpoint]\n"
      "  inspect --data-dir=DIR\n"
      "                       what a stopped node's data directory holds, checked, unchanged\n"
      "security (for a cluster started with TLS_* or AUTH_TOKEN_FILE):\n"
      "  --cacert=FILE        CA certificate (PEM) to verify the members with: TLS\n"
      "  --cert=FILE --key=FILE\n"
      "                       this client's certificate and key (PEM), signed by that CA\n"
      "  --token-file=FILE    send the token in FILE as `authorization: Bearer <token>`\n"
      "exit codes: 0 done, 1 not found or compare failed, 2 usage, 3 cluster error\n",
      why.c_str());
  return kUsage;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "error: %s: %s\n", absl::StatusCodeToString(s.code()).c_str(),
               std::string(s.message()).c_str());
  return absl::IsNotFound(s) ? kNotFound : kFailed;
}

// One row per member: name, address, role, and the leader's view of its progress.
void PrintMembers(const google::protobuf::RepeatedPtrField<v1::Member>& members) {
  std::printf("%-16s %-22s %-8s %-12s %s\n", "NAME", "ADDRESS", "ROLE", "MATCH", "PROGRESS");
  for (const v1::Member& m : members) {
    std::printf("%-16s %-22s %-8s %-12llu %s\n",
                m.name().empty() ? absl::StrCat(m.raft_id()).c_str() : m.name().c_str(),
                m.address().c_str(), m.voter() ? "voter" : "learner",
                static_cast<unsigned long long>(m.match_index()), m.progress_state().c_str());
  }
}

int Backup(Client* client, const std::string& file, const std::string& endpoint) {
  const std::string partial = file + ".partial";
  auto header = client->Backup(endpoint, partial);
  if (!header.ok()) {
    std::remove(partial.c_str());
    return Fail(header.status());
  }
  auto verified = server::VerifyBackup(partial);
  if (!verified.ok()) {
    std::remove(partial.c_str());
    return Fail(verified.status());
  }
  if (std::rename(partial.c_str(), file.c_str()) != 0) {
    return Fail(absl::InternalError(absl::StrCat("renaming ", partial, " to ", file)));
  }
  std::printf("backup of %s at revision %llu: %llu rows, %llu bytes, verified -> %s\n",
              header->member().c_str(), static_cast<unsigned long long>(header->index()),
              static_cast<unsigned long long>(verified->rows),
              static_cast<unsigned long long>(header->file_bytes()), file.c_str());
  return kOk;
}

int Restore(const std::string& file, const std::string& data_dir, const std::string& name) {
  if (data_dir.empty() || name.empty()) return Usage("restore needs --data-dir and --name");
  auto restored = server::RestoreFromBackup(file, data_dir, name);
  if (!restored.ok()) return Fail(restored.status());
  std::printf(
      "restored revision %llu (%llu rows) into %s as %s, a new cluster %llu.\n"
      "Start it: NODE_ID=%s BADGER_DB_PATH=%s RAFT_ADDRESS=HOST:PORT PORT=PORT raftbadger\n"
      "Then add members with --join.\n",
      static_cast<unsigned long long>(restored->index),
      static_cast<unsigned long long>(restored->rows), data_dir.c_str(), name.c_str(),
      static_cast<unsigned long long>(restored->cluster_id), name.c_str(), data_dir.c_str());
  return kOk;
}

int Member(Client* client, const std::vector<std::string>& args) {
  auto need = [&](size_t n) { return args.size() == n + 2; };
  const std::string sub = args.size() > 1 ? args[1] : "";
  absl::StatusOr<v1::MemberChangeResponse> changed;
  if (sub == "list" && need(0)) {
    auto list = client->MemberList();
    if (!list.ok()) return Fail(list.status());
    PrintMembers(list->members());
    return kOk;
  } else if (sub == "add" && need(2)) {
    changed = client->MemberAdd(args[2], args[3]);
  } else if (sub == "promote" && need(1)) {
    changed = client->MemberPromote(args[2]);
  } else if (sub == "remove" && need(1)) {
    changed = client->MemberRemove(args[2]);
  } else {
    return Usage(
        "member list | member add NAME HOST:PORT | member promote NAME | "
        "member remove NAME");
  }
  if (!changed.ok()) return Fail(changed.status());
  if (changed->index() == 0) {
    std::printf("nothing to change: %s is already %s\n", args[2].c_str(),
                sub == "add" ? "a member" : "a voter");
  } else {
    std::printf("%s %s: committed and applied at log index %llu\n", sub.c_str(), args[2].c_str(),
                static_cast<unsigned long long>(changed->index()));
  }
  PrintMembers(changed->members());
  return kOk;
}

// One JSON array, an object per endpoint: the member's StatusResponse (protobuf's JSON
// mapping, field names in lowerCamelCase) with its endpoint, or the endpoint and an error.
int StatusJson(Client* client, const std::vector<std::string>& endpoints) {
  auto all = client->StatusAll();
  nlohmann::json out = nlohmann::json::array();
  bool any = false;
  for (size_t i = 0; i < all.size(); ++i) {
    nlohmann::json row;
    if (all[i].ok()) {
      std::string text;
      google::protobuf::util::JsonPrintOptions options;
      options.always_print_primitive_fields = true;
      if (!google::protobuf::util::MessageToJsonString(*all[i], &text, options).ok()) {
        return Fail(absl::InternalError("cannot print a status as JSON"));
      }
      row = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      any = true;
    } else {
      row["error"] = std::string(all[i].status().message());
    }
    row["endpoint"] = endpoints[i];
    out.push_back(std::move(row));
  }
  // Error messages may hold any bytes: replace what is not UTF-8 rather than fail.
  std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return any ? kOk : kFailed;
}

int Status(Client* client, const std::vector<std::string>& endpoints) {
  std::printf("%-16s %-22s %-12s %6s %8s %8s %-12s %6s %10s\n", "NAME", "ENDPOINT", "ROLE", "TERM",
              "COMMIT", "APPLIED", "LEADER", "LAG", "DB");
  auto all = client->StatusAll();
  // How far behind the leader each member is: the highest commit index any reports.
  uint64_t newest = 0;
  for (const auto& s : all) {
    if (s.ok()) newest = std::max(newest, s->commit_index());
  }
  bool any = false;
  for (size_t i = 0; i < all.size(); ++i) {
    if (!all[i].ok()) {
      std::printf("%-16s %-22s %-12s %s\n", "?", endpoints[i].c_str(), "unreachable",
                  std::string(all[i].status().message()).c_str());
      continue;
    }
    any = true;
    const v1::StatusResponse& s = *all[i];
    std::printf("%-16s %-22s %-12s %6llu %8llu %8llu %-12s %6llu %10s\n", s.name().c_str(),
                endpoints[i].c_str(), s.role().c_str(), static_cast<unsigned long long>(s.term()),
                static_cast<unsigned long long>(s.commit_index()),
                static_cast<unsigned long long>(s.applied_index()),
                s.leader_name().empty() ? "-" : s.leader_name().c_str(),
                static_cast<unsigned long long>(newest - std::min(newest, s.applied_index())),
                absl::StrCat(s.db_size_bytes() / 1024, " KiB").c_str());
  }
  return any ? kOk : kFailed;
}

int Demo(Client* client) {
  // What the old Go client did (write to the leader, then read from the followers), but
  // without its 2 s sleep: a linearizable read on a follower sees the write at once.
  auto leader = client->FindLeader();
  if (!leader.ok()) return Fail(leader.status());
  const std::string key = "demo-key";
  const std::string value =
      absl::StrCat("hello from raftbadger-cli at ", absl::FormatTime(absl::Now()));
  auto rev = client->Put(key, value);
  if (!rev.ok()) return Fail(rev.status());
  std::printf("wrote %s through the leader %s (revision %llu)\n", key.c_str(), leader->c_str(),
              static_cast<unsigned long long>(*rev));
  int followers = 0;
  for (const auto& status : client->StatusAll()) {
    if (!status.ok() || status->role() == "leader") continue;
    auto got = client->Get(key, v1::LINEARIZABLE, status->address());
    if (!got.ok()) return Fail(got.status());
    if (got->value != value) {
      std::fprintf(stderr, "error: follower %s returned a different value\n",
                   status->name().c_str());
      return kFailed;
    }
    std::printf("read it back from follower %s (%s): %s\n", status->name().c_str(),
                status->address().c_str(), got->value.c_str());
    ++followers;
  }
  if (followers == 0) {
    std::fprintf(stderr, "error: no follower answered (give every member's endpoint)\n");
    return kFailed;
  }
  std::printf("demo ok: %d followers agree\n", followers);
  return kOk;
}

int Run(int argc, char** argv) {
  std::vector<std::string> endpoints, args;
  std::string consistency = "linearizable", endpoint, data_dir, name;
  uint32_t limit = 100;
  bool absent = false;
  std::string write_out = "table";
  TlsFiles tls_files;
  std::string token_file;
  absl::Duration timeout = absl::Seconds(20);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-w" && i + 1 < argc) {
      write_out = argv[++i];
    } else if (a.rfind("--write-out=", 0) == 0) {
      write_out = a.substr(12);
    } else if (a.rfind("--endpoints=", 0) == 0) {
      endpoints = absl::StrSplit(a.substr(12), ',', absl::SkipEmpty());
    } else if (a.rfind("--consistency=", 0) == 0) {
      consistency = a.substr(14);
    } else if (a.rfind("--endpoint=", 0) == 0) {
      endpoint = a.substr(11);
    } else if (a.rfind("--limit=", 0) == 0) {
      limit = static_cast<uint32_t>(std::strtoul(a.c_str() + 8, nullptr, 10));
    } else if (a.rfind("--timeout=", 0) == 0) {
      if (!absl::ParseDuration(a.substr(10), &timeout) || timeout <= absl::ZeroDuration()) {
        return Usage("--timeout takes a duration such as 5s or 500ms");
      }
    } else if (a.rfind("--data-dir=", 0) == 0) {
      data_dir = a.substr(11);
    } else if (a.rfind("--name=", 0) == 0) {
      name = a.substr(7);
    } else if (a.rfind("--cacert=", 0) == 0) {
      tls_files.ca_file = a.substr(9);
    } else if (a.rfind("--cert=", 0) == 0) {
      tls_files.cert_file = a.substr(7);
    } else if (a.rfind("--key=", 0) == 0) {
      tls_files.key_file = a.substr(6);
    } else if (a.rfind("--token-file=", 0) == 0) {
      token_file = a.substr(13);
    } else if (a == "--absent") {
      absent = true;
    } else if (a == "--help" || a == "-h") {
      Usage("help");
      return kOk;
    } else if (a.rfind("--", 0) == 0) {
      return Usage(absl::StrCat("unknown flag ", a));
    } else {
      args.push_back(a);
    }
  }
  if (endpoints.empty()) endpoints = {"localhost:50051", "localhost:50052", "localhost:50053"};
  if (args.empty()) return Usage("no command");
  v1::Consistency mode;
  if (consistency == "linearizable") {
    mode = v1::LINEARIZABLE;
  } else if (consistency == "lease") {
    mode = v1::LEASE;
  } else if (consistency == "stale") {
    mode = v1::STALE;
  } else {
    return Usage(absl::StrCat("--consistency must be linearizable, lease or stale"));
  }
  ClientOptions options;
  options.endpoints = endpoints;
  options.total_timeout = timeout;
  options.call_timeout = std::min(timeout, absl::Seconds(5));
  if (tls_files.enabled()) {
    auto tls = LoadTls(tls_files);
    if (!tls.ok()) return Usage(std::string(tls.status().message()));
    options.credentials = ChannelCredentials(&*tls);
  }
  if (!token_file.empty()) {
    auto token = ReadSecretFile(token_file);
    if (!token.ok()) return Usage(std::string(token.status().message()));
    options.token = *std::move(token);
  }
  Client client(options);
  const std::string& cmd = args[0];
  auto need = [&](size_t n) { return args.size() == n + 1; };
  if (cmd == "put" && need(2)) {
    auto rev = client.Put(args[1], args[2]);
    if (!rev.ok()) return Fail(rev.status());
    std::printf("OK revision %llu\n", static_cast<unsigned long long>(*rev));
  } else if (cmd == "update" && need(2)) {
    auto rev = client.Update(args[1], args[2]);
    if (!rev.ok()) return Fail(rev.status());
    std::printf("OK revision %llu\n", static_cast<unsigned long long>(*rev));
  } else if (cmd == "get" && need(1)) {
    auto got = client.Get(args[1], mode, endpoint);
    if (!got.ok()) return Fail(got.status());
    std::printf("%s\n", got->value.c_str());
  } else if (cmd == "delete" && need(1)) {
    auto existed = client.Delete(args[1]);
    if (!existed.ok()) return Fail(existed.status());
    std::printf(*existed ? "deleted\n" : "not there (nothing to delete)\n");
  } else if (cmd == "cas" && (absent ? need(2) : need(3))) {
    std::optional<std::string> expected;
    if (!absent) expected = args[2];
    auto r = client.CompareAndSwap(args[1], expected, args.back());
    if (!r.ok()) return Fail(r.status());
    if (!r->swapped) {
      std::printf("compare failed: nothing written\n");
      return kNotFound;
    }
    std::printf("OK revision %llu\n", static_cast<unsigned long long>(r->revision));
  } else if (cmd == "list" && need(1)) {
    auto rows = client.List(args[1], limit);
    if (!rows.ok()) return Fail(rows.status());
    for (const auto& kv : *rows) std::printf("%s=%s\n", kv.key().c_str(), kv.value().c_str());
  } else if (cmd == "status" && need(0)) {
    if (write_out == "json") return StatusJson(&client, endpoints);
    if (write_out != "table") return Usage("-w (--write-out) must be table or json");
    return Status(&client, endpoints);
  } else if (cmd == "demo" && need(0)) {
    return Demo(&client);
  } else if (cmd == "member") {
    return Member(&client, args);
  } else if (cmd == "transfer-leader" && need(1)) {
    auto moved = client.TransferLeader(args[1]);
    if (!moved.ok()) return Fail(moved.status());
    std::printf("%s leads (term %llu)\n", moved->leader_name().c_str(),
                static_cast<unsigned long long>(moved->term()));
  } else if (cmd == "backup" && need(1)) {
    return Backup(&client, args[1], endpoint);
  } else if (cmd == "compact" && need(0)) {
    auto compacted = client.Compact(endpoint);
    if (!compacted.ok()) return Fail(compacted.status());
    std::printf("WAL checkpointed: %lld bytes before, %lld after\n",
                static_cast<long long>(compacted->wal_bytes_before()),
                static_cast<long long>(compacted->wal_bytes_after()));
  } else if (cmd == "inspect" && need(0)) {
    if (data_dir.empty()) return Usage("inspect needs --data-dir");
    auto report = server::InspectDataDir(data_dir);
    if (!report.ok()) return Fail(report.status());
    std::fputs(report->c_str(), stdout);
  } else if (cmd == "restore" && need(1)) {
    return Restore(args[1], data_dir, name);
  } else if (cmd == "snapshot" && need(0)) {
    auto snap = client.Snapshot(endpoint);
    if (!snap.ok()) return Fail(snap.status());
    std::printf("snapshot taken at applied index %llu; the log before it is compacted\n",
                static_cast<unsigned long long>(snap->applied_index()));
  } else {
    return Usage(absl::StrCat("bad command or arguments: ", absl::StrJoin(args, " ")));
  }
  return kOk;
}

}  // namespace
}  // namespace rb::client

int main(int argc, char** argv) { return rb::client::Run(argc, argv); }
