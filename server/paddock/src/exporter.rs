//! The Prometheus endpoint (`/metrics` on `metricsProvider.httpHost:httpPort`), exporting
//! ZooKeeper's metric names and types as its `PrometheusMetricsProvider` does
//! (`zookeeper-metrics-providers/zookeeper-prometheus-metrics`): no `zk_` prefix, HELP text
//! equal to the name, counters without `_total`, summaries with quantile 0.5 (BASIC) or
//! 0.5/0.9/0.99 (ADVANCED) plus `_sum` and `_count`. Paddock's own metrics follow after
//! them, under `paddock_*` names.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus::proto::{self, MetricFamily, MetricType};
use prometheus::{Encoder, TextEncoder};

use crate::core_task::inspect_within;
use crate::http::HttpState;
use crate::metrics::{resident_bytes, Gauges, Kind, ServerMetrics, LABELLED, LAYOUT};

/// The quantiles ZooKeeper's provider configures (`PrometheusSummary`).
const BASIC_QUANTILES: &[f64] = &[0.5];
const ADVANCED_QUANTILES: &[f64] = &[0.5, 0.9, 0.99];

/// The router of the metrics port: `/metrics` only, as ZooKeeper's `MetricsServletImpl`.
pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

async fn scrape(
    axum::extract::State(state): axum::extract::State<Arc<HttpState>>,
) -> impl IntoResponse {
    let answer = match state.serving() {
        Some(shared) => {
            let connections = shared.open_connections();
            inspect_within(&shared.core, move |v| v.gauges(connections))
                .await
                .map(|gauges| render(&gauges, &shared.metrics))
        }
        None => None,
    };
    let Some(body) = answer else {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            crate::fourlw::ZK_NOT_SERVING.to_owned(),
        );
    };
    (
        axum::http::StatusCode::OK,
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
}

/// The text exposition of every metric: ZooKeeper's, sorted by name, then Paddock's own.
pub fn render(gauges: &Gauges, metrics: &ServerMetrics) -> String {
    let mut families: Vec<MetricFamily> = LAYOUT
        .iter()
        .map(|&(name, kind)| family(name, kind, gauges, metrics))
        .chain((gauges.quorum.iter()).map(|&(name, _)| family(name, Kind::Gauge, gauges, metrics)))
        .collect();
    families.sort_by(|a, b| a.name().cmp(b.name()));
    metrics
        .paddock
        .resident_memory_bytes
        .set(resident_bytes() as i64);
    // Summary sets with samples, labelled `key` as PrometheusMetricsProvider labels them.
    let keyed: Vec<MetricFamily> = (LABELLED.iter())
        .filter_map(|&(name, kind)| keyed_family(name, kind, metrics))
        .collect();
    let with_samples: Vec<String> = keyed.iter().map(|f| f.name().to_owned()).collect();
    families.extend(keyed);
    families.extend(metrics.paddock.registry.gather());
    let mut out = Vec::new();
    // Encoding only fails for families without samples, and every family here has one.
    if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
        tracing::error!("encoding metrics: {e}");
    }
    let mut text = String::from_utf8(out).unwrap_or_default();
    // ZooKeeper's labelled metrics have no label values in a standalone server; its
    // simpleclient still writes their HELP and TYPE lines, which the encoder here refuses to
    // write for a family without samples.
    for &(name, kind) in LABELLED {
        if with_samples.iter().any(|n| n == name) {
            continue;
        }
        let ty = match kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Summary | Kind::SummaryPercentiles => "summary",
        };
        let _ = write!(text, "# HELP {name} {name}\n# TYPE {name} {ty}\n");
    }
    text
}

/// A summary set as one family, a series per key; `None` without keys.
fn keyed_family(name: &str, kind: Kind, metrics: &ServerMetrics) -> Option<MetricFamily> {
    if !matches!(kind, Kind::Summary | Kind::SummaryPercentiles) {
        return None;
    }
    let sets = metrics.keyed(name);
    if sets.is_empty() {
        return None;
    }
    let mut f = MetricFamily::default();
    f.set_name(name.to_owned());
    f.set_help(name.to_owned());
    f.set_field_type(MetricType::SUMMARY);
    let series = sets
        .iter()
        .map(|(key, values)| {
            let mut m = proto::Metric::default();
            let mut label = proto::LabelPair::default();
            label.set_name("key".to_owned());
            label.set_value(key.clone());
            m.set_label(vec![label]);
            m.set_summary(summary_of(kind, values));
            m
        })
        .collect();
    f.set_metric(series);
    Some(f)
}

fn family(name: &str, kind: Kind, gauges: &Gauges, metrics: &ServerMetrics) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_owned());
    f.set_help(name.to_owned());
    let mut m = proto::Metric::default();
    match kind {
        Kind::Gauge => {
            f.set_field_type(MetricType::GAUGE);
            let mut g = proto::Gauge::default();
            g.set_value(gauges.get(name).map_or(0.0, |v| v.as_f64()));
            m.set_gauge(g);
        }
        Kind::Counter => {
            f.set_field_type(MetricType::COUNTER);
            let mut c = proto::Counter::default();
            c.set_value(metrics.counter(name) as f64);
            m.set_counter(c);
        }
        Kind::Summary | Kind::SummaryPercentiles => {
            f.set_field_type(MetricType::SUMMARY);
            m.set_summary(summary_of(kind, &metrics.summary(name)));
        }
    }
    f.set_metric(vec![m]);
    f
}

fn summary_of(kind: Kind, values: &crate::metrics::SummaryValues) -> proto::Summary {
    let qs = if kind == Kind::Summary {
        BASIC_QUANTILES
    } else {
        ADVANCED_QUANTILES
    };
    let quantiles = qs
        .iter()
        .map(|&q| {
            let mut quantile = proto::Quantile::default();
            quantile.set_quantile(q);
            // simpleclient reports NaN for a quantile with no observations.
            let value = if values.recent.is_empty() {
                f64::NAN
            } else {
                values.quantile(q) as f64
            };
            quantile.set_value(value);
            quantile
        })
        .collect();
    let mut s = proto::Summary::default();
    s.set_sample_count(values.count);
    s.set_sample_sum(values.sum as f64);
    s.set_quantile(quantiles);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    // PrometheusMetricsProvider: summaries as `name{quantile=...}`, `name_sum`, `name_count`;
    // counters and gauges by their bare ZooKeeper names.
    #[test]
    fn exposition_uses_zookeepers_names_and_types() {
        let metrics = ServerMetrics::new();
        metrics.observe("readlatency", 3);
        metrics.observe("fsynctime", 2);
        metrics.count("bytes_received_count", 7);
        let gauges = Gauges {
            znode_count: 5,
            ..Gauges::default()
        };
        let text = render(&gauges, &metrics);
        for line in [
            "# HELP znode_count znode_count",
            "# TYPE znode_count gauge",
            "znode_count 5",
            "# TYPE bytes_received_count counter",
            "bytes_received_count 7",
            "# TYPE readlatency summary",
            "readlatency{quantile=\"0.5\"} 3",
            "readlatency{quantile=\"0.99\"} 3",
            "readlatency_sum 3",
            "readlatency_count 1",
            "fsynctime{quantile=\"0.5\"} 2",
            "updatelatency{quantile=\"0.5\"} NaN",
            "# TYPE paddock_fsync_duration_seconds histogram",
            "paddock_build_info{version=\"0.1.0\"} 1",
            "# TYPE ack_latency summary",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(
            !text.contains("fsynctime{quantile=\"0.9\"}"),
            "BASIC has the median only"
        );
    }
}
