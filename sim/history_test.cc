// The --history output must be valid JSON for any key and value, checked with a real JSON
// parser (nlohmann-json, Debian's nlohmann-json3-dev), and must read back exactly.
#include "sim/history.h"

#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace rb::sim {
namespace {

// Undoes the byte mapping: each code point below 256 is one byte.
std::string Bytes(const std::string& utf8) {
  std::string out;
  for (size_t i = 0; i < utf8.size(); ++i) {
    const auto b = static_cast<unsigned char>(utf8[i]);
    if (b < 0x80) {
      out += utf8[i];
    } else {
      // Two-byte UTF-8 (U+0080..U+00FF): 110000xx 10xxxxxx.
      out += static_cast<char>(((b & 0x03) << 6) | (static_cast<unsigned char>(utf8[++i]) & 0x3f));
    }
  }
  return out;
}

TEST(HistoryTest, EveryKeyAndValueGivesValidJsonThatReadsBack) {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes += static_cast<char>(b);
  std::vector<Operation> history(3);
  history[0].kind = OpKind::kPut;
  history[0].key = "quote\" backslash\\ newline\n";
  history[0].value = all_bytes;
  history[0].completed = true;
  history[0].return_us = 7;
  history[1].kind = OpKind::kGet;
  history[1].key = all_bytes;
  history[1].read = std::string("\xff\x00", 2);
  history[1].completed = true;
  history[1].return_us = 9;
  history[2].kind = OpKind::kCas;  // timed out: no output, no return time
  history[2].key = "k";
  history[2].expected = std::nullopt;
  history[2].value = "v";

  std::ostringstream out;
  WriteHistoryJson(history, out);
  std::istringstream lines(out.str());
  std::string line;
  std::vector<nlohmann::json> parsed;
  while (std::getline(lines, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    parsed.push_back(j);
  }
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(Bytes(parsed[0]["key"].get<std::string>()), history[0].key);
  EXPECT_EQ(Bytes(parsed[0]["input"].get<std::string>()), all_bytes);
  EXPECT_TRUE(parsed[0]["completed"].get<bool>());
  EXPECT_EQ(parsed[0]["output"], "ok");
  EXPECT_EQ(Bytes(parsed[1]["key"].get<std::string>()), all_bytes);
  EXPECT_EQ(Bytes(parsed[1]["output"].get<std::string>()), std::string("\xff\x00", 2));
  EXPECT_EQ(parsed[1]["return_us"], 9);
  // A timed-out operation says so in its own field; its output is not a sentinel value.
  EXPECT_FALSE(parsed[2]["completed"].get<bool>());
  EXPECT_TRUE(parsed[2]["output"].is_null());
  EXPECT_TRUE(parsed[2]["return_us"].is_null());
  EXPECT_TRUE(parsed[2]["input"]["expected"].is_null());
}

}  // namespace
}  // namespace rb::sim
