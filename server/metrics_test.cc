#include "server/metrics.h"

#include "gtest/gtest.h"
#include "server/metrics_http.h"
#include "tests/process.h"

namespace rb::server {
namespace {

TEST(MetricsTest, RendersFamiliesSortedWithHelpTypeAndLabels) {
  MetricsRegistry r;
  r.GetCounter("rb_b_total", "B things.", {{"kind", "x"}}).Inc(2);
  r.GetCounter("rb_b_total", "ignored: the first help counts", {{"kind", "a\"b\\c\nd"}}).Inc();
  r.GetGauge("rb_a", "A level.").Set(1.5);
  EXPECT_EQ(r.Render(),
            "# HELP rb_a A level.\n"
            "# TYPE rb_a gauge\n"
            "rb_a 1.5\n"
            "# HELP rb_b_total B things.\n"
            "# TYPE rb_b_total counter\n"
            "rb_b_total{kind=\"a\\\"b\\\\c\\nd\"} 1\n"
            "rb_b_total{kind=\"x\"} 2\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  MetricsRegistry r;
  Histogram& h = r.GetHistogram("rb_d_seconds", "D.", {0.1, 1}, {{"m", "x"}});
  for (double v : {0.05, 0.1, 0.5, 2.0}) h.Observe(v);
  EXPECT_EQ(r.Render(),
            "# HELP rb_d_seconds D.\n"
            "# TYPE rb_d_seconds histogram\n"
            "rb_d_seconds_bucket{m=\"x\",le=\"0.1\"} 2\n"
            "rb_d_seconds_bucket{m=\"x\",le=\"1\"} 3\n"
            "rb_d_seconds_bucket{m=\"x\",le=\"+Inf\"} 4\n"
            "rb_d_seconds_sum{m=\"x\"} 2.65\n"
            "rb_d_seconds_count{m=\"x\"} 4\n");
}

TEST(MetricsTest, CollectorsRunBeforeEachRender) {
  MetricsRegistry r;
  uint64_t source = 7;
  r.OnCollect([&] { r.GetCounter("rb_mirrored_total", "M.").Mirror(source); });
  EXPECT_NE(r.Render().find("rb_mirrored_total 7\n"), std::string::npos);
  source = 9;
  EXPECT_NE(r.Render().find("rb_mirrored_total 9\n"), std::string::npos);
}

TEST(MetricsHttpTest, ServesHandlersAndRefusesTheRest) {
  MetricsHttpOptions options;
  options.host = "127.0.0.1";
  options.handlers["/metrics"] = [] { return HttpReply{200, "text/plain", "rb_up 1\n"}; };
  options.handlers["/readyz"] = [] { return HttpReply{503, "text/plain", "no leader\n"}; };
  auto server = MetricsHttpServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  const std::string metrics = tests::HttpGet(port, "/metrics");
  EXPECT_EQ(tests::HttpStatus(metrics), 200) << metrics;
  EXPECT_EQ(tests::HttpBody(metrics), "rb_up 1\n");
  EXPECT_EQ(tests::HttpStatus(tests::HttpGet(port, "/readyz")), 503);
  EXPECT_EQ(tests::HttpStatus(tests::HttpGet(port, "/nothing")), 404);
  EXPECT_EQ(tests::HttpStatus(tests::HttpGet(port, "/metrics", "POST")), 405);
  // The port is taken now: a second server on it says so.
  options.port = port;
  EXPECT_FALSE(MetricsHttpServer::Start(options).ok());
}

}  // namespace
}  // namespace rb::server
