//! `paddock`: starts a standalone server from a zoo.cfg, or from the embedded default (a
//! standalone server on 127.0.0.1:2181 with its data in ./data).

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use paddock::config::ServerConfig;
use paddock::Server;

#[derive(Parser, Debug)]
#[command(
    name = "paddock",
    version,
    about = "A ZooKeeper-compatible coordination server"
)]
struct Cli {
    /// A ZooKeeper zoo.cfg. Without one, Paddock runs standalone on 127.0.0.1:2181 with its
    /// data in ./data.
    #[arg(long, short = 'c', value_name = "ZOO_CFG")]
    config: Option<PathBuf>,
    /// The zoo.cfg as a positional argument, as `QuorumPeerMain zoo.cfg` takes it.
    #[arg(value_name = "ZOO_CFG", conflicts_with = "config")]
    config_positional: Option<PathBuf>,
    /// Overrides clientPort.
    #[arg(long)]
    client_port: Option<u16>,
    /// Overrides dataDir (and dataLogDir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Log format: human or json. The level comes from RUST_LOG (default info).
    #[arg(long, default_value = "human")]
    log_format: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    let mut config = match cli.config.or(cli.config_positional) {
        Some(path) => ServerConfig::from_file(&path)
            .with_context(|| format!("reading configuration {}", path.display()))?,
        None => ServerConfig::default(),
    };
    if let Some(port) = cli.client_port {
        config.client_port = port;
    }
    if let Some(dir) = cli.data_dir {
        config.data_log_dir = dir.clone();
        config.data_dir = dir;
    }
    for key in &config.ignored_keys {
        tracing::warn!("zoo.cfg key {key:?} is not acted on by this version of Paddock");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let server = Server::bind(config).await?;
        tracing::info!("serving ZooKeeper clients on {}", server.local_addr());
        server.run(shutdown_signal()).await?;
        anyhow::Ok(())
    })
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("received a shutdown signal");
}
