// bench/loadgen against a real cluster: its fill mode (--sequential --operations) writes
// every key of the range in exactly that many operations, and its flags are checked.
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "tests/local_cluster.h"
#include "tests/process.h"

namespace rb::tests {
namespace {

std::string LoadgenBinary() {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"),
                      "/bench/loadgen");
}

std::string Endpoints(const LocalCluster& c) {
  std::string out;
  for (const std::string& e : c.endpoints()) absl::StrAppend(&out, out.empty() ? "" : ",", e);
  return out;
}

TEST(LoadgenTest, AFillWritesEveryKeyOnceAndStopsThere) {
  LocalCluster c(3);
  c.StartAll();
  ASSERT_TRUE(c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout).ok()) << c.Logs();
  constexpr int kKeys = 300;
  RunResult fill = RunToCompletion(LoadgenBinary(),
                                   {"--endpoints=" + Endpoints(c), "--clients=16", "--sequential",
                                    "--warmup=0s", absl::StrCat("--operations=", kKeys),
                                    absl::StrCat("--keys=", kKeys), "--value_bytes=100", "--json"},
                                   {{"PATH", "/usr/bin:/bin"}}, c.root(), absl::Seconds(60));
  ASSERT_EQ(fill.exit_code, 0) << fill.output;
  EXPECT_NE(fill.output.find(absl::StrCat("\"ok\":", kKeys, ",")), std::string::npos)
      << fill.output;

  client::Client client(client::ClientOptions{c.endpoints()});
  for (int k = 0; k < kKeys; ++k) {
    auto got = client.Get(absl::StrCat("loadgen/", k));
    ASSERT_TRUE(got.ok()) << k << ": " << got.status();
    EXPECT_EQ(got->value, std::string(100, 'v'));
  }
  EXPECT_TRUE(absl::IsNotFound(client.Get(absl::StrCat("loadgen/", kKeys)).status()));
}

TEST(LoadgenTest, AnOperationCountWithAWarmUpIsRefused) {
  RunResult run = RunToCompletion(LoadgenBinary(),
                                  {"--endpoints=localhost:1", "--operations=10", "--warmup=1s"},
                                  {{"PATH", "/usr/bin:/bin"}}, "/", absl::Seconds(30));
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("--warmup=0s"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace rb::tests
