//! Four-letter words on the client port (`srv/command/FourLetterCommands.java`).
//!
//! This version answers `srvr`, `stat`, `ruok` and `isro`, and refuses words outside
//! `4lw.commands.whitelist` with ZooKeeper's own message. The full set arrives with the
//! operations issue.

use std::fmt::Write as _;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::oneshot;

use crate::conn::ConnEnd;
use crate::core_task::CoreMsg;
use crate::server::Shared;
use crate::stats::ServerStats;

/// What `srvr` reports as the version: ZooKeeper's line shape, so that tools that parse
/// "Zookeeper version: X.Y.Z-..." (zkServer.sh status, kazoo's server_version) read it.
pub const VERSION_LINE: &str = concat!(
    "3.9.3-paddock-",
    env!("CARGO_PKG_VERSION"),
    ", built on paddock"
);

pub async fn answer(cmd: &str, mut write: OwnedWriteHalf, shared: &Shared) -> Result<(), ConnEnd> {
    let text = if !shared.four_letter_word_allowed(cmd) {
        format!("{cmd} is not executed because it is not in the whitelist.\n")
    } else {
        match cmd {
            "ruok" => "imok".to_owned(),
            "isro" => "rw".to_owned(),
            "srvr" | "stat" => match stats(shared).await {
                Some(s) => render_stat(&s, cmd == "stat"),
                None => "This ZooKeeper instance is not currently serving requests\n".to_owned(),
            },
            _ => String::new(),
        }
    };
    write.write_all(text.as_bytes()).await?;
    write.shutdown().await?;
    Ok(())
}

async fn stats(shared: &Shared) -> Option<ServerStats> {
    let (tx, rx) = oneshot::channel();
    shared.core.send(CoreMsg::Stats { reply: tx }).await.ok()?;
    rx.await.ok()
}

/// `StatCommand` + `ServerStats.toString()`, line for line.
fn render_stat(s: &ServerStats, with_clients: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Zookeeper version: {VERSION_LINE}");
    if with_clients {
        out.push_str("Clients:\n\n");
    }
    let _ = writeln!(out, "Latency min/avg/max: 0/0.0/0");
    let _ = writeln!(out, "Received: {}", s.packets_received);
    let _ = writeln!(out, "Sent: {}", s.packets_sent);
    let _ = writeln!(out, "Connections: {}", s.connections);
    let _ = writeln!(out, "Outstanding: 0");
    let _ = writeln!(out, "Zxid: 0x{:x}", s.last_zxid);
    let _ = writeln!(out, "Mode: standalone");
    let _ = writeln!(out, "Node count: {}", s.counts.znode_count);
    out
}
