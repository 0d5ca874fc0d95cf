//! An ensemble member's quorum layer: the ZAB core (`paddock_zab::Peer`) with its links to the
//! other members (`paddock_peer_net`), its epoch files and its share of the transaction log.
//!
//! The core task owns a `Quorum` next to the state machine and drives it: messages from other
//! members, the clock, its own clients' writes (`propose`) and the log writer's fsyncs go in;
//! each `Ready` that comes out is carried out completely before the next input, in the order
//! `docs/ZAB.md` gives (see `CoreTask::drive_quorum`). This module holds the parts that do not
//! touch the state machine: setup from zoo.cfg, the epoch files, log bookkeeping and the
//! member's status for the four-letter words and the AdminServer.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;
use paddock_core::ConnId;
use paddock_peer_net::{Event, Net, NetConfig, Peer as NetPeer};
use paddock_storage::epoch::{write_epoch, EpochError, ACCEPTED_EPOCH, CURRENT_EPOCH};
use paddock_zab::{
    Config, Entry, LeaderView, LearnerType, Peer, Persisted, ServerState, Stats, Status, Zxid,
};
use tokio::sync::mpsc;

use crate::config::{Role, ServerConfig};
use crate::persist::{PersistError, Storage};
use crate::tls::{ReloadingStores, Stores, TlsError};

/// Why an ensemble member cannot start.
#[derive(Debug, thiserror::Error)]
pub enum QuorumError {
    #[error("server.{id}: cannot resolve {host}:{port}: {reason}")]
    Resolve {
        id: u64,
        host: String,
        port: u16,
        reason: String,
    },
    #[error("myid {0} has no server.{0} line")]
    NotAMember(u64),
    #[error("epoch files: {0}")]
    Epoch(#[from] EpochError),
    #[error("the ZAB core refused its start: {0}")]
    Zab(#[from] paddock_zab::Error),
    #[error("peer links: {0}")]
    Net(#[from] paddock_peer_net::NetError),
    #[error("{0}")]
    Persist(#[from] PersistError),
    #[error("sslQuorum: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// What a member needs to start its quorum layer, read from zoo.cfg and the data directory.
pub struct QuorumSetup {
    pub zab: Config,
    pub net: NetConfig,
    /// `readonlymode.enabled`.
    pub read_only_enabled: bool,
}

impl QuorumSetup {
    /// The ZAB configuration and the link addresses from the `server.N` lines. Members link to
    /// each other on their election ports (Paddock runs election and broadcast over one
    /// multiplexed link per pair); the quorum port is accepted and unused.
    pub fn from_config(cfg: &ServerConfig) -> Result<QuorumSetup, QuorumError> {
        let my_id = cfg.server_id.unwrap_or(0);
        let me =
            (cfg.servers.iter().find(|s| s.id == my_id)).ok_or(QuorumError::NotAMember(my_id))?;
        let voters = ids(cfg, Role::Participant);
        let observers = ids(cfg, Role::Observer);
        let tick_ms = u64::from(cfg.tick_ms.max(2));
        let zab = Config {
            my_id,
            voters,
            observers,
            tick_ms,
            init_limit_ticks: u64::from(cfg.init_limit.unwrap_or(10).max(1)),
            sync_limit_ticks: u64::from(cfg.sync_limit.unwrap_or(5).max(1)),
            rng_seed: rand::random(),
            ..Config::default()
        };
        let listen = if cfg.quorum_listen_on_all_ips {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), me.election_port)
        } else {
            resolve(me.id, &me.host, me.election_port)?
        };
        let mut peers = Vec::new();
        for s in cfg.servers.iter().filter(|s| s.id != my_id) {
            peers.push(NetPeer {
                id: s.id,
                addr: resolve(s.id, &s.host, s.election_port)?,
            });
        }
        let mut net = NetConfig::new(my_id, listen, peers);
        net.send_queue_frames = net.send_queue_frames.max(sync_frames(cfg.snap_count));
        if cfg.ssl_quorum {
            net.tls = Some(quorum_tls(&cfg.quorum_tls)?);
            tracing::info!("ensemble links use mutual TLS (sslQuorum)");
        }
        Ok(QuorumSetup {
            zab,
            net,
            read_only_enabled: cfg.read_only_mode_enabled,
        })
    }
}

/// Frames the queue to one learner must take at once: a sync sends one frame per entry of
/// the in-memory log after the learner's zxid (DIFF) or after the snapshot file it is sent
/// (SNAP), and that log holds up to about two snapshot intervals (it is compacted once a
/// snapshot file is complete). A frame refused for room resets the link, and the sync
/// starts over from where the learner got to. Capped, so that an enormous `snapCount` does
/// not lift the bound for a slow learner in broadcast.
fn sync_frames(snap_count: u64) -> usize {
    const MARGIN: u64 = 4096;
    const MOST: u64 = 1 << 22;
    snap_count
        .saturating_mul(2)
        .saturating_add(MARGIN)
        .min(MOST) as usize
}

/// `sslQuorum`'s PEM material from the `ssl.quorum.*` stores, checked as the client port's
/// and read again for later links when the files change (`sslQuorumReloadCertFiles`). The
/// links ask for it on every new connection, so the files are looked at each time.
fn quorum_tls(
    s: &crate::config::TlsSettings,
) -> Result<std::sync::Arc<dyn paddock_peer_net::TlsSource>, QuorumError> {
    let stores = ReloadingStores::new(s, Stores::Quorum, Duration::ZERO, quorum_pem)?;
    Ok(std::sync::Arc::new(stores))
}

impl paddock_peer_net::TlsSource for ReloadingStores<paddock_peer_net::NetTls> {
    fn current(&self) -> paddock_peer_net::NetTls {
        ReloadingStores::current(self)
    }
}

/// The `ssl.quorum.*` stores as the links take them: the key store's PEM as both chain and
/// key, and the trust store's CAs, the same bytes the client port's checks passed (PEM, a
/// key, a chain, CAs); member links always check the other side's certificate.
fn quorum_pem(s: &crate::config::TlsSettings) -> Result<paddock_peer_net::NetTls, TlsError> {
    let need_trust = crate::config::TlsSettings {
        client_auth: crate::config::ClientAuth::Need,
        ..s.clone()
    };
    let loaded = crate::tls::load_stores(&need_trust, Stores::Quorum)?;
    let ca_pem = loaded
        .trust_store_pem
        .expect("client_auth Need reads the trust store");
    Ok(paddock_peer_net::NetTls {
        cert_pem: loaded.key_store_pem.clone(),
        key_pem: loaded.key_store_pem,
        ca_pem,
    })
}

fn ids(cfg: &ServerConfig, role: Role) -> Vec<u64> {
    cfg.servers
        .iter()
        .filter(|s| s.role == role)
        .map(|s| s.id)
        .collect()
}

fn resolve(id: u64, host: &str, port: u16) -> Result<SocketAddr, QuorumError> {
    let err = |reason: String| QuorumError::Resolve {
        id,
        host: host.to_owned(),
        port,
        reason,
    };
    (host, port)
        .to_socket_addrs()
        .map_err(|e| err(e.to_string()))?
        .next()
        .ok_or_else(|| err("no address".into()))
}

/// The member's view for `srvr`, `mntr` and the AdminServer.
#[derive(Debug, Clone)]
pub struct QuorumView {
    pub status: Status,
    pub learner_type: LearnerType,
    /// Serving clients: an established leader or an up-to-date learner.
    pub serving: bool,
    /// In read-only mode (see `Quorum::read_only`).
    pub read_only: bool,
    /// The leader's view of its learners (a leader only).
    pub leader: Option<LeaderView>,
    /// Voting members (`quorum_size`).
    pub voters: usize,
    /// Proposal sizes in bytes: (last, min, max) (a leader only).
    pub proposal_sizes: Option<(i64, i64, i64)>,
}

impl QuorumView {
    /// The gauges only a quorum member has (`QuorumZooKeeperServer`,
    /// `LeaderZooKeeperServer.registerMetrics`).
    pub fn gauges(&self) -> Vec<(&'static str, crate::metrics::Value)> {
        use crate::metrics::Value::Int;
        let mut out = vec![("quorum_size", Int(self.voters as i64))];
        if let Some(l) = &self.leader {
            let (last, min, max) = self.proposal_sizes.unwrap_or((-1, -1, -1));
            out.extend([
                ("learners", Int(l.learners as i64)),
                ("synced_followers", Int(l.synced_followers as i64)),
                ("synced_non_voting_followers", Int(0)),
                ("synced_observers", Int(l.synced_observers as i64)),
                ("pending_syncs", Int(l.pending_syncs as i64)),
                ("leader_uptime", Int(l.established_ms.unwrap_or(0) as i64)),
                ("last_proposal_size", Int(last)),
                ("max_proposal_size", Int(max)),
                ("min_proposal_size", Int(min)),
            ]);
        }
        out
    }
}

impl QuorumView {
    /// `QuorumPeer.getServerState` as `srvr` prints it.
    pub fn server_state(&self) -> &'static str {
        if self.read_only {
            return "read-only";
        }
        match self.status.state {
            ServerState::Looking => "looking",
            ServerState::Following => "follower",
            ServerState::Leading => "leader",
            ServerState::Observing => "observer",
        }
    }
}

/// A client's ConnectRequest held while the member elects or syncs.
pub struct Parked {
    pub conn: ConnId,
    pub req: paddock_jute::proto::ConnectRequest,
    pub received: Instant,
}

/// Proposals a leader keeps the time of for `ack_latency` (a learner that stops
/// acknowledging does not grow it without bound).
const PROPOSALS_TIMED: usize = 65_536;

/// How long a handshake may wait for the member to serve before its connection is closed
/// (then the client tries another member, as it would after ZooKeeper's immediate close).
pub const PARK_LIMIT: Duration = Duration::from_secs(1);

/// A snapshot file being read for a learner: its zxid and the SNAP payload, if one is recent
/// enough (`persist::read_snapshot_for_learner`).
pub type SnapshotRead = tokio::task::JoinHandle<std::io::Result<Option<(i64, Vec<u8>)>>>;

/// The quorum layer of one member.
pub struct Quorum {
    pub peer: Peer,
    pub net: Net,
    /// Taken by the core task's loop (see `take_events`).
    events: Option<mpsc::Receiver<Event>>,
    /// The ZAB core's clock: milliseconds since the member started.
    started: Instant,
    /// Appends handed to the log writer and not yet fsynced: (write id, last zxid).
    unconfirmed: VecDeque<(u64, i64)>,
    /// Leader: each transaction it proposed and has not applied yet, with its trace span
    /// (cleared when it stops leading, so bounded by the proposals in flight). Applied from
    /// here on commit: the leader does not decode what it encoded, and the proposal keeps
    /// the client connection it answers.
    pub pending: HashMap<i64, (paddock_core::state::Proposal, tracing::Span)>,
    /// Serving clients (an established leader or an up-to-date learner).
    pub serving: bool,
    /// Leader: the snapshot file a learner asked for (SNAP), being read on a blocking thread;
    /// `Ok(None)` when no file is recent enough.
    pub snapshot_read: Option<SnapshotRead>,
    /// When a learner next relays its clients' session touches to the leader.
    pub next_touch_relay: Instant,
    /// `readonlymode.enabled`.
    pub read_only_enabled: bool,
    /// Serving read-only clients while cut off from a quorum (`ReadOnlyZooKeeperServer`).
    pub read_only: bool,
    /// Since when the member has been looking for a leader; read-only mode starts after
    /// `max(2000 ms, tickTime)` of it, as `QuorumPeer` starts its read-only server.
    pub looking_since: Option<Instant>,
    /// When the member started following its current leader (for `follower_sync_time`).
    pub learning_since: Option<Instant>,
    /// The ZAB core's counters as last exported to the metrics.
    pub exported: Stats,
    /// Leader: sizes of its proposals in bytes, (last, min, max).
    pub proposal_sizes: Option<(i64, i64, i64)>,
    /// Leader: when each proposal not yet acknowledged by every learner was made.
    proposed_at: VecDeque<(Zxid, Instant)>,
    /// Leader: the highest zxid each learner had acknowledged when last looked at.
    acked_seen: HashMap<u64, Zxid>,
    /// Leader: when each learner's latest ACK arrived; `ack_latency` ends there, not at
    /// the tick that samples it.
    ack_arrived: HashMap<u64, Instant>,
    /// Handshakes that arrived while the member was between leaders, oldest first.
    pub parked: VecDeque<Parked>,
    /// The zxid the previous completed snapshot walk ended at: the in-memory log keeps the
    /// entries after it, so a learner that fell a little behind syncs by DIFF, not SNAP.
    pub compact_floor: i64,
    /// (file, floor): forget the log up to `floor` once the snapshot of zxid `file` is
    /// complete on disk (see `CoreTask::snapshot_step`).
    pub compact_once_written: Option<(i64, i64)>,
}

impl Quorum {
    /// Starts the links and the ZAB core from what recovery found on disk.
    pub async fn start(
        setup: QuorumSetup,
        storage: &Storage,
        applied_zxid: i64,
        log_tail: Vec<(i64, Vec<u8>)>,
    ) -> Result<Quorum, QuorumError> {
        let last_logged = log_tail.last().map_or(applied_zxid, |(z, _)| *z);
        let epochs =
            paddock_storage::epoch::load_epochs(&*storage.fs, &storage.snap_dir, last_logged)?;
        let persisted = Persisted {
            accepted_epoch: epochs.accepted as u32,
            current_epoch: epochs.current as u32,
            snapshot_zxid: Zxid(applied_zxid as u64),
            log: log_tail
                .into_iter()
                .map(|(zxid, bytes)| Entry {
                    zxid: Zxid(zxid as u64),
                    payload: Bytes::from(bytes),
                })
                .collect(),
        };
        let read_only_enabled = setup.read_only_enabled;
        let peer = Peer::new(setup.zab, persisted, 0)?;
        let (net, events) = Net::start(setup.net).await?;
        Ok(Quorum {
            peer,
            net,
            events: Some(events),
            started: Instant::now(),
            unconfirmed: VecDeque::new(),
            pending: HashMap::new(),
            serving: false,
            snapshot_read: None,
            next_touch_relay: Instant::now(),
            parked: VecDeque::new(),
            read_only_enabled,
            read_only: false,
            looking_since: Some(Instant::now()),
            learning_since: None,
            exported: Stats::default(),
            proposal_sizes: None,
            proposed_at: VecDeque::new(),
            acked_seen: HashMap::new(),
            ack_arrived: HashMap::new(),
            compact_floor: applied_zxid,
            compact_once_written: None,
        })
    }

    /// The receiver of link events, for the core task's select loop.
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<Event>> {
        self.events.take()
    }

    /// The ZAB core's clock.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Records a proposal's size (`last/min/max_proposal_size`) and when it was made.
    pub fn proposed(&mut self, zxid: Zxid, bytes: usize) {
        if self.proposed_at.len() == PROPOSALS_TIMED {
            self.proposed_at.pop_front();
        }
        self.proposed_at.push_back((zxid, Instant::now()));
        let b = bytes as i64;
        self.proposal_sizes = Some(match self.proposal_sizes {
            None => (b, b, b),
            Some((_, min, max)) => (b, min.min(b), max.max(b)),
        });
    }

    /// An ACK from `learner` arrived now.
    pub fn ack_arrived(&mut self, learner: u64) {
        self.ack_arrived.insert(learner, Instant::now());
    }

    /// Leader: the learners whose acknowledgements advanced since the last call, each with
    /// the time from the newest proposal it acknowledged to the arrival of its latest ACK
    /// (`ack_latency`, which ZooKeeper's `Leader.processAck` records per learner).
    pub fn ack_latencies(&mut self) -> Vec<(u64, Duration)> {
        let Some(view) = self.peer.leader_view() else {
            self.proposed_at.clear();
            self.acked_seen.clear();
            self.ack_arrived.clear();
            return Vec::new();
        };
        let mut out = Vec::new();
        for &(id, _, acked) in &view.learner_ids {
            let seen = self.acked_seen.entry(id).or_default();
            if acked <= *seen {
                continue;
            }
            *seen = acked;
            let i = self.proposed_at.partition_point(|(z, _)| *z < acked);
            if let Some((z, at)) = self.proposed_at.get(i) {
                if *z == acked {
                    let arrived = self
                        .ack_arrived
                        .get(&id)
                        .copied()
                        .unwrap_or_else(Instant::now);
                    out.push((id, arrived.saturating_duration_since(*at)));
                }
            }
        }
        let oldest = (view.learner_ids.iter().map(|l| l.2))
            .min()
            .unwrap_or(Zxid(u64::MAX));
        while self.proposed_at.front().is_some_and(|(z, _)| *z <= oldest) {
            self.proposed_at.pop_front();
        }
        out
    }

    /// Whether read-only mode is due: enabled, looking for long enough, not yet in it.
    pub fn read_only_due(&self) -> bool {
        let wait = Duration::from_millis(self.peer.config().tick_ms.max(2000));
        self.read_only_enabled
            && !self.read_only
            && !self.serving
            && self.looking_since.is_some_and(|t| t.elapsed() >= wait)
    }

    /// How often the core task ticks the ZAB core (at least four times per tick).
    pub fn tick_every(&self) -> Duration {
        Duration::from_millis((self.peer.config().tick_ms / 4).clamp(1, 50))
    }

    /// An append went to the log writer.
    pub fn appended(&mut self, write_id: u64, last_zxid: i64) {
        self.unconfirmed.push_back((write_id, last_zxid));
    }

    /// The log is fsynced up to `zxid`: the newest write id that is now wholly durable.
    pub fn durable_up_to(&mut self, zxid: i64) -> Option<u64> {
        let mut done = None;
        while let Some(&(id, last)) = self.unconfirmed.front() {
            if last > zxid {
                break;
            }
            self.unconfirmed.pop_front();
            done = Some(id);
        }
        done
    }

    /// The log was truncated or replaced: nothing earlier is pending any more.
    pub fn log_reset(&mut self) {
        self.unconfirmed.clear();
    }

    /// The last zxid handed to the log writer, or `None` when every append is durable.
    pub fn last_unconfirmed(&self) -> Option<i64> {
        self.unconfirmed.back().map(|&(_, z)| z)
    }

    pub fn view(&self) -> QuorumView {
        QuorumView {
            status: self.peer.status(),
            learner_type: self.peer.config().learner_type(),
            serving: self.serving,
            read_only: self.read_only,
            leader: self.peer.leader_view(),
            voters: self.peer.config().voters.len(),
            proposal_sizes: self.proposal_sizes,
        }
    }
}

/// Writes an epoch file the core asked for. The member cannot promise anything about an
/// epoch it could not record: the caller waits out a full disk and stops on any other error.
pub fn write_epoch_file(storage: &Storage, accepted: bool, epoch: u32) -> Result<(), EpochError> {
    let name = if accepted {
        ACCEPTED_EPOCH
    } else {
        CURRENT_EPOCH
    };
    write_epoch(&*storage.fs, &storage.snap_dir, name, i64::from(epoch))
}

#[cfg(test)]
mod tests {
    use super::*;

    // sslQuorum reads ssl.quorum.*, not the client port's ssl.*: a member that cannot start
    // its links says which of those keys to fix.
    #[test]
    fn a_broken_quorum_store_names_its_ssl_quorum_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("quorum.pem");
        std::fs::write(&store, "not a key store").unwrap();
        let settings = crate::config::TlsSettings {
            key_store: Some(store),
            trust_store: Some(dir.path().join("ca.pem")),
            ..Default::default()
        };
        let err = quorum_tls(&settings).expect_err("a broken key store");
        assert!(matches!(err, QuorumError::Tls(_)), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("ssl.quorum.keyStore.location"),
            "{message}"
        );
    }

    /// A member's key store (key and self-signed certificate) at `key_store`, and that
    /// certificate as the trust store at `trust_store`.
    fn write_member_stores(key_store: &std::path::Path, trust_store: &std::path::Path) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(key_store, format!("{}{}", key.serialize_pem(), cert.pem())).unwrap();
        std::fs::write(trust_store, cert.pem()).unwrap();
    }

    /// Gives `path` a modification time of its own, as a rewrite a moment later would.
    fn stamp(path: &std::path::Path, seconds: u64) {
        let when = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(seconds);
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(when).unwrap();
    }

    // sslQuorumReloadCertFiles: later links get the changed stores; a change that does not
    // load leaves the previous material in use.
    #[test]
    fn later_links_get_changed_stores_and_not_broken_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (key_store, trust_store) = (dir.path().join("q.pem"), dir.path().join("ca.pem"));
        write_member_stores(&key_store, &trust_store);
        let settings = crate::config::TlsSettings {
            key_store: Some(key_store.clone()),
            trust_store: Some(trust_store.clone()),
            ..Default::default()
        };
        let source = quorum_tls(&settings).unwrap();
        let first = source.current();
        write_member_stores(&key_store, &trust_store);
        stamp(&key_store, 1_000);
        let second = source.current();
        assert_ne!(first.key_pem, second.key_pem, "a changed store is loaded");
        std::fs::write(&key_store, "not a key store").unwrap();
        stamp(&key_store, 2_000);
        let kept = source.current();
        assert_eq!(kept.key_pem, second.key_pem, "a broken store is not loaded");
    }
}
