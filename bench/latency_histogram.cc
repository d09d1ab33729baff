#include "bench/latency_histogram.h"

#include <algorithm>
#include <cmath>

#include "base/logging.h"

namespace rb::bench {

int LatencyHistogram::BucketOf(uint64_t us) {
  if (us < 128) return static_cast<int>(us);
  const int msb = 63 - __builtin_clzll(us);  // >= 7
  // The top 7 bits of us: 64..127.
  const uint64_t top = us >> (msb - 6);
  return 128 + (msb - 7) * kSubBuckets + static_cast<int>(top - 64);
}

uint64_t LatencyHistogram::BucketUpperUs(int bucket) {
  RB_CHECK(bucket >= 0 && bucket < kBuckets, "bucket ", bucket);
  if (bucket < 128) return static_cast<uint64_t>(bucket);
  const int msb = 7 + (bucket - 128) / kSubBuckets;
  const uint64_t top = 64 + static_cast<uint64_t>((bucket - 128) % kSubBuckets);
  const int shift = msb - 6;
  // Every value whose top 7 bits are `top`: up to top's next value, minus one.
  return ((top + 1) << shift) - 1;
}

void LatencyHistogram::Record(uint64_t us) {
  ++counts_[BucketOf(us)];
  ++count_;
  max_us_ = std::max(max_us_, us);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_us_ = std::max(max_us_, other.max_us_);
}

uint64_t LatencyHistogram::Quantile(double quantile) const {
  RB_CHECK(quantile >= 0 && quantile <= 1, "quantile ", quantile);
  if (count_ == 0) return 0;
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(quantile * count_)));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(BucketUpperUs(i), max_us_);
  }
  return max_us_;
}

}  // namespace rb::bench
