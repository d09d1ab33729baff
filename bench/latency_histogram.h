// LatencyHistogram: a fixed-size log-linear histogram of latencies in microseconds, in the
// manner of HdrHistogram: exact below 128 µs, and within 1/64 (about 1.6%) above, up to
// 2^63 µs. Recording is one array increment; merging adds arrays. Memory is fixed (about
// 30 KiB), whatever the number of samples.
#ifndef RAFTBADGER_BENCH_LATENCY_HISTOGRAM_H_
#define RAFTBADGER_BENCH_LATENCY_HISTOGRAM_H_

#include <array>
#include <cstdint>

namespace rb::bench {

class LatencyHistogram {
 public:
  void Record(uint64_t us);
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  uint64_t max_us() const { return max_us_; }
  // The smallest recorded value v such that at least `quantile` of the samples are <= v,
  // to the histogram's precision (the upper end of v's bucket, never above max_us()).
  // 0 when empty. REQUIRES: 0 <= quantile <= 1.
  uint64_t Quantile(double quantile) const;

  // Exposed for tests: the bucket of a value and the largest value of a bucket.
  static int BucketOf(uint64_t us);
  static uint64_t BucketUpperUs(int bucket);

 private:
  // 128 exact buckets, then 64 per power of two from 2^7 to 2^63.
  static constexpr int kSubBuckets = 64;
  static constexpr int kBuckets = 128 + (63 - 7 + 1) * kSubBuckets;
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t max_us_ = 0;
};

}  // namespace rb::bench

#endif  // RAFTBADGER_BENCH_LATENCY_HISTOGRAM_H_
