//! Grafana dashboard 10465 ("ZooKeeper by Prometheus") against a Paddock ensemble: a real
//! Prometheus server (Debian's `prometheus`) scrapes the `/metrics` endpoint of every member of
//! a 3-member ensemble that serves some traffic, and every metric the dashboard's queries use
//! (tests/data/dashboard-10465-metrics.txt) must return data from it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use paddock_difftest::ensemble::{Ensemble, EnsembleSpec};
use paddock_difftest::server::free_port;
use paddock_difftest::{http, persistent, ServerKind};
use zookeeper_client as zk;

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// The Prometheus server, stopped by pid when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(dir: &Path, targets: &[SocketAddr]) -> Result<Prometheus> {
        let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: zookeeper\n    static_configs:\n      - targets: [{}]\n",
            list.join(", ")
        );
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config)?;
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let log = std::fs::File::create(dir.join("prometheus.log"))?;
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("start prometheus")?;
        Ok(Prometheus { child, addr })
    }

    /// The result vector of an instant query.
    fn query(&self, expr: &str) -> Result<Vec<serde_json::Value>> {
        let path = format!("/api/v1/query?query={}", url_encode(expr));
        let reply = http::get(self.addr, &path)?;
        let json: serde_json::Value = serde_json::from_str(&reply.body)
            .with_context(|| format!("query {expr}: {}", reply.body))?;
        if json["status"] != "success" {
            bail!("query {expr}: {}", reply.body);
        }
        Ok(json["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_of_dashboard_10465_returns_data_from_an_ensemble() -> Result<()> {
    if !Path::new(PROMETHEUS).exists() {
        assert!(
            std::env::var_os("PADDOCK_REQUIRED").is_none(),
            "{PROMETHEUS} is missing (scripts/install-test-deps.sh installs it)"
        );
        eprintln!("skipped: {PROMETHEUS} is missing");
        return Ok(());
    }
    let mut spec = EnsembleSpec::participants(3);
    spec.prometheus = true;
    let ensemble = Ensemble::start(ServerKind::Paddock, &spec)?;
    // Traffic under a namespace, so the per-namespace and latency summaries have samples.
    let c = zk::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .connect(&ensemble.connect_string())
        .await
        .map_err(|e| anyhow!("connect: {e}"))?;
    c.create("/app", b"", &persistent()).await?;
    for i in 0..20 {
        c.create(&format!("/app/{i}"), b"data", &persistent())
            .await?;
        c.get_data(&format!("/app/{i}")).await?;
    }
    let targets: Vec<SocketAddr> = (ensemble.ids().into_iter())
        .map(|id| ensemble.metrics_addr(id).context("metrics port"))
        .collect::<Result<_>>()?;
    let dir = tempfile::tempdir()?;
    let prometheus = Prometheus::start(dir.path(), &targets)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = prometheus.query("up == 1").map(|r| r.len()).unwrap_or(0);
        if up == targets.len() {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.path().join("prometheus.log"))?;
            bail!(
                "Prometheus did not scrape all {} members:\n{log}",
                targets.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A few more scrapes, so rates over the samples exist too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let names = include_str!("data/dashboard-10465-metrics.txt");
    let mut missing = Vec::new();
    let mut checked = 0;
    for name in names
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        checked += 1;
        if prometheus.query(name)?.is_empty() {
            missing.push(name);
        }
    }
    assert!(checked > 100, "the name list is incomplete ({checked})");
    assert!(
        prometheus.query("no_such_metric_anywhere")?.is_empty(),
        "an unknown name must come back empty, or this test proves nothing"
    );
    assert!(
        missing.is_empty(),
        "no data for {} of the dashboard's metrics: {missing:?}",
        missing.len()
    );
    // The dashboard's typical shapes evaluate too.
    for expr in [
        "sum(znode_count)",
        "rate(packets_received[1m])",
        "max(quorum_size)",
        "sum(learners)",
        "rate(fsynctime_sum[1m])",
        "sum by (key) (write_per_namespace_sum)",
    ] {
        assert!(!prometheus.query(expr)?.is_empty(), "no data for {expr}");
    }
    Ok(())
}
