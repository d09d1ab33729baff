#include "bench/latency_histogram.h"

#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace rb::bench {
namespace {

TEST(LatencyHistogramTest, BucketsCoverEveryValueWithinTheirPrecision) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = rng() >> (rng() % 64);
    const int b = LatencyHistogram::BucketOf(v);
    const uint64_t upper = LatencyHistogram::BucketUpperUs(b);
    ASSERT_GE(upper, v);
    // The bucket's lower end is the previous bucket's upper end plus one.
    const uint64_t lower = b == 0 ? 0 : LatencyHistogram::BucketUpperUs(b - 1) + 1;
    ASSERT_LE(lower, v);
    if (v >= 128) {
      ASSERT_LE(upper - lower, v / 64) << v;  // within 1/64
    } else {
      ASSERT_EQ(upper, v);  // exact
    }
  }
  EXPECT_EQ(LatencyHistogram::BucketUpperUs(LatencyHistogram::BucketOf(~uint64_t{0})),
            ~uint64_t{0});
}

TEST(LatencyHistogramTest, QuantilesMatchASortedCopy) {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> latency(6.0, 1.0);  // around 400 µs, long tail
  LatencyHistogram a, b;
  std::vector<uint64_t> all;
  for (int i = 0; i < 200000; ++i) {
    const auto v = static_cast<uint64_t>(latency(rng));
    (i % 2 == 0 ? a : b).Record(v);
    all.push_back(v);
  }
  a.Merge(b);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(a.count(), all.size());
  EXPECT_EQ(a.max_us(), all.back());
  for (double q : {0.0, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    const size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(q * all.size())));
    const uint64_t exact = all[rank - 1];
    const uint64_t got = a.Quantile(q);
    EXPECT_GE(got, exact) << q;
    EXPECT_LE(got, exact + exact / 64 + 1) << q;
  }
  EXPECT_EQ(LatencyHistogram().Quantile(0.5), 0u);
}

}  // namespace
}  // namespace rb::bench
