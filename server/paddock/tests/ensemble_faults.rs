//! Storage faults on one member of a 3-member ensemble, every member in this process on its
//! own in-memory disk (`FaultFs`).
//!
//! ZooKeeper's follower exits when its log write fails (`SyncRequestProcessor`); a Paddock
//! member keeps its batch and retries (`persist::sync`), so a full disk costs the ensemble
//! that member's votes, never the quorum's writes, and the member catches up once space is
//! freed, without a restart.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    config, four_letter_word, http_get, loopback_members, snap_dir, snapshots, start, wait_until,
    Client, Running,
};
use paddock::config::{FourLetterWhitelist, ServerConfig};
use paddock::fourlw;
use paddock_jute::proto::{
    CreateRequest, DeleteRequest, MultiOp, PathRequest, Request, SetDataRequest,
};
use paddock_jute::{Acl, OpCode};
use paddock_storage::names::zxid_from_name;
use paddock_storage::snapshot::{checked_stream, snapshot_trailer, Compression};
use paddock_storage::{read_log_dir, FaultFs, Fs};

const MEMBERS: u64 = 3;
/// Nodes under /d for the SNAP test, in multis of 1,000.
const BALLAST: usize = 40_000;

fn create(path: &str) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(vec![7; 100]),
        acl: Acl::open_unsafe(),
        flags: 0,
    })
}

/// Three members, member `i + 1` on `disks[i]`, with a 16 KiB log preallocation so a full
/// disk shows within a few hundred writes.
async fn ensemble(disks: &[FaultFs]) -> Vec<Running> {
    let (members, _) = ensemble_with(disks, 1_000_000).await;
    members
}

/// `ensemble` with a `snapCount`; also returns the members' configurations, for restarts.
async fn ensemble_with(disks: &[FaultFs], snap_count: u64) -> (Vec<Running>, Vec<ServerConfig>) {
    ensemble_tuned(disks, |c| c.snap_count = snap_count).await
}

/// `ensemble` with each member's configuration changed by `tune`.
async fn ensemble_tuned(
    disks: &[FaultFs],
    tune: impl Fn(&mut ServerConfig),
) -> (Vec<Running>, Vec<ServerConfig>) {
    let lines = loopback_members(MEMBERS);
    let mut members = Vec::new();
    let mut configs = Vec::new();
    for (i, disk) in disks.iter().enumerate() {
        let cfg = config(|c| {
            c.tick_ms = 200;
            c.servers = lines.clone();
            c.server_id = Some(i as u64 + 1);
            c.init_limit = Some(10);
            c.sync_limit = Some(5);
            c.pre_alloc_size_kb = 16;
            c.snap_count = 1_000_000;
            c.four_letter_words = FourLetterWhitelist::parse("ruok, srvr, mntr");
            c.admin_enable_server = true;
            c.admin_server_address = std::net::Ipv4Addr::LOCALHOST.into();
            c.admin_server_port = 0;
            tune(c);
        });
        configs.push(cfg.clone());
        members.push(start(disk, cfg).await.expect("a member starts"));
    }
    // Every member synced: a test that stops one leaves the others a quorum.
    for m in &members {
        let deadline = Instant::now() + Duration::from_secs(30);
        while synced_session(m.addr).await.is_none() {
            assert!(Instant::now() < deadline, "{} never served", m.addr);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    (members, configs)
}

/// The index of the member `srvr` calls leader, once one is.
async fn leader(members: &[Running]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for (i, m) in members.iter().enumerate() {
            if four_letter_word(m.addr, "srvr")
                .await
                .contains("Mode: leader")
            {
                return i;
            }
        }
        assert!(Instant::now() < deadline, "no leader within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A session on `addr` that has seen everything the leader committed, once `addr` serves.
async fn synced_session(addr: SocketAddr) -> Option<Client> {
    let mut c = Client::connect(addr).await.ok()?;
    if c.session_id == 0 {
        return None;
    }
    let synced = c
        .call(Request::Sync(PathRequest { path: "/".into() }))
        .await
        .ok()?;
    (synced.err == 0).then_some(c)
}

/// The children of `/d` as `addr` serves them after a `sync`, once it serves at all.
async fn synced_children(addr: SocketAddr) -> Option<BTreeSet<String>> {
    let mut c = synced_session(addr).await?;
    Some(c.children("/d").await.ok()??.into_iter().collect())
}

/// Fills `full`'s disk while 400 creates go through member `via`: every one is acknowledged
/// (by the two other members' logs); then frees the space and waits for `full` to serve all
/// of them, and writes through it.
async fn full_disk_on(members: &[Running], disks: &[FaultFs], full: usize, via: usize) {
    let mut writer = Client::connect(members[via].addr).await.unwrap();
    assert_eq!(writer.call(create("/d")).await.unwrap().err, 0);

    disks[full].disk_full_after(0);
    let mut acked = BTreeSet::new();
    for i in 0..400 {
        let name = format!("n{i:04}");
        let reply = writer
            .call(create(&format!("/d/{name}")))
            .await
            .unwrap_or_else(|e| panic!("{name}: the quorum answers while one disk is full: {e}"));
        assert_eq!(reply.err, 0, "{name}: two members of three still log it");
        acked.insert(name);
    }
    // ~180 bytes each: far more than the 16 KiB the full member had reserved.
    let logged = read_log_dir(&disks[full], &common::snap_dir(), 0)
        .expect("the full member's log reads")
        .entries
        .len();
    assert!(logged < 400, "the full member logged {logged} entries");

    disks[full].set_capacity(u64::MAX);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = synced_children(members[full].addr).await;
        if seen.as_ref() == Some(&acked) {
            break;
        }
        if Instant::now() >= deadline {
            let mut modes = Vec::new();
            for m in members {
                modes.push(four_letter_word(m.addr, "srvr").await);
            }
            panic!(
                "the member never caught up after space was freed: it serves {:?} of {} \
                 children; srvr: {modes:?}",
                seen.map(|s| s.len()),
                acked.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut through_full = Client::connect(members[full].addr).await.unwrap();
    let reply = through_full.call(create("/d/after")).await.unwrap();
    assert_eq!(reply.err, 0, "a write through the recovered member");
    acked.insert("after".into());
    assert_eq!(synced_children(members[via].addr).await, Some(acked));
}

/// A fresh ensemble where the leader's disk (`leader_full`) or a follower's fills up.
async fn log_with_a_full_disk(leader_full: bool) {
    let disks: Vec<FaultFs> = (1..=MEMBERS).map(FaultFs::new).collect();
    let members = ensemble(&disks).await;
    let lead = leader(&members).await;
    let follower = (0..members.len()).find(|&i| i != lead).expect("a follower");
    let (full, via) = if leader_full {
        (lead, follower)
    } else {
        (follower, lead)
    };
    full_disk_on(&members, &disks, full, via).await;
    for m in members {
        m.shutdown().await.expect("clean shutdown");
    }
}

// issue 6 review: a follower whose disk fills up. The leader and the other follower go on
// acknowledging every write while the full member's log is stuck; once space is freed it
// catches up by itself and serves every acknowledged write, and writes through it succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_with_a_full_disk_falls_behind_then_catches_up() {
    log_with_a_full_disk(false).await;
}

// The same with the leader's disk: the two followers' logs make the quorum, and the
// leader's own log catches up once space is freed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_with_a_full_disk_falls_behind_then_catches_up() {
    log_with_a_full_disk(true).await;
}

// A new epoch needs the full member: the leader stops, and of the two members left one has a
// full disk, so neither can record a new epoch with the other until space is freed (before
// the fix, the full member stopped for good on its epoch file and the ensemble never had a
// quorum again). Once space is freed they elect, and every acknowledged write is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_epoch_waits_for_a_full_member_then_goes_on() {
    let disks: Vec<FaultFs> = (1..=MEMBERS).map(FaultFs::new).collect();
    let members = ensemble(&disks).await;
    let lead = leader(&members).await;
    let addrs: Vec<SocketAddr> = members.iter().map(|m| m.addr).collect();
    let admin: Vec<SocketAddr> = members
        .iter()
        .map(|m| m.admin.expect("the AdminServer is on"))
        .collect();
    let mut members: Vec<Option<Running>> = members.into_iter().map(Some).collect();
    let others: Vec<usize> = (0..addrs.len()).filter(|&i| i != lead).collect();
    let (full, other) = (others[0], others[1]);
    let mut writer = Client::connect(addrs[lead]).await.unwrap();
    assert_eq!(writer.call(create("/d")).await.unwrap().err, 0);
    let mut acked = BTreeSet::new();
    for i in 0..50 {
        let name = format!("n{i:04}");
        assert_eq!(
            writer
                .call(create(&format!("/d/{name}")))
                .await
                .unwrap()
                .err,
            0
        );
        acked.insert(name);
    }
    drop(writer);

    disks[full].disk_full_after(0);
    let old_leader = members[lead].take().expect("the leader runs");
    old_leader
        .shutdown()
        .await
        .expect("the leader stops cleanly");
    // Long enough for several election rounds (tickTime 200 ms): the full member is then
    // waiting for space to record the new epoch. It still answers four-letter words.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // So do the AdminServer's readiness and commands.
    fn wait<F: std::future::Future>(what: F) -> tokio::time::Timeout<F> {
        tokio::time::timeout(Duration::from_secs(10), what)
    }
    let admin = admin[full];
    let (ruok, srvr, ready, stat) = tokio::join!(
        wait(four_letter_word(addrs[full], "ruok")),
        wait(four_letter_word(addrs[full], "srvr")),
        wait(http_get(admin, "/readyz")),
        wait(http_get(admin, "/commands/stat")),
    );
    let hangs = "hangs on a member waiting for disk space";
    assert_eq!(ruok.expect(hangs), "imok");
    let srvr = srvr.expect(hangs);
    assert!(srvr.starts_with(fourlw::ZK_NOT_SERVING), "srvr: {srvr:?}");
    assert_eq!(ready.expect(hangs).0, 503, "/readyz");
    let (status, body) = stat.expect(hangs);
    assert_eq!(status, 200, "/commands/stat");
    assert!(
        body.contains(fourlw::ZK_NOT_SERVING),
        "/commands/stat: {body}"
    );
    disks[full].set_capacity(u64::MAX);

    let deadline = Instant::now() + Duration::from_secs(60);
    let written = loop {
        assert!(
            Instant::now() < deadline,
            "no write succeeded after space was freed"
        );
        if let Ok(mut c) = Client::connect(addrs[other]).await {
            if c.session_id != 0 {
                if let Ok(reply) = c.call(create("/d/after")).await {
                    break reply.err;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(written, 0, "a write after the new epoch");
    acked.insert("after".into());
    for i in [full, other] {
        assert_eq!(
            synced_children(addrs[i]).await,
            Some(acked.clone()),
            "member {}",
            i + 1
        );
    }
    for m in members.into_iter().flatten() {
        m.shutdown().await.expect("clean shutdown");
    }
}

/// SNAP with a full disk: a follower is stopped while 300 writes (and snapshots every ~40)
/// compact the leader's history, so on restart it needs the whole state. The disk of the
/// leader (`leader_full`) or of that follower is full meanwhile: the member stays up. A full
/// leader sends it anyway (it reads its newest snapshot file, or builds one in memory: neither
/// needs space); a full follower gets it once space is freed.
async fn snap_with_a_full_disk(leader_full: bool) {
    let disks: Vec<FaultFs> = (1..=MEMBERS).map(FaultFs::new).collect();
    let (mut ens, writer) = OneDown::start(&disks, 40).await;
    let (lead, behind) = (ens.lead, ens.behind);
    let acked = create_children(writer, 300).await;

    let full = if leader_full { lead } else { behind };
    disks[full].disk_full_after(0);
    let addr = ens.restart(&disks).await;
    if leader_full {
        wait_for_state(addr, &acked).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !ens.members[full].as_ref().expect("runs").task.is_finished(),
        "member {} stopped on a SNAP it could not write",
        full + 1
    );
    disks[full].set_capacity(u64::MAX);
    wait_for_state(addr, &acked).await;
    ens.shut_down().await;
}

/// An ensemble of three members on `disks` (snapshots every ~`snap_count` txns) with one
/// follower stopped.
struct OneDown {
    members: Vec<Option<Running>>,
    configs: Vec<ServerConfig>,
    addrs: Vec<SocketAddr>,
    lead: usize,
    behind: usize,
}

impl OneDown {
    /// The ensemble, and a session on the leader that has created `/d`.
    async fn start(disks: &[FaultFs], snap_count: u64) -> (OneDown, Client) {
        let (members, configs) = ensemble_with(disks, snap_count).await;
        let addrs: Vec<SocketAddr> = members.iter().map(|m| m.addr).collect();
        let lead = leader(&members).await;
        let mut members: Vec<Option<Running>> = members.into_iter().map(Some).collect();
        let behind = (0..addrs.len()).find(|&i| i != lead).expect("a follower");
        members[behind]
            .take()
            .expect("runs")
            .shutdown()
            .await
            .expect("the follower stops cleanly");
        let mut writer = Client::connect(addrs[lead]).await.unwrap();
        assert_eq!(writer.call(create("/d")).await.unwrap().err, 0);
        let down = OneDown {
            members,
            configs,
            addrs,
            lead,
            behind,
        };
        (down, writer)
    }

    /// Starts the stopped follower again; returns its client address.
    async fn restart(&mut self, disks: &[FaultFs]) -> SocketAddr {
        let restarted = start(&disks[self.behind], self.configs[self.behind].clone())
            .await
            .expect("the follower restarts");
        let addr = restarted.addr;
        self.members[self.behind] = Some(restarted);
        addr
    }

    async fn shut_down(self) {
        for m in self.members.into_iter().flatten() {
            m.shutdown().await.expect("clean shutdown");
        }
    }
}

/// Waits until the member at `addr` serves `/d` with exactly `acked`.
async fn wait_for_state(addr: SocketAddr, acked: &BTreeSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while synced_children(addr).await.as_ref() != Some(acked) {
        assert!(
            Instant::now() < deadline,
            "the follower never got the state"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// The leader's disk is full: it still sends the snapshot (it once stopped, then sent nothing
// until space was freed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_with_a_full_disk_still_sends_snap() {
    snap_with_a_full_disk(true).await;
}

// The follower cannot install the snapshot; it waits and installs it once space is freed
// (before, it stopped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_with_a_full_disk_installs_snap_once_space_is_freed() {
    snap_with_a_full_disk(false).await;
}

// A leader that cannot read its snapshot files (or has none recent enough) builds the SNAP
// from its state instead: the follower still gets the whole state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_cannot_read_its_snapshot_files_sends_its_state() {
    let disks: Vec<FaultFs> = (1..=MEMBERS).map(FaultFs::new).collect();
    let (mut ens, writer) = OneDown::start(&disks, 40).await;
    let acked = create_children(writer, 300).await;
    let files = snapshots(&disks[ens.lead]);
    assert!(files.len() > 1, "the writes took snapshots: {files:?}");
    for name in files {
        disks[ens.lead].fail_reads(&snap_dir().join(name), true);
    }
    let addr = ens.restart(&disks).await;
    wait_for_state(addr, &acked).await;
    ens.shut_down().await;
}

/// Creates `/d/n0000` ... one at a time through `writer`, each acknowledged; their names.
async fn create_children(mut writer: Client, n: usize) -> BTreeSet<String> {
    let mut acked = BTreeSet::new();
    for i in 0..n {
        let name = format!("n{i:04}");
        let reply = writer.call(create(&format!("/d/{name}"))).await.unwrap();
        assert_eq!(reply.err, 0, "{name}");
        acked.insert(name);
    }
    acked
}

// A follower that needs SNAP while writes go on is sent the leader's newest snapshot file,
// which the leader wrote while its tree changed (a fuzzy snapshot, walked between requests),
// with the transactions after the file's zxid behind it. It ends with the leader's tree,
// stat for stat. (The leader reads the file on a blocking thread instead of serializing its
// tree on the core task.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_synced_from_a_snapshot_file_written_under_writes_has_the_leaders_tree() {
    let disks: Vec<FaultFs> = (1..=MEMBERS).map(FaultFs::new).collect();
    let (mut ens, mut writer) = OneDown::start(&disks, 100).await;
    let (lead, behind, addrs) = (ens.lead, ens.behind, ens.addrs.clone());
    let had: BTreeSet<String> = snapshots(&disks[behind]).into_iter().collect();
    let leader_had: BTreeSet<String> = snapshots(&disks[lead]).into_iter().collect();

    // Ballast, so that each snapshot's walk takes several steps with writes between them.
    for batch in 0..BALLAST / 1000 {
        let ops = (0..1000)
            .map(|i| match create(&format!("/d/b{batch}-{i}")) {
                Request::Create(req) => MultiOp::Create {
                    op: OpCode::Create,
                    req,
                },
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(writer.call(Request::Multi(ops)).await.unwrap().err, 0);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (stop, addr) = (stop.clone(), addrs[lead]);
            tokio::spawn(async move {
                let mut c = Client::connect(addr).await.unwrap();
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let path = format!("/d/w{w}-{}", n % 40);
                    let req = match n % 3 {
                        0 => create(&path),
                        1 => Request::SetData(SetDataRequest {
                            path,
                            data: Some(n.to_be_bytes().to_vec()),
                            version: -1,
                        }),
                        _ => Request::Delete(DeleteRequest { path, version: -1 }),
                    };
                    c.call(req).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    // The follower needs SNAP only once the leader has forgotten the history after its
    // zxid: the leader keeps one snapshot interval in memory and drops what a snapshot's
    // walk covered when the next snapshot is complete. Four new files (the newest may be
    // incomplete) are past that; on a loaded machine the writers may take more than a
    // second to get there, and the follower would be synced by DIFF, as it should be.
    let deadline = Instant::now() + Duration::from_secs(60);
    while snapshots(&disks[lead])
        .iter()
        .filter(|name| !leader_had.contains(*name))
        .count()
        < 4
    {
        assert!(Instant::now() < deadline, "the leader wrote no snapshots");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let addr = ens.restart(&disks).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while synced_session(addr).await.is_none() {
        assert!(Instant::now() < deadline, "the follower never served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        assert!(w.await.unwrap() > 100, "the writers kept writing");
    }

    // What the writers touched, /d's own stat and its children: the ballast is older than
    // every snapshot, so nothing else can differ.
    let mut views = Vec::new();
    for at in [addrs[lead], addr] {
        let mut c = synced_session(at).await.unwrap();
        let mut view = BTreeMap::new();
        view.insert("/d".to_owned(), c.get_data("/d").await.unwrap());
        for w in 0..2 {
            for k in 0..40 {
                let path = format!("/d/w{w}-{k}");
                view.insert(path.clone(), c.get_data(&path).await.unwrap());
            }
        }
        let children: BTreeSet<String> = c
            .children("/d")
            .await
            .unwrap()
            .unwrap()
            .into_iter()
            .collect();
        views.push((view, children));
    }
    let (on_leader, on_follower) = (&views[0], &views[1]);
    assert!(on_leader.1.len() > BALLAST);
    assert!(on_leader.1 == on_follower.1, "the children of /d differ");
    for (path, node) in &on_leader.0 {
        assert_eq!(node, &on_follower.0[path], "{path}");
    }
    // The follower installed one of the leader's files (a snapshot built from the state would
    // be named after the leader's last zxid at that moment, which no file of it has), and the
    // file is fuzzy: its walk ended at a later zxid than it started at.
    let leader_files: BTreeSet<String> = snapshots(&disks[lead]).into_iter().collect();
    let installed: Vec<String> = snapshots(&disks[behind])
        .into_iter()
        .filter(|name| !had.contains(name) && leader_files.contains(name))
        .collect();
    assert!(
        !installed.is_empty(),
        "no snapshot file of the leader's was sent"
    );
    let fuzzy = installed.iter().any(|name| {
        let data = disks[behind].read(&snap_dir().join(name)).unwrap();
        let stream = checked_stream(&data, Compression::from_magic(&data)).unwrap();
        let trailer = snapshot_trailer(&stream).unwrap();
        let started = zxid_from_name(name, "snapshot").unwrap();
        trailer.digest.is_some_and(|d| d.zxid > started)
    });
    assert!(
        fuzzy,
        "the file sent was not written under writes: {installed:?}"
    );
    ens.shut_down().await;
}

// A follower 6,000 transactions behind, all of them still in the leader's in-memory log, is
// synced by one DIFF: the sync's 6,000 frames fit the queue to it. With a queue of 4,096
// frames the rest were refused, the link reset and the sync started over, once per 4,096.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_far_behind_is_synced_by_one_diff() {
    let disks: Vec<FaultFs> = (1..=MEMBERS).map(FaultFs::new).collect();
    let (mut ens, mut writer) = OneDown::start(&disks, 100_000).await;
    let lead = ens.lead;
    let addrs = ens.addrs.clone();
    let mut acked = BTreeSet::new();
    for window in 0..12 {
        let names: Vec<String> = (0..500).map(|i| format!("n{window}-{i}")).collect();
        let mut xids = Vec::new();
        for name in &names {
            xids.push(writer.send(&create(&format!("/d/{name}"))).await.unwrap());
        }
        for (xid, name) in xids.into_iter().zip(names) {
            assert_eq!(writer.reply(xid, OpCode::Create).await.unwrap().err, 0);
            acked.insert(name);
        }
    }
    let diffs = |addr| async move {
        let mntr = four_letter_word(addr, "mntr").await;
        mntr.lines()
            .find_map(|l| l.strip_prefix("zk_diff_count\t"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no zk_diff_count in {mntr}"))
    };
    let before = diffs(addrs[lead]).await;
    let addr = ens.restart(&disks).await;
    wait_for_state(addr, &acked).await;
    assert_eq!(
        diffs(addrs[lead]).await - before,
        1,
        "syncs of the follower"
    );
    ens.shut_down().await;
}

/// A member keeps the log since its snapshot before last in memory. With entries far larger
/// than snapCount expects, snapshots come by size instead (`paddock.logMemoryLimitInKb`): 200
/// setData of 4 KiB against a 256 KiB limit make several on every member, where snapCount
/// (1,000,000 here) would make none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_entries_make_members_snapshot_by_size() {
    let disks: Vec<FaultFs> = (1..=MEMBERS).map(FaultFs::new).collect();
    let (members, _) = ensemble_tuned(&disks, |c| {
        c.log_memory_limit_kb = 256;
        c.metrics_provider_class = Some(paddock::config::PROMETHEUS_PROVIDER.to_owned());
        c.metrics_http_host = "127.0.0.1".into();
        c.metrics_http_port = 0;
    })
    .await;
    let before: Vec<usize> = disks.iter().map(|d| snapshots(d).len()).collect();
    let mut writer = Client::connect(members[0].addr).await.unwrap();
    assert_eq!(writer.call(create("/big")).await.unwrap().err, 0);
    for i in 0..200u32 {
        let set = Request::SetData(SetDataRequest {
            path: "/big".into(),
            data: Some(vec![i as u8; 4096]),
            version: -1,
        });
        assert_eq!(writer.call(set).await.unwrap().err, 0);
    }
    // 800 KiB logged, a snapshot due every 128 KiB once the one before it is written.
    for (i, disk) in disks.iter().enumerate() {
        wait_until(&format!("member {} snapshots by size", i + 1), || {
            snapshots(disk).len() >= before[i] + 3
        })
        .await;
    }
    // What each member holds in memory for syncs, as `paddock_log_memory_bytes` shows it:
    // the 800 KiB logged never sit there at once, and the log is not empty either.
    for m in &members {
        let addr = m.metrics.expect("metrics enabled");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, text) = http_get(addr, "/metrics").await;
            assert_eq!(status, 200);
            let held: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix("paddock_log_memory_bytes "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no paddock_log_memory_bytes in {text}"));
            if held > 0.0 && held <= (256.0 + 16.0) * 1024.0 {
                break;
            }
            assert!(Instant::now() < deadline, "{}: {held} bytes held", m.addr);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // ZooKeeper's per-proposal metrics, summed over the members: the leader proposes and
    // commits each of the 201 writes, both followers receive each proposal and commit.
    let expected = [
        ("proposal_count", 201.0),
        ("commit_count", 201.0),
        ("quorum_ack_latency_count", 201.0),
        ("learner_proposal_received_count", 402.0),
        ("learner_commit_received_count", 402.0),
        ("commit_propagation_latency_count", 402.0),
    ];
    let mut sums = [0.0; 6];
    for m in &members {
        let (_, text) = http_get(m.metrics.expect("metrics enabled"), "/metrics").await;
        for ((name, _), sum) in expected.iter().zip(&mut sums) {
            let value: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {text}"));
            *sum += value;
        }
    }
    for ((name, at_least), sum) in expected.iter().zip(sums) {
        assert!(sum >= *at_least, "{name}: {sum} < {at_least}");
    }
    for m in members {
        m.shutdown().await.expect("clean shutdown");
    }
}
