// Metrics in Prometheus' text exposition format (version 0.0.4): counters, gauges and
// histograms, each series named by its family and labels.
//
// Debian ships no C++ Prometheus client, and the format is a few lines of text, so this is
// the small part written here; serving it over HTTP is libmicrohttpd's (metrics_http.h).
//
// Series are created on first use and never removed, so label values must come from small
// fixed sets (gRPC methods, status codes, message types), never from request data. Updates
// are lock-free; lookups by name take the registry's lock, so hot paths keep the reference.
#ifndef RAFTBADGER_SERVER_METRICS_H_
#define RAFTBADGER_SERVER_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace rb::server {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  // For a count kept elsewhere (mirrored at each scrape). REQUIRES: never decreases.
  void Mirror(uint64_t value) { value_.store(value, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // REQUIRES: upper_bounds ascending and not empty (+Inf is implied).
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  // Cumulative counts per bound (the last is +Inf), count and sum, as of now.
  struct Snapshot {
    std::vector<uint64_t> cumulative;
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Read() const;
  const std::vector<double>& upper_bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Bucket bounds growing by `factor` from `start`, `count` of them.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

class MetricsRegistry {
 public:
  // The series of family `name` with these labels; the family's help and type are set by
  // its first use. REQUIRES: a name is used with one type only.
  Counter& GetCounter(const std::string& name, const std::string& help,
                      const MetricLabels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help,
                  const MetricLabels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& upper_bounds, const MetricLabels& labels = {});
  // Runs at the start of each Render, to set gauges and mirrored counters from state kept
  // elsewhere. It may call the Get functions.
  void OnCollect(std::function<void()> collect);
  // Every family, sorted by name, in the text format.
  std::string Render();

 private:
  struct Family {
    std::string help;
    std::string type;  // counter, gauge or histogram
    // By rendered label set ("{a="x",b="y"}"), so output order is stable.
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  Family& FamilyFor(const std::string& name, const std::string& help, const char* type)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> collectors_ ABSL_GUARDED_BY(mu_);
};

// {a="x",b="y"} with the format's escapes (backslash, quote, newline); "" for no labels.
std::string RenderLabels(const MetricLabels& labels);

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_METRICS_H_
