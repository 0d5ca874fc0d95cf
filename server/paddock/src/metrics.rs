//! ZooKeeper's server metrics (`ServerMetrics.java`): counters and summaries by their
//! ZooKeeper names, shared by the core task, the connections, the log writer and the snapshot
//! thread, and read by `mntr`, the AdminServer's `monitor` and the Prometheus endpoint.
//!
//! The names, their kinds and the order `mntr` prints them in come from one table,
//! [`LAYOUT`], taken from a standalone Apache ZooKeeper 3.8's `mntr`. Gauges are not stored
//! here: they are computed when asked for ([`Gauges`]). Metrics that only an ensemble can
//! move (proposals, learners, elections) stay at zero in a standalone server, as they do in
//! ZooKeeper.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use paddock_core::fasthash::HashMap;

/// What a metric is, as ZooKeeper registers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value computed when read (`registerGauge`).
    Gauge,
    /// A monotonic count (`getCounter`).
    Counter,
    /// `getSummary(name, DetailLevel.BASIC)`: avg/min/max/cnt/sum in `mntr`, the median in
    /// Prometheus.
    Summary,
    /// `getSummary(name, DetailLevel.ADVANCED)`: also p50/p95/p99/p999 in `mntr`, and the
    /// 0.5/0.9/0.99 quantiles in Prometheus.
    SummaryPercentiles,
}

/// Every standalone metric in the order a standalone ZooKeeper 3.8's `mntr` prints it (the
/// iteration order of its metric maps), after `version` and `server_state`.
pub const LAYOUT: &[(&str, Kind)] = &[
    ("ephemerals_count", Kind::Gauge),
    ("num_alive_connections", Kind::Gauge),
    ("avg_latency", Kind::Gauge),
    ("outstanding_requests", Kind::Gauge),
    ("znode_count", Kind::Gauge),
    ("global_sessions", Kind::Gauge),
    ("non_mtls_remote_conn_count", Kind::Gauge),
    ("last_client_response_size", Kind::Gauge),
    ("packets_sent", Kind::Gauge),
    ("packets_received", Kind::Gauge),
    ("max_client_response_size", Kind::Gauge),
    ("connection_drop_probability", Kind::Gauge),
    ("watch_count", Kind::Gauge),
    ("auth_failed_count", Kind::Gauge),
    ("min_latency", Kind::Gauge),
    ("max_file_descriptor_count", Kind::Gauge),
    ("approximate_data_size", Kind::Gauge),
    ("open_file_descriptor_count", Kind::Gauge),
    ("local_sessions", Kind::Gauge),
    ("uptime", Kind::Gauge),
    ("max_latency", Kind::Gauge),
    ("outstanding_tls_handshake", Kind::Gauge),
    ("min_client_response_size", Kind::Gauge),
    ("non_mtls_local_conn_count", Kind::Gauge),
    ("proposal_count", Kind::Counter),
    ("watch_bytes", Kind::Counter),
    ("outstanding_changes_removed", Kind::Counter),
    ("throttled_ops", Kind::Counter),
    ("stale_requests_dropped", Kind::Counter),
    ("large_requests_rejected", Kind::Counter),
    ("insecure_admin_count", Kind::Counter),
    ("connection_rejected", Kind::Counter),
    ("cnxn_closed_without_zk_server_running", Kind::Counter),
    ("sessionless_connections_expired", Kind::Counter),
    ("looking_count", Kind::Counter),
    ("dead_watchers_queued", Kind::Counter),
    ("stale_requests", Kind::Counter),
    ("connection_drop_count", Kind::Counter),
    ("learner_proposal_received_count", Kind::Counter),
    ("digest_mismatches_count", Kind::Counter),
    ("dead_watchers_cleared", Kind::Counter),
    ("response_packet_cache_hits", Kind::Counter),
    ("bytes_received_count", Kind::Counter),
    ("add_dead_watcher_stall_time", Kind::Counter),
    ("request_throttle_wait_count", Kind::Counter),
    ("requests_not_forwarded_to_commit_processor", Kind::Counter),
    ("response_packet_cache_misses", Kind::Counter),
    ("ensemble_auth_success", Kind::Counter),
    ("prep_processor_request_queued", Kind::Counter),
    ("learner_commit_received_count", Kind::Counter),
    ("stale_replies", Kind::Counter),
    ("connection_request_count", Kind::Counter),
    ("response_bytes", Kind::Counter),
    ("ensemble_auth_fail", Kind::Counter),
    ("diff_count", Kind::Counter),
    ("response_packet_get_children_cache_misses", Kind::Counter),
    ("connection_revalidate_count", Kind::Counter),
    ("quit_leading_due_to_disloyal_voter", Kind::Counter),
    ("snap_count", Kind::Counter),
    ("unrecoverable_error_count", Kind::Counter),
    ("unsuccessful_handshake", Kind::Counter),
    ("commit_count", Kind::Counter),
    ("stale_sessions_expired", Kind::Counter),
    ("response_packet_get_children_cache_hits", Kind::Counter),
    ("sync_processor_request_queued", Kind::Counter),
    ("outstanding_changes_queued", Kind::Counter),
    ("request_commit_queued", Kind::Counter),
    ("ensemble_auth_skip", Kind::Counter),
    (
        "skip_learner_request_to_next_processor_count",
        Kind::Counter,
    ),
    ("tls_handshake_exceeded", Kind::Counter),
    ("revalidate_count", Kind::Counter),
    ("socket_closing_time", Kind::Summary),
    ("proposal_process_time", Kind::Summary),
    ("leader_unavailable_time", Kind::Summary),
    ("node_created_watch_count", Kind::Summary),
    ("session_queues_drained", Kind::Summary),
    ("write_commit_proc_req_queued", Kind::Summary),
    ("connection_token_deficit", Kind::Summary),
    ("read_commit_proc_req_queued", Kind::Summary),
    ("node_deleted_watch_count", Kind::Summary),
    ("startup_txns_load_time", Kind::Summary),
    ("sync_processor_queue_size", Kind::Summary),
    ("follower_sync_time", Kind::Summary),
    ("prep_processor_queue_size", Kind::Summary),
    ("fsynctime", Kind::Summary),
    ("inflight_snap_count", Kind::Summary),
    ("reads_issued_from_session_queue", Kind::Summary),
    ("learner_request_processor_queue_size", Kind::Summary),
    ("snapshottime", Kind::Summary),
    ("unavailable_time", Kind::Summary),
    ("startup_txns_loaded", Kind::Summary),
    ("reads_after_write_in_session_queue", Kind::Summary),
    ("requests_in_session_queue", Kind::Summary),
    ("write_commit_proc_issued", Kind::Summary),
    ("prep_process_time", Kind::Summary),
    ("pending_session_queue_size", Kind::Summary),
    (
        "time_waiting_empty_pool_in_commit_processor_read_ms",
        Kind::Summary,
    ),
    ("commit_process_time", Kind::Summary),
    ("dbinittime", Kind::Summary),
    ("inflight_diff_count", Kind::Summary),
    ("netty_queued_buffer_capacity", Kind::Summary),
    ("election_time", Kind::Summary),
    ("commit_commit_proc_req_queued", Kind::Summary),
    ("sync_processor_batch_size", Kind::Summary),
    ("node_children_watch_count", Kind::Summary),
    ("write_batch_time_in_commit_processor", Kind::Summary),
    ("read_commit_proc_issued", Kind::Summary),
    (
        "concurrent_request_processing_in_commit_processor",
        Kind::Summary,
    ),
    ("observer_sync_time", Kind::Summary),
    ("node_changed_watch_count", Kind::Summary),
    ("sync_process_time", Kind::Summary),
    ("startup_snap_load_time", Kind::Summary),
    ("prep_processor_queue_time_ms", Kind::SummaryPercentiles),
    ("jvm_pause_time_ms", Kind::SummaryPercentiles),
    ("close_session_prep_time", Kind::SummaryPercentiles),
    ("read_commitproc_time_ms", Kind::SummaryPercentiles),
    ("updatelatency", Kind::SummaryPercentiles),
    ("local_write_committed_time_ms", Kind::SummaryPercentiles),
    ("request_throttle_queue_time_ms", Kind::SummaryPercentiles),
    ("readlatency", Kind::SummaryPercentiles),
    ("quorum_ack_latency", Kind::SummaryPercentiles),
    ("om_commit_process_time_ms", Kind::SummaryPercentiles),
    ("read_final_proc_time_ms", Kind::SummaryPercentiles),
    ("commit_propagation_latency", Kind::SummaryPercentiles),
    ("dead_watchers_cleaner_latency", Kind::SummaryPercentiles),
    ("write_final_proc_time_ms", Kind::SummaryPercentiles),
    ("proposal_ack_creation_latency", Kind::SummaryPercentiles),
    ("proposal_latency", Kind::SummaryPercentiles),
    ("om_proposal_process_time_ms", Kind::SummaryPercentiles),
    (
        "sync_processor_queue_and_flush_time_ms",
        Kind::SummaryPercentiles,
    ),
    ("propagation_latency", Kind::SummaryPercentiles),
    ("server_write_committed_time_ms", Kind::SummaryPercentiles),
    ("sync_processor_queue_time_ms", Kind::SummaryPercentiles),
    (
        "sync_processor_queue_flush_time_ms",
        Kind::SummaryPercentiles,
    ),
    ("write_commitproc_time_ms", Kind::SummaryPercentiles),
];

/// Metrics ZooKeeper registers with a `key` label (`SummarySet`, `CounterSet`, labelled
/// gauges). A standalone Paddock exports them without samples: ZooKeeper's Prometheus
/// provider also writes only their HELP and TYPE lines until a label value appears.
pub const LABELLED: &[(&str, Kind)] = &[
    ("ack_latency", Kind::SummaryPercentiles),
    ("learner_handler_qp_size", Kind::Summary),
    ("learner_handler_qp_time_ms", Kind::Summary),
    ("read_per_namespace", Kind::Summary),
    ("write_per_namespace", Kind::Summary),
    ("quota_count_limit_per_namespace", Kind::Gauge),
    ("quota_bytes_limit_per_namespace", Kind::Gauge),
    ("quota_count_usage_per_namespace", Kind::Gauge),
    ("quota_bytes_usage_per_namespace", Kind::Gauge),
    ("quota_exceeded_error_per_namespace", Kind::Counter),
];

/// How many recent samples a summary keeps for its percentiles. ZooKeeper's
/// `AvgMinMaxPercentileCounter` samples a uniform reservoir over the whole run; a window of
/// the most recent values answers "how is it now", which is what dashboards ask, and it is
/// bounded.
pub const PERCENTILE_WINDOW: usize = 1024;

/// A summary: count, sum, min, max and, for percentile summaries, a window of recent values
/// (`AvgMinMaxCounter`, `AvgMinMaxPercentileCounter`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SummaryValues {
    pub count: u64,
    pub sum: i64,
    /// `None` before the first sample (ZooKeeper then reports 0).
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// The most recent samples, oldest first, at most [`PERCENTILE_WINDOW`].
    pub recent: VecDeque<i64>,
}

impl SummaryValues {
    /// `AvgMinMaxCounter.getAvg`: the mean rounded half-up to four decimals, 0 when empty.
    pub fn avg(&self) -> f64 {
        avg4(self.sum, self.count)
    }

    /// The `q` quantile (0..=1) of the recent window, as the nearest-rank value; 0 when empty.
    pub fn quantile(&self, q: f64) -> i64 {
        if self.recent.is_empty() {
            return 0;
        }
        let mut sorted: Vec<i64> = self.recent.iter().copied().collect();
        sorted.sort_unstable();
        let rank = (q * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }
}

/// A mean rounded half-up to four decimals (ZooKeeper's `BigDecimal.setScale(4, HALF_UP)`).
pub fn avg4(sum: i64, count: u64) -> f64 {
    if count == 0 {
        return 0.0;
    }
    let avg = sum as f64 / count as f64;
    (avg * 10_000.0).round() / 10_000.0
}

/// Keys one labelled summary keeps at most (namespaces are client-chosen): later keys are
/// not recorded, so the metrics stay bounded.
pub const MAX_KEYS: usize = 256;

/// A summary's values behind a lock. Every summary keeps its window: `mntr` prints
/// percentiles for the ADVANCED ones only, but Prometheus reports a median for all.
#[derive(Debug, Default)]
struct Summary {
    values: Mutex<SummaryValues>,
}

/// One counter of [`ServerMetrics`], held by [`HotMetrics`].
#[derive(Debug, Clone)]
pub struct CounterHandle(Arc<AtomicU64>);

impl CounterHandle {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
}

/// One summary of [`ServerMetrics`], held by [`HotMetrics`].
#[derive(Debug, Clone)]
pub struct SummaryHandle(Arc<Summary>);

impl SummaryHandle {
    pub fn add(&self, value: i64) {
        self.0.add(value);
    }
}

/// The counters and summaries updated for every request, proposal, commit or log batch,
/// looked up by name once: [`ServerMetrics::count`] and [`ServerMetrics::observe`] hash the name on each
/// call, which showed in the instructions per request (bench/profile).
#[derive(Debug)]
pub struct HotMetrics {
    pub bytes_received: CounterHandle,
    pub prep_queued: CounterHandle,
    pub sync_queued: CounterHandle,
    pub response_bytes: CounterHandle,
    pub read_latency: SummaryHandle,
    pub update_latency: SummaryHandle,
    // An ensemble member's, per proposal and commit.
    pub proposal_count: CounterHandle,
    pub commit_count: CounterHandle,
    pub learner_proposals: CounterHandle,
    pub learner_commits: CounterHandle,
    pub proposal_latency: SummaryHandle,
    pub quorum_ack_latency: SummaryHandle,
    pub commit_propagation_latency: SummaryHandle,
    // The log writer's, per fsynced batch.
    pub fsync_time: SummaryHandle,
    pub sync_batch_size: SummaryHandle,
}

impl Summary {
    fn add(&self, value: i64) {
        let mut v = self.values.lock().unwrap_or_else(|e| e.into_inner());
        v.add(value);
    }
}

impl SummaryValues {
    fn add(&mut self, value: i64) {
        let v = self;
        v.count += 1;
        v.sum = v.sum.saturating_add(value);
        v.min = Some(v.min.map_or(value, |m| m.min(value)));
        v.max = Some(v.max.map_or(value, |m| m.max(value)));
        if v.recent.len() == PERCENTILE_WINDOW {
            v.recent.pop_front();
        }
        v.recent.push_back(value);
    }
}

/// Paddock's own metrics, named by Prometheus conventions (units in the name, base units,
/// HELP text), registered in their own registry.
#[derive(Debug, Clone)]
pub struct PaddockMetrics {
    pub registry: prometheus::Registry,
    /// Each log fsync, in seconds, with finer buckets than ZooKeeper's whole-ms `fsynctime`.
    pub fsync_seconds: prometheus::Histogram,
    /// Each snapshot, from its start to the rename of the finished file.
    pub snapshot_seconds: prometheus::Histogram,
    /// Request latency from the frame read to the reply queued: the `type="read"` and
    /// `type="update"` series of `paddock_request_duration_seconds`, looked up once.
    pub read_seconds: prometheus::Histogram,
    pub update_seconds: prometheus::Histogram,
    /// Resident memory of the process, set when scraped.
    pub resident_memory_bytes: prometheus::IntGauge,
    /// The log entries an ensemble member keeps in memory to sync learners.
    pub log_memory_bytes: prometheus::IntGauge,
    /// Log batches written and fsynced, by writer.
    pub log_batches: LogBatches,
}

/// The series of `paddock_log_batches_total`, looked up once.
#[derive(Debug, Clone)]
pub struct LogBatches {
    /// Written by the log writer thread.
    pub thread: prometheus::IntCounter,
    /// Written by the core task itself for a lone writer.
    pub core: prometheus::IntCounter,
}

impl PaddockMetrics {
    fn new() -> Self {
        use prometheus::{histogram_opts, opts, Histogram, HistogramVec, IntCounterVec, IntGauge};
        let fast = vec![
            0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
            0.25, 0.5, 1.0, 2.5,
        ];
        let slow = vec![
            0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
        ];
        let fsync_seconds = Histogram::with_opts(histogram_opts!(
            "paddock_fsync_duration_seconds",
            "Time to write and fsync one batch of transaction log entries.",
            fast.clone()
        ))
        .expect("valid histogram");
        let snapshot_seconds = Histogram::with_opts(histogram_opts!(
            "paddock_snapshot_duration_seconds",
            "Time to write one snapshot file, from its start to its rename.",
            slow
        ))
        .expect("valid histogram");
        let request_seconds = HistogramVec::new(
            histogram_opts!(
                "paddock_request_duration_seconds",
                "Time from reading a request to queueing its reply, by type (read or update).",
                fast
            ),
            &["type"],
        )
        .expect("valid histogram");
        // Both series exist from the start, so that rate() over them has a beginning.
        let read_seconds = request_seconds.with_label_values(&["read"]);
        let update_seconds = request_seconds.with_label_values(&["update"]);
        let resident_memory_bytes = IntGauge::with_opts(opts!(
            "paddock_process_resident_memory_bytes",
            "Resident memory of the Paddock process."
        ))
        .expect("valid gauge");
        let log_memory_bytes = IntGauge::with_opts(opts!(
            "paddock_log_memory_bytes",
            "Bytes of transaction log entries an ensemble member keeps in memory to sync \
             learners (bounded by paddock.logMemoryLimitInKb); 0 on a standalone server."
        ))
        .expect("valid gauge");
        let log_batches = IntCounterVec::new(
            opts!(
                "paddock_log_batches_total",
                "Batches of transaction log entries written and fsynced, by writer: the log \
                 thread, or the core task itself while it serves a lone writer."
            ),
            &["writer"],
        )
        .expect("valid counter");
        let build_info = IntGauge::with_opts(
            opts!(
                "paddock_build_info",
                "Paddock's version; the value is always 1."
            )
            .const_label("version", env!("CARGO_PKG_VERSION")),
        )
        .expect("valid gauge");
        build_info.set(1);
        let registry = prometheus::Registry::new();
        for c in [
            Box::new(fsync_seconds.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(snapshot_seconds.clone()),
            Box::new(request_seconds.clone()),
            Box::new(resident_memory_bytes.clone()),
            Box::new(log_memory_bytes.clone()),
            Box::new(log_batches.clone()),
            Box::new(build_info),
        ] {
            registry.register(c).expect("names are unique");
        }
        PaddockMetrics {
            registry,
            fsync_seconds,
            snapshot_seconds,
            read_seconds,
            update_seconds,
            resident_memory_bytes,
            log_memory_bytes,
            log_batches: LogBatches {
                thread: log_batches.with_label_values(&["thread"]),
                core: log_batches.with_label_values(&["core"]),
            },
        }
    }
}

/// The server's counters and summaries. Cheap to update from any thread.
#[derive(Debug)]
pub struct ServerMetrics {
    counters: HashMap<&'static str, Arc<AtomicU64>>,
    summaries: HashMap<&'static str, Arc<Summary>>,
    /// ZooKeeper's summary sets (`ack_latency` by learner, `read_per_namespace` by top-level
    /// znode, ...): name to key to values, at most [`MAX_KEYS`] keys each.
    keyed: Mutex<BTreeMap<&'static str, BTreeMap<String, SummaryValues>>>,
    /// Paddock's own metrics.
    pub paddock: PaddockMetrics,
    /// Handles on the counters and summaries of the request path.
    pub hot: HotMetrics,
    /// The zxid and time (seconds since the epoch) of the last snapshot written or loaded
    /// (`FileTxnSnapLog.getLastSnapshotInfo`, for `last_snapshot`).
    pub last_snapshot: Mutex<Option<(i64, i64)>>,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerMetrics {
    pub fn new() -> Self {
        let mut counters = HashMap::default();
        let mut summaries = HashMap::default();
        for &(name, kind) in LAYOUT {
            match kind {
                Kind::Gauge => {}
                Kind::Counter => {
                    counters.insert(name, Arc::new(AtomicU64::new(0)));
                }
                Kind::Summary | Kind::SummaryPercentiles => {
                    summaries.insert(name, Arc::new(Summary::default()));
                }
            }
        }
        let counter = |name: &str| match counters.get(name) {
            Some(c) => CounterHandle(Arc::clone(c)),
            None => panic!("unknown counter {name}"),
        };
        let summary = |name: &str| match summaries.get(name) {
            Some(s) => SummaryHandle(Arc::clone(s)),
            None => panic!("unknown summary {name}"),
        };
        let hot = HotMetrics {
            bytes_received: counter("bytes_received_count"),
            prep_queued: counter("prep_processor_request_queued"),
            sync_queued: counter("sync_processor_request_queued"),
            response_bytes: counter("response_bytes"),
            read_latency: summary("readlatency"),
            update_latency: summary("updatelatency"),
            proposal_count: counter("proposal_count"),
            commit_count: counter("commit_count"),
            learner_proposals: counter("learner_proposal_received_count"),
            learner_commits: counter("learner_commit_received_count"),
            proposal_latency: summary("proposal_latency"),
            quorum_ack_latency: summary("quorum_ack_latency"),
            commit_propagation_latency: summary("commit_propagation_latency"),
            fsync_time: summary("fsynctime"),
            sync_batch_size: summary("sync_processor_batch_size"),
        };
        ServerMetrics {
            counters,
            summaries,
            keyed: Mutex::new(BTreeMap::new()),
            paddock: PaddockMetrics::new(),
            hot,
            last_snapshot: Mutex::new(None),
        }
    }

    /// Adds `n` to the counter `name`. The names are ZooKeeper's and fixed at compile time:
    /// an unknown one is a programming error.
    pub fn count(&self, name: &'static str, n: u64) {
        let counter = self.counters.get(name);
        assert!(counter.is_some(), "unknown counter {name}");
        if let Some(c) = counter {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Records one value of the summary `name` (milliseconds, sizes or counts, as in
    /// ZooKeeper).
    pub fn observe(&self, name: &'static str, value: i64) {
        let summary = self.summaries.get(name);
        assert!(summary.is_some(), "unknown summary {name}");
        if let Some(s) = summary {
            s.add(value);
        }
    }

    /// Records one value of the summary set `name` under `key` (`SummarySet.add`).
    pub fn observe_keyed(&self, name: &'static str, key: &str, value: i64) {
        self.observe_keyed_all(name, [(key, value)]);
    }

    /// Records each (key, value) in the summary set `name`, under one lock (the ops of a
    /// multi).
    pub fn observe_keyed_all<'k>(
        &self,
        name: &'static str,
        values: impl IntoIterator<Item = (&'k str, i64)>,
    ) {
        assert!(
            LABELLED
                .iter()
                .any(|(n, k)| *n == name && matches!(k, Kind::Summary | Kind::SummaryPercentiles)),
            "unknown summary set {name}"
        );
        let mut keyed = self.keyed.lock().unwrap_or_else(|e| e.into_inner());
        let set = keyed.entry(name).or_default();
        for (key, value) in values {
            if let Some(v) = set.get_mut(key) {
                v.add(value);
            } else if set.len() < MAX_KEYS {
                let mut v = SummaryValues::default();
                v.add(value);
                set.insert(key.to_owned(), v);
            }
        }
    }

    /// The keys and values of the summary set `name`, in key order.
    pub fn keyed(&self, name: &str) -> Vec<(String, SummaryValues)> {
        let keyed = self.keyed.lock().unwrap_or_else(|e| e.into_inner());
        keyed
            .get(name)
            .map(|set| set.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    pub fn counter(&self, name: &str) -> u64 {
        self.counters
            .get(name)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    pub fn summary(&self, name: &str) -> SummaryValues {
        self.summaries
            .get(name)
            .map(|s| s.values.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }

    /// Records the snapshot of `zxid` as the last one, taken now.
    pub fn snapshot_taken(&self, zxid: i64) {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        *self.last_snapshot.lock().unwrap_or_else(|e| e.into_inner()) = Some((zxid, secs));
    }

    /// `ServerMetrics.resetAll`, which `srst` calls: every counter and summary back to zero.
    pub fn reset(&self) {
        for c in self.counters.values() {
            c.store(0, Ordering::Relaxed);
        }
        for s in self.summaries.values() {
            *s.values.lock().unwrap_or_else(|e| e.into_inner()) = SummaryValues::default();
        }
        self.keyed.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The gauges, computed when asked for (`ZooKeeperServer.registerMetrics`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gauges {
    pub ephemerals_count: u64,
    pub num_alive_connections: u64,
    pub avg_latency: f64,
    pub outstanding_requests: u64,
    pub znode_count: u64,
    pub global_sessions: u64,
    pub last_client_response_size: i64,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub max_client_response_size: i64,
    pub watch_count: u64,
    pub auth_failed_count: u64,
    pub min_latency: i64,
    pub max_file_descriptor_count: i64,
    pub approximate_data_size: u64,
    pub open_file_descriptor_count: i64,
    pub uptime_ms: i64,
    pub max_latency: i64,
    pub min_client_response_size: i64,
    /// Gauges only an ensemble member has (quorum_size, and a leader's learners...), in the
    /// order `mntr` prints them after the standalone ones.
    pub quorum: Vec<(&'static str, Value)>,
}

/// One gauge value: integers print as integers, fractions as Java prints a double.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
}

impl Value {
    pub fn as_f64(self) -> f64 {
        match self {
            Value::Int(v) => v as f64,
            Value::Float(v) => v,
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => f.write_str(&java_double(*v)),
        }
    }
}

/// `Double.toString` for the values metrics take: plain decimal with at least one fraction
/// digit in [1e-3, 1e7), scientific (`1.0E7`) outside it.
pub fn java_double(v: f64) -> String {
    if v == 0.0 || (v.abs() >= 1e-3 && v.abs() < 1e7) {
        return format!("{v:?}");
    }
    let exp = v.abs().log10().floor() as i32;
    let mantissa = v / 10f64.powi(exp);
    format!("{mantissa:?}E{exp}")
}

impl Gauges {
    /// The gauge `name`'s value; `None` for names that are not standalone gauges.
    pub fn get(&self, name: &str) -> Option<Value> {
        let u = |v: u64| Some(Value::Int(v as i64));
        let i = |v: i64| Some(Value::Int(v));
        match name {
            "ephemerals_count" => u(self.ephemerals_count),
            "num_alive_connections" => u(self.num_alive_connections),
            "avg_latency" => Some(Value::Float(self.avg_latency)),
            "outstanding_requests" => u(self.outstanding_requests),
            "znode_count" => u(self.znode_count),
            "global_sessions" => u(self.global_sessions),
            "last_client_response_size" => i(self.last_client_response_size),
            "packets_sent" => u(self.packets_sent),
            "packets_received" => u(self.packets_received),
            "max_client_response_size" => i(self.max_client_response_size),
            "connection_drop_probability" => Some(Value::Float(0.0)),
            "watch_count" => u(self.watch_count),
            "auth_failed_count" => u(self.auth_failed_count),
            "min_latency" => i(self.min_latency),
            "max_file_descriptor_count" => i(self.max_file_descriptor_count),
            "approximate_data_size" => u(self.approximate_data_size),
            "open_file_descriptor_count" => i(self.open_file_descriptor_count),
            "uptime" => i(self.uptime_ms),
            "max_latency" => i(self.max_latency),
            "min_client_response_size" => i(self.min_client_response_size),
            // Paddock has no TLS port and no local sessions yet: these are always zero.
            "local_sessions"
            | "outstanding_tls_handshake"
            | "non_mtls_remote_conn_count"
            | "non_mtls_local_conn_count" => i(0),
            _ => self
                .quorum
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v),
        }
    }
}

/// Open file descriptors of this process (`/proc/self/fd`), -1 where unknown.
pub fn open_fd_count() -> i64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as i64)
        .unwrap_or(-1)
}

/// The soft limit on open files (`/proc/self/limits`, "Max open files"), -1 where unknown.
pub fn max_fd_count() -> i64 {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return -1;
    };
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

/// Resident memory of this process in bytes (`/proc/self/statm`), 0 where unknown.
pub fn resident_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // Linux on the architectures Paddock targets uses 4 KiB pages.
    pages * 4096
}

/// `mntr` (`MonitorCommand`): `zk_<key>\t<value>` lines, after `version` and
/// `server_state`, in [`LAYOUT`] order; summaries expand as ZooKeeper's default provider
/// expands them.
pub fn render_mntr(version: &str, state: &str, gauges: &Gauges, metrics: &ServerMetrics) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "zk_version\t{version}");
    let _ = writeln!(out, "zk_server_state\t{state}");
    for &(name, kind) in LAYOUT {
        match kind {
            Kind::Gauge => {
                let value = gauges.get(name).unwrap_or(Value::Int(0));
                let _ = writeln!(out, "zk_{name}\t{value}");
            }
            Kind::Counter => {
                let _ = writeln!(out, "zk_{name}\t{}", metrics.counter(name));
            }
            Kind::Summary | Kind::SummaryPercentiles => {
                let s = metrics.summary(name);
                let _ = writeln!(out, "zk_avg_{name}\t{}", java_double(s.avg()));
                let _ = writeln!(out, "zk_min_{name}\t{}", s.min.unwrap_or(0));
                let _ = writeln!(out, "zk_max_{name}\t{}", s.max.unwrap_or(0));
                let _ = writeln!(out, "zk_cnt_{name}\t{}", s.count);
                let _ = writeln!(out, "zk_sum_{name}\t{}", s.sum);
                if kind == Kind::SummaryPercentiles {
                    for (label, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)]
                    {
                        let _ = writeln!(out, "zk_{label}_{name}\t{}", s.quantile(q));
                    }
                }
            }
        }
    }
    // AvgMinMaxCounterSet.values: each key's counter is named `<key>_<name>`.
    for &(name, kind) in LABELLED {
        if !matches!(kind, Kind::Summary | Kind::SummaryPercentiles) {
            continue;
        }
        for (key, s) in metrics.keyed(name) {
            let full = format!("{key}_{name}");
            let _ = writeln!(out, "zk_avg_{full}\t{}", java_double(s.avg()));
            let _ = writeln!(out, "zk_min_{full}\t{}", s.min.unwrap_or(0));
            let _ = writeln!(out, "zk_max_{full}\t{}", s.max.unwrap_or(0));
            let _ = writeln!(out, "zk_cnt_{full}\t{}", s.count);
            let _ = writeln!(out, "zk_sum_{full}\t{}", s.sum);
            if kind == Kind::SummaryPercentiles {
                for (label, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)] {
                    let _ = writeln!(out, "zk_{label}_{full}\t{}", s.quantile(q));
                }
            }
        }
    }
    for (name, value) in &gauges.quorum {
        let _ = writeln!(out, "zk_{name}\t{value}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // AvgMinMaxCounter.getAvg: BigDecimal(avg).setScale(4, HALF_UP).
    #[test]
    fn averages_round_to_four_decimals_as_zookeeper_does() {
        assert_eq!(avg4(33, 14), 2.3571);
        assert_eq!(avg4(0, 0), 0.0);
        assert_eq!(java_double(avg4(2, 2)), "1.0");
        assert_eq!(java_double(0.0714), "0.0714");
        assert_eq!(java_double(1.0e7), "1.0E7");
    }

    #[test]
    fn summaries_track_count_sum_min_max_and_a_bounded_window() {
        let m = ServerMetrics::new();
        for v in 1..=(PERCENTILE_WINDOW as i64 + 10) {
            m.observe("readlatency", v);
        }
        let s = m.summary("readlatency");
        assert_eq!(s.count, PERCENTILE_WINDOW as u64 + 10);
        assert_eq!(
            (s.min, s.max),
            (Some(1), Some(PERCENTILE_WINDOW as i64 + 10))
        );
        assert_eq!(s.recent.len(), PERCENTILE_WINDOW);
        assert_eq!(s.quantile(1.0), PERCENTILE_WINDOW as i64 + 10);
        m.reset();
        assert_eq!(m.summary("readlatency"), SummaryValues::default());
    }

    // The mntr of a standalone ZooKeeper 3.8 has 2 + 24 gauges + 47 counters + 41 x 5
    // summary lines + 23 x 9 percentile summary lines, before the per-namespace sets.
    #[test]
    fn mntr_has_zookeepers_standalone_line_count() {
        let text = render_mntr("v", "standalone", &Gauges::default(), &ServerMetrics::new());
        let gauges = LAYOUT.iter().filter(|l| l.1 == Kind::Gauge).count();
        let counters = LAYOUT.iter().filter(|l| l.1 == Kind::Counter).count();
        let basic = LAYOUT.iter().filter(|l| l.1 == Kind::Summary).count();
        let pct = LAYOUT
            .iter()
            .filter(|l| l.1 == Kind::SummaryPercentiles)
            .count();
        assert_eq!((gauges, counters, basic, pct), (24, 47, 41, 23));
        assert_eq!(text.lines().count(), 2 + 24 + 47 + 41 * 5 + 23 * 9);
        assert!(text.starts_with("zk_version\tv\nzk_server_state\tstandalone\n"));
    }
}
