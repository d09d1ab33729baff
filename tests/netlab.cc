#include "tests/netlab.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace rb::tests {
namespace {

// Runs a command; its output goes to the test's log only on failure.
absl::Status Sh(const std::string& command) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string out =
      absl::StrCat(dir != nullptr ? dir : "/tmp", "/netlab-", ::getpid(), ".out");
  const std::string quiet = absl::StrCat(command, " >", out, " 2>&1");
  const int rc = std::system(quiet.c_str());
  if (rc != 0) {
    std::system(absl::StrCat("cat ", out, " >&2").c_str());
    return absl::FailedPreconditionError(absl::StrCat("`", command, "` failed (", rc, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetLab>> NetLab::Create(int n) {
  if (::geteuid() != 0) return absl::FailedPreconditionError("network namespaces need root");
  if (std::system("command -v ip >/dev/null && command -v nft >/dev/null") != 0) {
    return absl::FailedPreconditionError("iproute2 (ip) and nftables (nft) are not installed");
  }
  // Short names (an interface name has at most 15 characters), unique to this process and
  // to this lab within it: the namespaces of a lab just destroyed may linger a moment.
  static int labs = 0;
  const int tag = static_cast<int>(::getpid() % 10000) * 10 + labs++ % 10;
  std::unique_ptr<NetLab> lab(new NetLab(n, 1 + tag % 250, absl::StrCat("rb", tag)));
  absl::Status s = lab->Setup();
  if (!s.ok()) return s;  // the destructor removes what was made
  return lab;
}

std::string NetLab::ns(int i) const { return absl::StrCat(prefix_, "n", i); }

std::string NetLab::host(int i) const { return absl::StrCat("10.77.", subnet_, ".", i); }

std::vector<std::string> NetLab::Launcher(int i) const {
  // Process::Start does not search PATH.
  const char* ip = std::filesystem::exists("/usr/sbin/ip") ? "/usr/sbin/ip" : "/sbin/ip";
  return {ip, "netns", "exec", ns(i)};
}

absl::Status NetLab::Setup() {
  const std::string bridge = absl::StrCat(prefix_, "br");
  if (absl::Status s = Sh(absl::StrCat("ip link add ", bridge, " type bridge")); !s.ok()) {
    return s;
  }
  if (absl::Status s = Sh(absl::StrCat("ip addr add 10.77.", subnet_, ".254/24 dev ", bridge,
                                       " && ip link set ", bridge, " up"));
      !s.ok()) {
    return s;
  }
  for (int i = 1; i <= n_; ++i) {
    const std::string veth = absl::StrCat(prefix_, "v", i);
    const std::string steps[] = {
        absl::StrCat("ip netns add ", ns(i)),
        absl::StrCat("ip link add ", veth, " type veth peer name eth0 netns ", ns(i)),
        absl::StrCat("ip link set ", veth, " master ", bridge, " up"),
        absl::StrCat("ip -n ", ns(i), " addr add ", host(i), "/24 dev eth0"),
        absl::StrCat("ip -n ", ns(i), " link set eth0 up"),
        absl::StrCat("ip -n ", ns(i), " link set lo up"),
        // One table per node, with an input chain that partitions add rules to.
        absl::StrCat("ip netns exec ", ns(i), " nft add table inet rb"),
        absl::StrCat("ip netns exec ", ns(i),
                     " nft add chain inet rb in '{ type filter hook input priority 0 ; }'"),
    };
    for (const std::string& step : steps) {
      if (absl::Status s = Sh(step); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

NetLab::~NetLab() {
  for (int i = 1; i <= n_; ++i) {
    // Deleting our end removes the pair at once, even while a process is still inside.
    std::system(absl::StrCat("ip link del ", prefix_, "v", i, " >/dev/null 2>&1").c_str());
    std::system(absl::StrCat("ip netns del ", ns(i), " >/dev/null 2>&1").c_str());
  }
  std::system(absl::StrCat("ip link del ", prefix_, "br >/dev/null 2>&1").c_str());
}

absl::Status NetLab::Nft(int i, const std::string& rule) {
  return Sh(absl::StrCat("ip netns exec ", ns(i), " nft ", rule));
}

absl::Status NetLab::DropFrom(int to, int from) {
  return Nft(to, absl::StrCat("add rule inet rb in ip saddr ", host(from), " drop"));
}

absl::Status NetLab::Cut(int a, int b) {
  if (absl::Status s = DropFrom(a, b); !s.ok()) return s;
  return DropFrom(b, a);
}

absl::Status NetLab::Isolate(int i) {
  for (int j = 1; j <= n_; ++j) {
    if (j == i) continue;
    if (absl::Status s = Cut(i, j); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status NetLab::Heal() {
  for (int i = 1; i <= n_; ++i) {
    if (absl::Status s = Nft(i, "flush chain inet rb in"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace rb::tests
