//! `paddock`: starts a standalone server from a zoo.cfg, or from the embedded default (a
//! standalone server on 127.0.0.1:2181 with its data in ./data).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use paddock::config::{LogFormat, ServerConfig};
use paddock::{logging, tools, Server};

/// jemalloc instead of glibc's malloc: the request path allocates and frees many small
/// buffers across threads (frames, paths, records), and glibc's arenas and chunk
/// consolidation were about a fifth of the server's CPU under a multi-heavy load (10-op
/// multis, 16x4 in flight: 37-38 -> 30-32 us of server CPU per multi). mimalloc was as fast
/// but kept 476 instead of 257 bytes of RSS per recovered znode; jemalloc keeps 257.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser, Debug)]
#[command(
    name = "paddock",
    version,
    about = "A ZooKeeper-compatible coordination server",
    args_conflicts_with_subcommands = true
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
    /// Log format: human or json (default: `paddock.log.format` in zoo.cfg, else human;
    /// PADDOCK_LOG_FORMAT overrides both). The first level filter comes from RUST_LOG
    /// (default info); the admin port's `/log_level` changes it at runtime.
    #[arg(long, value_parser = ["human", "json"])]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Deletes old snapshots and logs, keeping the newest COUNT snapshots and the logs they
    /// need (zkCleanup.sh).
    Cleanup {
        /// Read dataDir and dataLogDir from this zoo.cfg.
        #[arg(long, short = 'c', value_name = "ZOO_CFG")]
        config: Option<PathBuf>,
        /// The dataDir (snapshots), when no zoo.cfg is given.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The dataLogDir (logs); defaults to the dataDir.
        #[arg(long)]
        data_log_dir: Option<PathBuf>,
        /// Snapshots to keep (at least 3).
        #[arg(short = 'n', long, default_value_t = 3)]
        count: usize,
    },
    /// Prints a transaction log file (zkTxnLogToolkit.sh).
    DumpLog {
        file: PathBuf,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Prints a snapshot file (zkSnapShotToolkit.sh).
    DumpSnapshot {
        file: PathBuf,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Include node data in the text form (SnapshotFormatter -d).
        #[arg(short = 'd', long)]
        data: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let cli_format = match cli.log_format.as_deref() {
        Some("json") => Some(LogFormat::Json),
        Some(_) => Some(LogFormat::Human),
        None => None,
    };
    if let Some(command) = cli.command {
        logging::init(
            logging::format_from_env()
                .or(cli_format)
                .unwrap_or_default(),
            None,
        );
        return run_tool(command);
    }
    let config = match cli.config.or(cli.config_positional) {
        Some(path) => ServerConfig::from_file(&path)
            .with_context(|| format!("reading configuration {}", path.display())),
        None => Ok(ServerConfig::default()),
    };
    let format = logging::format_from_env()
        .or(cli_format)
        .or(config.as_ref().ok().map(|c| c.log_format))
        .unwrap_or_default();
    // The runtime first: the OTLP exporter of the log subscriber connects from inside it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let otlp = std::env::var(logging::OTLP_ENDPOINT_ENV)
        .ok()
        .or_else(|| config.as_ref().ok().and_then(|c| c.otlp_endpoint.clone()));
    {
        let _entered = runtime.enter();
        logging::init(format, otlp.as_deref());
    }
    let mut config = config?;
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
    let outcome = runtime.block_on(async move {
        let server = Server::bind(config).await?;
        tracing::info!("serving ZooKeeper clients on {}", server.local_addr());
        server.run(shutdown_signal()).await?;
        anyhow::Ok(())
    });
    logging::shutdown();
    outcome
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

fn run_tool(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Cleanup {
            config,
            data_dir,
            data_log_dir,
            count,
        } => {
            let (data_dir, data_log_dir) = match (config, data_dir) {
                (Some(path), _) => {
                    let cfg = ServerConfig::from_file(&path)
                        .with_context(|| format!("reading configuration {}", path.display()))?;
                    (cfg.data_dir, cfg.data_log_dir)
                }
                (None, Some(dir)) => (dir.clone(), data_log_dir.unwrap_or(dir)),
                (None, None) => anyhow::bail!("cleanup needs --config or --data-dir"),
            };
            let removed = tools::cleanup(&data_log_dir, &data_dir, count)?;
            for path in &removed {
                println!("removed {}", path.display());
            }
            println!("{} files removed", removed.len());
        }
        Command::DumpLog { file, json } => print!("{}", tools::dump_log(&file, json)?),
        Command::DumpSnapshot { file, json, data } => {
            print!("{}", tools::dump_snapshot(&file, json, data)?)
        }
    }
    Ok(())
}
