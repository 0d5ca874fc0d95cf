//! Shared client activity for the operations tests (four-letter words, AdminServer): the
//! same sessions, nodes and watches on both servers, so that their reports can be compared.

use std::time::Duration;

use anyhow::Result;
use zookeeper_client as zk;

use crate::{mode, persistent, ServerProcess};

/// The sessions that stay connected while the server is asked about them.
pub struct Activity {
    _clients: Vec<zk::Client>,
    /// Held so that the client library does not remove the watches: ZooKeeper 3.8 keeps a
    /// connection whose last watch was removed in its `wchs` count while Paddock does not, a
    /// quirk these tests do not pin.
    _watchers: Vec<zk::OneshotWatcher>,
    /// The session ids, in client order.
    pub sessions: Vec<i64>,
}

/// Two sessions under `root`: the first creates `root`, `root/a`, `root/a/b`, writes
/// `root/a/b` 130 times (so that the digest log, kept every 128 zxids, has an entry), creates
/// the ephemeral `root/e` and watches `root/a` (data and children) and `root/e`; the second
/// watches `root/a`'s data.
pub async fn activity(server: &ServerProcess, root: &str) -> Result<Activity> {
    let connect = server.connect_string();
    let client = || {
        let connect = connect.clone();
        async move {
            zk::Client::connector()
                .with_session_timeout(Duration::from_secs(4))
                .connect(&connect)
                .await
        }
    };
    let a = client().await?;
    let path = |rel: &str| format!("{root}/{rel}");
    a.create(root, b"", &persistent()).await?;
    a.create(&path("a"), b"x", &persistent()).await?;
    a.create(&path("a/b"), b"", &persistent()).await?;
    for i in 0..130u32 {
        a.set_data(&path("a/b"), &i.to_be_bytes(), None).await?;
    }
    a.create(&path("e"), b"e", &mode(zk::CreateMode::Ephemeral))
        .await?;
    let (_, _, w1) = a.get_and_watch_data(&path("a")).await?;
    let (_, _, w2) = a.get_and_watch_children(&path("a")).await?;
    let (_, w3) = a.check_and_watch_stat(&path("e")).await?;
    let b = client().await?;
    let (_, _, w4) = b.get_and_watch_data(&path("a")).await?;
    let sessions = vec![a.session_id().0, b.session_id().0];
    Ok(Activity {
        _clients: vec![a, b],
        _watchers: vec![w1, w2, w3, w4],
        sessions,
    })
}
