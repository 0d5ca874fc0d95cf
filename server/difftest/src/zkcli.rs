//! Running ZooKeeper's own command line client (`zkCli.sh`, class `ZooKeeperMain`) and
//! normalising its output.
//!
//! `zkCli.sh` is started directly as `java ... ZooKeeperMain -server host:port` with commands
//! piped on stdin: one JVM per batch (a JVM start costs about a second), no JLine (stdin is not
//! a terminal, so `ZooKeeperMain` reads lines plainly), and `slf4j-nop` on the classpath so log
//! lines do not mix with the output.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::io::AsyncWriteExt;

use crate::server::java_dir;

/// How long one zkCli batch may run.
pub const ZKCLI_DEADLINE: Duration = Duration::from_secs(60);

/// Starts `ZooKeeperMain` against `connect` with all three standard streams piped.
fn spawn(connect: &str) -> Result<tokio::process::Child> {
    spawn_with(connect, &[])
}

/// `spawn` with extra `-D` properties (and Netty on the classpath, which ZooKeeper's TLS
/// client needs).
fn spawn_with(connect: &str, properties: &[String]) -> Result<tokio::process::Child> {
    let jars = java_dir();
    let mut classpath: Vec<String> = ["zookeeper.jar", "slf4j-nop.jar"]
        .iter()
        .map(|jar| jars.join(jar).display().to_string())
        .collect();
    if !properties.is_empty() {
        // ClientCnxnSocketNetty: Debian ships Netty as one jar per module (netty-all.jar
        // holds only some of them); the unversioned names are links to the installed ones.
        let mut netty: Vec<String> = std::fs::read_dir(&jars)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("netty-") && n.ends_with(".jar"))
                    .filter(|n| !n.contains(".Final"))
                    .collect()
            })
            .unwrap_or_default();
        netty.sort();
        classpath.extend(netty.iter().map(|n| jars.join(n).display().to_string()));
    }
    let classpath = classpath.join(":");
    tokio::process::Command::new(std::env::var("JAVA").unwrap_or_else(|_| "java".into()))
        .args(["-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
        .args(properties)
        .args(["-cp", &classpath, "org.apache.zookeeper.ZooKeeperMain"])
        .args(["-server", connect])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("spawn zkCli (java ZooKeeperMain)")
}

/// Runs the commands (one per line) in one zkCli process against `connect` and returns its
/// standard output, a `--- stderr` line, and its standard error (zkCli prints results such
/// as `Created /a` and errors such as `Node already exists: /a` there). `quit` is appended.
pub async fn run(connect: &str, commands: &[&str]) -> Result<String> {
    run_with(connect, &[], commands).await
}

/// `run` with extra JVM `-D` properties (e.g. the client's TLS settings).
pub async fn run_with(connect: &str, properties: &[String], commands: &[&str]) -> Result<String> {
    let mut child = spawn_with(connect, properties)?;
    let mut script = commands.join("\n");
    script.push_str("\nquit\n");
    let mut stdin = child.stdin.take().context("zkCli stdin")?;
    stdin.write_all(script.as_bytes()).await?;
    drop(stdin);
    let output = tokio::time::timeout(ZKCLI_DEADLINE, child.wait_with_output())
        .await
        .map_err(|_| anyhow::anyhow!("zkCli did not finish within {ZKCLI_DEADLINE:?}"))??;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stdout.is_empty() {
        bail!("zkCli printed nothing; stderr:\n{stderr}");
    }
    Ok(format!("{stdout}--- stderr\n{stderr}"))
}

/// A zkCli process kept open: commands are sent one at a time and the test waits for what
/// each prints, so it can act on the servers between commands (kill the member zkCli is on).
pub struct Interactive {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::sync::mpsc::Receiver<String>,
    /// Everything printed so far, for failure messages.
    pub transcript: String,
}

impl Interactive {
    /// Starts zkCli against `connect` (one or more `host:port`, comma separated).
    pub async fn start(connect: &str) -> Result<Interactive> {
        let mut child = spawn(connect)?;
        let stdin = child.stdin.take().context("zkCli stdin")?;
        // Both streams feed one channel of lines: zkCli prints results on either.
        let (tx, lines) = tokio::sync::mpsc::channel(1024);
        let stdout = child.stdout.take().context("zkCli stdout")?;
        let stderr = child.stderr.take().context("zkCli stderr")?;
        for stream in [
            Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box::new(stderr),
        ] {
            let tx = tx.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncBufReadExt;
                let mut reader = tokio::io::BufReader::new(stream).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    if tx.send(line).await.is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Interactive {
            child,
            stdin,
            lines,
            transcript: String::new(),
        })
    }

    /// Sends one command line.
    pub async fn send(&mut self, command: &str) -> Result<()> {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// Waits until zkCli prints a line containing `text`.
    pub async fn expect(&mut self, text: &str, within: Duration) -> Result<()> {
        self.expect_where(text, within, |line| line.contains(text))
            .await
    }

    /// Waits until zkCli prints exactly the line `text`.
    pub async fn expect_line(&mut self, text: &str, within: Duration) -> Result<()> {
        self.expect_where(text, within, |line| line == text).await
    }

    async fn expect_where(
        &mut self,
        text: &str,
        within: Duration,
        matches: impl Fn(&str) -> bool,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.recv())
                .await
                .map_err(|_| {
                    anyhow::anyhow!(
                        "zkCli did not print {text:?} within {within:?}:\n{}",
                        self.transcript
                    )
                })?
                .context("zkCli exited")?;
            self.transcript.push_str(&line);
            self.transcript.push('\n');
            if matches(&line) {
                return Ok(());
            }
        }
    }

    /// Quits zkCli and waits for it to exit.
    pub async fn quit(mut self) -> Result<()> {
        self.send("quit").await?;
        tokio::time::timeout(ZKCLI_DEADLINE, self.child.wait())
            .await
            .map_err(|_| anyhow::anyhow!("zkCli did not quit"))??;
        Ok(())
    }
}

/// zkCli prints the `Closed` event of its own `quit` only when the close completes before the
/// JVM exits: a race inside the client, not an answer of the server. It is dropped, with the
/// blank lines and the `WATCHER::` banner zkCli prints around it.
fn drop_closed_event(lines: &mut Vec<&str>) {
    while let Some(i) = lines
        .iter()
        .position(|l| l.starts_with("WatchedEvent state:Closed"))
    {
        let mut start = i;
        while start > 0 && (lines[start - 1].is_empty() || lines[start - 1] == "WATCHER::") {
            start -= 1;
        }
        lines.drain(start..=i);
    }
}

/// Normalises zkCli output so two servers compare:
/// - the banner up to the first `WatchedEvent state:SyncConnected` is dropped (it names the port);
/// - `cZxid`/`mZxid`/`pZxid = 0x..` become their rank among the zxids of the output;
/// - `ctime`/`mtime = <date>` lines become `<time>` (zkCli prints seconds, so ranks would tie
///   arbitrarily);
/// - session ids (`ephemeralOwner = 0x..` other than 0x0, and `0x` + 16 hex digits anywhere)
///   become `s1`, `s2`... in first-seen order.
pub fn normalize(output: &str) -> String {
    let body = match output.find("WatchedEvent state:SyncConnected type:None path:null") {
        Some(i) => &output[i..],
        None => output,
    };
    let mut zxids: Vec<i64> = body
        .lines()
        .filter_map(|line| zxid_line(line).map(|(_, z)| z))
        .collect();
    zxids.sort_unstable();
    zxids.dedup();
    let rank: HashMap<i64, usize> = zxids.iter().enumerate().map(|(i, z)| (*z, i + 1)).collect();
    let mut sessions: HashMap<String, usize> = HashMap::new();
    let mut out = String::new();
    let mut lines: Vec<&str> = body.lines().collect();
    drop_closed_event(&mut lines);
    for line in lines {
        let line = if let Some((name, z)) = zxid_line(line) {
            format!("{name} = z{}", rank[&z])
        } else if line.starts_with("ctime = ") || line.starts_with("mtime = ") {
            format!("{} = <time>", &line[..5])
        } else {
            replace_sessions(line, &mut sessions)
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn zxid_line(line: &str) -> Option<(&str, i64)> {
    let (name, value) = line.split_once(" = ")?;
    if !matches!(name, "cZxid" | "mZxid" | "pZxid") {
        return None;
    }
    let hex = value.trim().strip_prefix("0x")?;
    Some((name, i64::from_str_radix(hex, 16).ok()?))
}

/// Replaces `0x` followed by 9 or more hex digits (session ids carry a timestamp in their
/// high bits; short hex numbers like `0x0` or a zxid are left alone).
fn replace_sessions(line: &str, sessions: &mut HashMap<String, usize>) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        let digits = rest[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        if digits >= 9 {
            let id = rest[i..i + 2 + digits].to_string();
            let next = sessions.len() + 1;
            let n = *sessions.entry(id).or_insert(next);
            out.push_str(&format!("s{n}"));
        } else {
            out.push_str(&rest[i..i + 2 + digits]);
        }
        rest = &rest[i + 2 + digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxids_by_rank_sessions_by_symbol_times_hidden() {
        let out =
            "Connecting to 127.0.0.1:1234\nWatchedEvent state:SyncConnected type:None path:null\n\
                   cZxid = 0x1a\nctime = Wed Nov 25 17:40:23 UTC 2026\nmZxid = 0x1c\n\
                   ephemeralOwner = 0x1000012345678ab\n";
        let norm = normalize(out);
        assert!(norm.contains("cZxid = z1\n"));
        assert!(norm.contains("mZxid = z2\n"));
        assert!(norm.contains("ctime = <time>\n"));
        assert!(norm.contains("ephemeralOwner = s1\n"));
        assert!(!norm.contains("1234"));
    }
}
