// The node's metrics for /metrics: what the node, its host and the peer transport count,
// mirrored at each scrape from the host's published view (never read from the loop), and
// the histograms the server fills as it runs.
#ifndef RAFTBADGER_SERVER_NODE_METRICS_H_
#define RAFTBADGER_SERVER_NODE_METRICS_H_

#include <string>

#include "server/metrics.h"
#include "server/node_host.h"
#include "server/peer_transport.h"

namespace rb::server {

struct NodeMetricsSources {
  const NodeHost* host = nullptr;
  const PeerCounters* peers = nullptr;
  std::string data_dir;  // for the database and WAL sizes
};

// Registers a collector that refreshes the node's counters and gauges at each scrape.
void RegisterNodeMetrics(MetricsRegistry* registry, NodeMetricsSources sources);

// rb_disk_write_duration_seconds: one write transaction of the store (a Ready's log,
// hard state and applied entries, with its fsync).
Histogram& DiskWriteHistogram(MetricsRegistry* registry);
// rb_ready_entries: log entries per Ready (how many proposals share one fsync).
Histogram& ReadyEntriesHistogram(MetricsRegistry* registry);

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_NODE_METRICS_H_
