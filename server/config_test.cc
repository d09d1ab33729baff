#include "server/config.h"

#include "gtest/gtest.h"

namespace rb::server {
namespace {

ConfigSources Minimal() {
  ConfigSources s;
  s.env["NODE_ID"] = "replica1";
  s.working_dir = "/work";
  return s;
}

TEST(ConfigTest, TheOldServicesEnvironmentStartsANode) {
  ConfigSources s = Minimal();
  s.env["RAFT_ADDRESS"] = "localhost:50051";
  s.env["RAFT_PEERS"] = "replica2:50052,replica3:50053";
  s.env["BADGER_DB_PATH"] = "./data/replica1";
  s.env["PORT"] = "50051";
  s.env["BOOTSTRAP"] = "true";
  auto c = ResolveConfig(s);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node_id, "replica1");
  EXPECT_EQ(c->raft_address, "localhost:50051");
  ASSERT_EQ(c->peers.size(), 2u);
  EXPECT_EQ(c->peers[0].name, "replica2");
  EXPECT_EQ(c->peers[0].address, "localhost:50052");
  EXPECT_EQ(c->peers[1].address, "localhost:50053");
  EXPECT_TRUE(c->bootstrap);
  EXPECT_EQ(c->port, 50051);
  EXPECT_EQ(c->data_dir, "/work/./data/replica1");  // relative to the working directory
  EXPECT_EQ(c->snapshot_threshold_entries, 1000u);
  EXPECT_EQ(c->snapshot_interval_seconds, 3600u);
}

TEST(ConfigTest, DefaultsFollowTheOldService) {
  auto c = ResolveConfig(Minimal());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->port, 50051);
  EXPECT_EQ(c->raft_address, "localhost:50051");
  EXPECT_EQ(c->data_dir, "/work/./data");
  EXPECT_FALSE(c->bootstrap);
  EXPECT_TRUE(c->peers.empty());
  EXPECT_EQ(c->membership_check_ms, 300);
}

TEST(ConfigTest, PrecedenceIsFlagEnvironmentDotEnvFileDefault) {
  ConfigSources s;
  s.json_text = R"({"NodeID": "from-file", "Port": 1001, "BootstrapNode": true,
                    "BadgerDirectory": "/file", "SnapshotThreshold": 7})";
  s.json_path = "config.json";
  s.dot_env = {{"NODE_ID", "from-dotenv"}, {"PORT", "1002"}, {"BADGER_DB_PATH", "/dotenv"}};
  s.env = {{"NODE_ID", "from-env"}, {"PORT", "1003"}};
  s.flags = {{"node_id", "from-flag"}};
  auto c = ResolveConfig(s);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node_id, "from-flag");
  EXPECT_EQ(c->port, 1003);
  EXPECT_EQ(c->data_dir, "/dotenv");
  EXPECT_TRUE(c->bootstrap);
  EXPECT_EQ(c->snapshot_threshold_entries, 7u);
}

TEST(ConfigTest, PeersAcceptHostsAndRefuseMalformedEntries) {
  auto peers = ParsePeers("a=10.0.0.2:7000, b:7001");
  ASSERT_TRUE(peers.ok()) << peers.status();
  EXPECT_EQ((*peers)[0].address, "10.0.0.2:7000");
  EXPECT_EQ((*peers)[1].address, "localhost:7001");
  EXPECT_FALSE(ParsePeers("a").ok());
  EXPECT_FALSE(ParsePeers("a:0").ok());
  EXPECT_FALSE(ParsePeers("a:70000").ok());
  EXPECT_FALSE(ParsePeers("a:1,a:2").ok());
  EXPECT_FALSE(ParsePeers("bad name:1").ok());
}

// Each error names the setting and where its value came from.
TEST(ConfigTest, BadConfigurationNamesTheSettingAndItsSource) {
  struct Case {
    std::string env, value, expect;
  };
  for (const Case& k : std::vector<Case>{
           {"PORT", "http", "PORT (environment)"},
           {"BOOTSTRAP", "maybe", "BOOTSTRAP (environment)"},
           {"RAFT_ADDRESS", "nowhere", "RAFT_ADDRESS (environment)"},
           {"RAFT_PEERS", "replica2", "RAFT_PEERS (environment)"},
           {"RAFT_PEERS", "replica1:50052", "itself"},
           {"READ_CONSISTENCY", "eventual", "READ_CONSISTENCY"},
           {"NODE_ID", "", "NODE_ID is required"},
           {"NODE_ID", "has space", "NODE_ID (environment)"},
           {"MEMBERSHIP_CHECK_MS", "5", "MEMBERSHIP_CHECK_MS (environment)"},
       }) {
    ConfigSources s = Minimal();
    s.env[k.env] = k.value;
    auto c = ResolveConfig(s);
    ASSERT_FALSE(c.ok()) << k.env << "=" << k.value;
    EXPECT_NE(c.status().message().find(k.expect), std::string::npos)
        << k.env << "=" << k.value << ": " << c.status();
  }
  ConfigSources s = Minimal();
  s.json_text = R"({"Port": 1, "Colour": "blue"})";
  s.json_path = "c.json";
  EXPECT_NE(ResolveConfig(s).status().message().find("unknown key \"Colour\""), std::string::npos);
  s.json_text = "{not json";
  EXPECT_NE(ResolveConfig(s).status().message().find("not a JSON object"), std::string::npos);
}

TEST(ConfigTest, JoinTakesMembersAndExcludesBootstrap) {
  ConfigSources s = Minimal();
  s.flags["join"] = "localhost:50051, db2.example:7000";
  auto c = ResolveConfig(s);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->join, (std::vector<std::string>{"localhost:50051", "db2.example:7000"}));
  EXPECT_EQ(c->promote_lag_entries, 100u);

  s.flags["join"] = "localhost";
  auto bad = ResolveConfig(s);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--join"), std::string::npos) << bad.status();

  s.flags["join"] = "localhost:50051";
  s.env["BOOTSTRAP"] = "true";
  auto both = ResolveConfig(s);
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("must not also bootstrap"), std::string::npos)
      << both.status();
}

TEST(ConfigTest, WipeRemovedDataNeedsJoin) {
  ConfigSources s = Minimal();
  s.env["WIPE_REMOVED_DATA"] = "true";
  auto alone = ResolveConfig(s);
  ASSERT_FALSE(alone.ok());
  EXPECT_NE(alone.status().message().find("only means something with --join"), std::string::npos);
  s.env["JOIN"] = "localhost:50051";
  auto c = ResolveConfig(s);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->wipe_removed_data);
}

TEST(ConfigTest, MetricsPortIsOffByDefaultAndMustDifferFromPort) {
  ConfigSources s = Minimal();
  auto c = ResolveConfig(s);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metrics_port, 0);
  s.env["METRICS_PORT"] = "9100";
  c = ResolveConfig(s);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metrics_port, 9100);
  s.env["METRICS_PORT"] = "50051";
  EXPECT_FALSE(ResolveConfig(s).ok());
  s.env["METRICS_PORT"] = "70000";
  EXPECT_FALSE(ResolveConfig(s).ok());
}

TEST(ConfigTest, TlsFilesComeTogetherAndResolveAgainstTheWorkingDirectory) {
  ConfigSources s = Minimal();
  auto plain = ResolveConfig(s);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_TRUE(plain->tls_cert_file.empty());
  EXPECT_TRUE(plain->auth_token_file.empty());
  s.env["TLS_CERT_FILE"] = "certs/replica1.pem";
  s.env["TLS_CA_FILE"] = "/etc/rb/ca.pem";
  auto partial = ResolveConfig(s);
  ASSERT_FALSE(partial.ok());
  EXPECT_NE(partial.status().message().find("TLS_KEY_FILE"), std::string::npos) << partial.status();
  s.flags["tls_key_file"] = "certs/replica1.key";
  s.env["AUTH_TOKEN_FILE"] = "token";
  auto c = ResolveConfig(s);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->tls_cert_file, "/work/certs/replica1.pem");
  EXPECT_EQ(c->tls_key_file, "/work/certs/replica1.key");
  EXPECT_EQ(c->tls_ca_file, "/etc/rb/ca.pem");
  EXPECT_EQ(c->auth_token_file, "/work/token");
}

TEST(ConfigTest, DotEnvLines) {
  auto e = ParseDotEnv("# comment\nexport NODE_ID=replica2\nPORT = \"50052\"\nX=1 # note\n");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ((*e)["NODE_ID"], "replica2");
  EXPECT_EQ((*e)["PORT"], "50052");
  EXPECT_EQ((*e)["X"], "1");
  EXPECT_FALSE(ParseDotEnv("just words\n").ok());
}

TEST(ConfigTest, HelpListsEverySettingByAllItsNames) {
  const std::string help = HelpText();
  for (const SettingSpec& s : Settings()) {
    EXPECT_NE(help.find(std::string("--") + s.flag), std::string::npos) << s.flag;
    EXPECT_NE(help.find(s.env), std::string::npos) << s.env;
    EXPECT_NE(help.find(s.json), std::string::npos) << s.json;
  }
}

}  // namespace
}  // namespace rb::server
