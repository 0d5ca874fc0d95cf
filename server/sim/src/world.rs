//! The simulated world: members running the real `paddock-zab` core, a network, disks, a
//! clock and clients, all in one thread, driven by one seeded generator.

use crate::check::{Acked, Checker};
use crate::kv::{self, fnv, Kv, WriteId};
use crate::options::Options;
use paddock_zab::{
    Config, Entry, Message, Packet, Peer, PeerId, Persisted, Ready, RoleEvent, Snapshot, Status,
    StorageOp, Zxid,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::fmt;

/// How often the host calls `Peer::tick`, in simulated milliseconds.
const TICK_EVERY_MS: u64 = 25;
/// How many events a failure report shows.
const TRACE_LEN: usize = 400;
/// A client gives up on a write after this long and counts it as indeterminate.
const CLIENT_TIMEOUT_MS: u64 = 3000;

#[derive(Debug)]
enum Event {
    Deliver {
        from: PeerId,
        to: PeerId,
        message: Message,
    },
    Tick(PeerId),
    DiskDone {
        node: PeerId,
        incarnation: u64,
        sync: u64,
    },
    Restart(PeerId),
    FaultAction,
    Heal(FaultKind),
    Client(usize),
}

#[derive(Debug, Clone, Copy)]
enum FaultKind {
    Partition,
    Flap,
}

struct Scheduled {
    at: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and the earliest event must come first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// What a member keeps on its simulated disk. Appends are made durable by one fsync at a time
/// that covers everything queued when it started (group commit, as the server's log writer
/// does); a slow disk makes each fsync slow.
#[derive(Default)]
struct Disk {
    accepted_epoch: u32,
    current_epoch: u32,
    /// Durable log records.
    log: Vec<Entry>,
    /// A crash tore the record after the last durable one.
    torn_tail: bool,
    /// Appends waiting for the next fsync: (write id, entries).
    queued: Vec<(u64, Vec<Entry>)>,
    /// The fsync in progress: its id, the last write id it covers, and its entries.
    syncing: Option<(u64, u64, Vec<Entry>)>,
    next_sync: u64,
    snapshot: Option<Snapshot>,
}

impl Disk {
    /// Everything written becomes durable at once (a truncation or snapshot install is a
    /// barrier in the host contract).
    fn flush(&mut self) {
        if let Some((_, _, entries)) = self.syncing.take() {
            self.log.extend(entries);
        }
        for (_, entries) in self.queued.drain(..) {
            self.log.extend(entries);
        }
    }

    /// Entries written but not yet durable, oldest first; they are lost in a crash.
    fn take_unsynced(&mut self) -> Vec<Entry> {
        let mut lost: Vec<Entry> = self.syncing.take().map(|s| s.2).unwrap_or_default();
        lost.extend(self.queued.drain(..).flat_map(|q| q.1));
        lost
    }
}

struct Node {
    cfg: Config,
    incarnation: u64,
    peer: Option<Peer>,
    disk: Disk,
    kv: Kv,
    /// The member's clock minus the simulation's; clock jumps move it either way.
    clock_offset_ms: i64,
    slow_disk: bool,
    /// Writes submitted through this member, to acknowledge when applied here.
    waiting: HashMap<WriteId, usize>,
}

impl Node {
    fn local_now(&self, now: u64) -> u64 {
        now.saturating_add_signed(self.clock_offset_ms)
    }
}

struct Outstanding {
    seq: u64,
    payload_hash: u64,
    deadline: u64,
    max_acked_at_invoke: Zxid,
}

struct Client {
    node: PeerId,
    next_seq: u64,
    outstanding: Option<Outstanding>,
    last_seen: Zxid,
    /// A `sync` in flight at a learner: (seq, deadline, highest zxid acknowledged to any
    /// client when it was issued).
    sync: Option<(u64, u64, Zxid)>,
}

/// One line of the failure trace, formatted only when it is printed.
#[derive(Clone, Debug)]
struct TraceItem {
    at: u64,
    what: What,
}

#[derive(Clone, Debug)]
enum What {
    Deliver {
        from: PeerId,
        to: PeerId,
        message: Message,
        dropped: Option<paddock_zab::Error>,
    },
    Text(String),
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            What::Deliver {
                from,
                to,
                message,
                dropped,
            } => {
                write!(f, "{from} -> {to} {}", describe(message))?;
                match dropped {
                    Some(e) => write!(f, " [dropped: {e}]"),
                    None => Ok(()),
                }
            }
            What::Text(text) => f.write_str(text),
        }
    }
}

/// Counters of one run, printed by the binary.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunStats {
    pub events: u64,
    pub messages: u64,
    pub dropped: u64,
    pub crashes: u64,
    pub elections: u64,
    pub committed: u64,
    pub acked_writes: u64,
    pub reads: u64,
    /// `sync`s answered at learners (each checked against the writes acknowledged before).
    pub client_syncs: u64,
    pub snap_syncs: u64,
    pub diff_syncs: u64,
    pub trunc_syncs: u64,
    /// Elections forced by the zxid counter reaching its limit.
    pub counter_rollovers: u64,
}

/// A failed run: the seed, what broke and the last events before it.
#[derive(Debug)]
pub struct Failure {
    pub seed: u64,
    pub at_ms: u64,
    pub reason: String,
    trace: Vec<TraceItem>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {} failed at {} ms: {}",
            self.seed, self.at_ms, self.reason
        )?;
        writeln!(f, "last {} events:", self.trace.len())?;
        for t in &self.trace {
            writeln!(f, "  {:>8} {}", t.at, t.what)?;
        }
        write!(f, "replay: paddock-sim --seed {} --verbose", self.seed)
    }
}

pub struct World {
    seed: u64,
    opts: Options,
    rng: ChaCha8Rng,
    now: u64,
    next_seq: u64,
    queue: BinaryHeap<Scheduled>,
    nodes: BTreeMap<PeerId, Node>,
    blocked: BTreeSet<(PeerId, PeerId)>,
    /// Delivery time of the last in-order message on each link.
    link_clock: HashMap<(PeerId, PeerId), u64>,
    /// Members a scenario keeps down: until a time, or for good (`None`).
    pinned_down: HashMap<PeerId, Option<u64>>,
    clients: Vec<Client>,
    /// For each `sync` a leader took in: the last zxid it had logged then. The answer must
    /// find the learner past it (`Leader.processSync`: everything accepted before the sync).
    sync_floors: std::collections::HashMap<kv::WriteId, Zxid>,
    checker: Checker,
    trace: VecDeque<TraceItem>,
    faulty: bool,
    pub stats: RunStats,
}

type Check = Result<(), String>;

impl World {
    pub fn new(seed: u64, opts: Options) -> World {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let voters: Vec<PeerId> = (1..=opts.voters as PeerId).collect();
        let observers: Vec<PeerId> = (1..=opts.observers as PeerId)
            .map(|i| i + opts.voters as PeerId)
            .collect();
        let mut nodes = BTreeMap::new();
        for &id in voters.iter().chain(&observers) {
            let cfg = Config {
                my_id: id,
                voters: voters.clone(),
                observers: observers.clone(),
                tick_ms: opts.tick_ms,
                init_limit_ticks: 10,
                sync_limit_ticks: 5,
                finalize_wait_ms: 200,
                min_notification_interval_ms: 200,
                max_notification_interval_ms: 1600,
                election_jitter_ms: 50,
                zxid_counter_limit: opts.zxid_counter_limit,
                rng_seed: rng.gen(),
            };
            let node = Node {
                cfg,
                incarnation: 0,
                peer: None,
                disk: Disk::default(),
                kv: Kv::default(),
                clock_offset_ms: 0,
                slow_disk: false,
                waiting: HashMap::new(),
            };
            nodes.insert(id, node);
        }
        let all: Vec<PeerId> = nodes.keys().copied().collect();
        let clients = (0..opts.clients)
            .map(|_| Client {
                node: all[rng.gen_range(0..all.len())],
                next_seq: 1,
                outstanding: None,
                last_seen: Zxid::ZERO,
                sync: None,
            })
            .collect();
        World {
            seed,
            opts,
            rng,
            now: 0,
            next_seq: 0,
            queue: BinaryHeap::new(),
            nodes,
            blocked: BTreeSet::new(),
            link_clock: HashMap::new(),
            pinned_down: HashMap::new(),
            clients,
            sync_floors: Default::default(),
            checker: Checker::default(),
            trace: VecDeque::new(),
            faulty: true,
            stats: RunStats::default(),
        }
    }

    /// Runs the faulty phase, heals everything, runs the calm phase and checks that the
    /// ensemble made progress and converged.
    pub fn run(mut self) -> Result<RunStats, Failure> {
        let result = self.run_inner();
        result
            .map(|()| self.stats)
            .map_err(|reason| self.failure(reason))
    }

    fn run_inner(&mut self) -> Check {
        self.start();
        let fault_end = self.opts.fault_ms;
        self.run_until(fault_end)?;
        self.heal_all();
        let acked_before = self.checker.acked.len();
        let end = fault_end + self.opts.heal_ms;
        self.run_until(end)?;
        if self.checker.acked.len() == acked_before && !self.clients.is_empty() {
            let heal = self.opts.heal_ms;
            return Err(format!(
                "no write was acknowledged in the {heal} ms after healing"
            ));
        }
        self.clients.clear();
        self.run_until(end + 3000)?;
        self.check_converged()
    }

    /// Schedules every member's start, the clients and the fault injector.
    pub fn start(&mut self) {
        let ids: Vec<PeerId> = self.nodes.keys().copied().collect();
        for id in ids {
            let start = self.rng.gen_range(0..100);
            self.schedule(start, Event::Restart(id));
            self.schedule(start + 1, Event::Tick(id));
        }
        for c in 0..self.clients.len() {
            let at = self.rng.gen_range(500..1000);
            self.schedule(at, Event::Client(c));
        }
        let every = self.opts.faults.action_every_ms;
        if every < u64::MAX / 8 {
            let first_fault = self.rng.gen_range(200..=every.max(201));
            self.schedule(first_fault, Event::FaultAction);
        }
    }

    /// Runs every event up to simulated time `until_ms`, checking after each.
    pub fn advance(&mut self, until_ms: u64) -> Result<(), Failure> {
        self.run_until(until_ms)
            .map_err(|reason| self.failure(reason))
    }

    /// Stops the clients, so the ensemble can go quiet before `converged` (a commit in flight
    /// at the moment of the check is not a divergence).
    pub fn stop_clients(&mut self) {
        self.clients.clear();
    }

    /// Checks the end state: one leader, everyone serving it with the same history.
    pub fn converged(&self) -> Result<(), Failure> {
        self.check_converged()
            .map_err(|reason| self.failure(reason))
    }

    fn failure(&self, reason: String) -> Failure {
        Failure {
            seed: self.seed,
            at_ms: self.now,
            reason,
            trace: self.trace.iter().cloned().collect(),
        }
    }

    /// The simulated time.
    pub fn now_ms(&self) -> u64 {
        self.now
    }

    /// Every live member's status.
    pub fn statuses(&self) -> Vec<Status> {
        self.nodes
            .values()
            .filter_map(|n| n.peer.as_ref().map(|p| p.status()))
            .collect()
    }

    /// The established leader, if exactly one live member leads and serves.
    pub fn established_leader(&self) -> Option<(PeerId, u32)> {
        let mut leaders = self
            .statuses()
            .into_iter()
            .filter(|s| s.state == paddock_zab::ServerState::Leading && s.serving);
        let l = leaders.next()?;
        leaders.next().is_none().then_some((l.id, l.current_epoch))
    }

    /// Crashes a member now; it restarts after `restart_after_ms`, or stays down if `None`.
    pub fn crash_member(&mut self, id: PeerId, restart_after_ms: Option<u64>) {
        // `crash` schedules a restart of its own; `restart` defers to the pin.
        self.pinned_down
            .insert(id, restart_after_ms.map(|ms| self.now + ms));
        self.crash(id);
    }

    /// Cuts `a` off from everyone else in both directions until `heal_partitions`.
    pub fn isolate(&mut self, a: PeerId) {
        let ids: Vec<PeerId> = self.nodes.keys().copied().collect();
        for b in ids.into_iter().filter(|b| *b != a) {
            self.blocked.insert((a, b));
            self.blocked.insert((b, a));
        }
        self.trace(|| format!("isolate {a}"));
    }

    pub fn heal_partitions(&mut self) {
        self.blocked.clear();
    }

    /// Every write acknowledged so far.
    pub fn acked_writes(&self) -> usize {
        self.checker.acked.len()
    }

    fn run_until(&mut self, end: u64) -> Check {
        while let Some(next) = self.queue.peek() {
            if next.at > end {
                break;
            }
            let Scheduled { at, event, .. } = self.queue.pop().expect("peeked");
            self.now = at;
            self.stats.events += 1;
            self.handle(event)?;
        }
        self.now = end;
        Ok(())
    }

    fn schedule(&mut self, at: u64, event: Event) {
        self.next_seq += 1;
        self.queue.push(Scheduled {
            at,
            seq: self.next_seq,
            event,
        });
    }

    fn trace(&mut self, what: impl FnOnce() -> String) {
        self.trace_item(What::Text(what()));
    }

    fn trace_item(&mut self, what: What) {
        let item = TraceItem { at: self.now, what };
        if self.opts.verbose {
            println!("{:>8} {}", item.at, item.what);
        }
        if self.trace.len() == TRACE_LEN {
            self.trace.pop_front();
        }
        self.trace.push_back(item);
    }

    fn handle(&mut self, event: Event) -> Check {
        match event {
            Event::Deliver { from, to, message } => self.deliver(from, to, message),
            Event::Tick(id) => {
                let next = self.now + TICK_EVERY_MS;
                self.schedule(next, Event::Tick(id));
                let node = self.nodes.get_mut(&id).expect("node");
                let local = node.local_now(self.now);
                match node.peer.as_mut() {
                    Some(p) => p.tick(local),
                    None => return Ok(()),
                }
                self.drain(id)
            }
            Event::DiskDone {
                node,
                incarnation,
                sync,
            } => self.disk_done(node, incarnation, sync),
            Event::Restart(id) => self.restart(id),
            Event::FaultAction => self.fault_action(),
            Event::Heal(kind) => {
                self.trace(|| format!("heal {kind:?}"));
                self.blocked.clear();
                Ok(())
            }
            Event::Client(c) => self.client_step(c),
        }
    }

    // ----- network -----

    fn deliver(&mut self, from: PeerId, to: PeerId, message: Message) -> Check {
        if self.blocked.contains(&(from, to)) {
            self.stats.dropped += 1;
            return Ok(());
        }
        let node = self.nodes.get_mut(&to).expect("node");
        let local = node.local_now(self.now);
        let Some(peer) = node.peer.as_mut() else {
            self.stats.dropped += 1;
            return Ok(());
        };
        peer.tick(local);
        let result = peer.step(from, message.clone());
        if let Message::Quorum { packet, .. } = &message {
            match packet {
                Packet::Diff { .. } => self.stats.diff_syncs += 1,
                Packet::Trunc { .. } => self.stats.trunc_syncs += 1,
                _ => {}
            }
        }
        self.trace_item(What::Deliver {
            from,
            to,
            message,
            dropped: result.err(),
        });
        self.drain(to)
    }

    fn send(&mut self, from: PeerId, to: PeerId, message: Message) {
        self.stats.messages += 1;
        let f = self.opts.faults.clone();
        let faulty = self.faulty;
        if faulty && self.rng.gen_bool(f.loss) {
            self.stats.dropped += 1;
            return;
        }
        // Links are FIFO, as TCP streams are, unless the reorder fault lets a message overtake.
        let mut at = self.now + self.rng.gen_range(1..5);
        if faulty && self.rng.gen_bool(f.reorder) {
            at += self.rng.gen_range(5..60);
        } else {
            let last = self.link_clock.entry((from, to)).or_insert(0);
            at = at.max(*last);
            *last = at;
        }
        if faulty && self.rng.gen_bool(f.duplicate) {
            let again = at + self.rng.gen_range(0..30);
            let copy = Event::Deliver {
                from,
                to,
                message: message.clone(),
            };
            self.schedule(again, copy);
        }
        self.schedule(at, Event::Deliver { from, to, message });
    }

    // ----- the host side of the Ready contract -----

    /// Handles every Ready the member produces until it is quiet.
    fn drain(&mut self, id: PeerId) -> Check {
        loop {
            let node = self.nodes.get_mut(&id).expect("node");
            let Some(peer) = node.peer.as_mut() else {
                return Ok(());
            };
            if !peer.has_ready() {
                return Ok(());
            }
            let ready = peer.take_ready();
            self.handle_ready(id, ready)?;
        }
    }

    fn handle_ready(&mut self, id: PeerId, ready: Ready) -> Check {
        let Ready {
            storage,
            messages,
            committed,
            snapshot_wanted,
            forwarded,
            synced,
            events,
        } = ready;
        for op in storage {
            self.storage_op(id, op)?;
        }
        for m in messages {
            self.send(id, m.to, m.message);
        }
        for entry in committed {
            self.apply(id, &entry)?;
        }
        if snapshot_wanted {
            let node = self.nodes.get_mut(&id).expect("node");
            let snapshot = node.kv.to_snapshot();
            self.stats.snap_syncs += 1;
            let peer = node.peer.as_mut().expect("live");
            peer.snapshot_produced(snapshot)
                .map_err(|e| format!("member {id}: {e}"))?;
        }
        for request in forwarded {
            // The simulated state machine needs no preparation: the leader proposes the
            // payload as it came. A refusal (the counter ran out) drops the request, which
            // the client sees as a write that never completes.
            let node = self.nodes.get_mut(&id).expect("node");
            let peer = node.peer.as_mut().expect("live");
            if kv::is_sync(&request.payload) {
                if let Some(w) = kv::write_id(&request.payload) {
                    self.sync_floors.insert(w, peer.status().last_logged);
                }
                let _ = peer.sync_barrier(request.from, request.payload);
            } else {
                let _ = peer.propose(request.payload);
            }
        }
        for payload in synced {
            self.sync_answered(id, &payload)?;
        }
        for event in events {
            self.role_event(id, event)?;
        }
        self.check_peer(id)
    }

    fn storage_op(&mut self, id: PeerId, op: StorageOp) -> Check {
        let now = self.now;
        let latency = self.disk_latency(id);
        let node = self.nodes.get_mut(&id).expect("node");
        match op {
            StorageOp::AcceptedEpoch(e) => node.disk.accepted_epoch = e,
            StorageOp::CurrentEpoch(e) => node.disk.current_epoch = e,
            StorageOp::TruncateAfter(z) => {
                node.disk.flush();
                node.disk.log.retain(|e| e.zxid <= z);
            }
            StorageOp::InstallSnapshot(snapshot) => {
                node.disk.flush();
                node.disk.log.clear();
                let kv = Kv::from_snapshot(&snapshot)
                    .ok_or_else(|| format!("member {id} got an unreadable snapshot"))?;
                node.kv = kv;
                node.disk.snapshot = Some(snapshot);
                let (count, zxid, chain) = (node.kv.count, node.kv.applied_zxid, node.kv.chain);
                self.checker.on_state(id, count, zxid, chain)?;
            }
            StorageOp::Append { write_id, entries } => {
                node.disk.queued.push((write_id, entries));
                if node.disk.syncing.is_none() {
                    self.start_sync(id, now + latency);
                }
            }
        }
        Ok(())
    }

    /// Starts an fsync of everything queued, finishing at `done`.
    fn start_sync(&mut self, id: PeerId, done: u64) {
        let node = self.nodes.get_mut(&id).expect("node");
        let Some(&(last_write, _)) = node.disk.queued.last() else {
            return;
        };
        let entries: Vec<Entry> = node.disk.queued.drain(..).flat_map(|q| q.1).collect();
        node.disk.next_sync += 1;
        let sync = node.disk.next_sync;
        node.disk.syncing = Some((sync, last_write, entries));
        let incarnation = node.incarnation;
        self.schedule(
            done,
            Event::DiskDone {
                node: id,
                incarnation,
                sync,
            },
        );
    }

    fn disk_done(&mut self, id: PeerId, incarnation: u64, sync: u64) -> Check {
        let node = self.nodes.get_mut(&id).expect("node");
        if node.incarnation != incarnation || node.disk.syncing.as_ref().is_none_or(|s| s.0 != sync)
        {
            return Ok(());
        }
        let (_, write_id, entries) = node.disk.syncing.take().expect("checked");
        node.disk.log.extend(entries);
        if let Some(peer) = node.peer.as_mut() {
            peer.persisted(write_id);
        }
        let latency = self.disk_latency(id);
        self.start_sync(id, self.now + latency);
        self.drain(id)
    }

    fn disk_latency(&mut self, id: PeerId) -> u64 {
        if self.nodes[&id].slow_disk && self.opts.faults.slow_disks {
            self.rng.gen_range(20..200)
        } else {
            self.rng.gen_range(0..3)
        }
    }

    fn apply(&mut self, id: PeerId, entry: &Entry) -> Check {
        let node = self.nodes.get_mut(&id).expect("node");
        node.kv
            .apply(entry)
            .map_err(|e| format!("member {id}: {e}"))?;
        let (count, chain) = (node.kv.count, node.kv.chain);
        self.stats.committed += 1;
        self.checker
            .on_apply(id, count, entry.zxid, &entry.payload, chain)?;
        let client =
            kv::write_id(&entry.payload).and_then(|w| node.waiting.remove(&w).map(|c| (w, c)));
        if let Some((write, c)) = client {
            self.ack(c, write, entry)?;
        }
        self.maybe_snapshot(id);
        Ok(())
    }

    /// Every `snapshot_every` entries a member snapshots its state and lets the core forget the
    /// log behind it, keeping `log_retain` entries for DIFF.
    fn maybe_snapshot(&mut self, id: PeerId) {
        let every = self.opts.snapshot_every;
        let retain = self.opts.log_retain as usize;
        let node = self.nodes.get_mut(&id).expect("node");
        if node.kv.count.checked_rem(every) != Some(0) {
            return;
        }
        let Some(peer) = node.peer.as_mut() else {
            return;
        };
        node.disk.snapshot = Some(node.kv.to_snapshot());
        let applied = node.kv.applied_zxid;
        let (_, entries) = peer.log_entries();
        let kept: Vec<Zxid> = entries.map(|e| e.zxid).filter(|z| *z <= applied).collect();
        if kept.len() > retain {
            let point = kept[kept.len() - retain - 1];
            peer.compact(point);
            node.disk.log.retain(|e| e.zxid > point);
        }
    }

    fn role_event(&mut self, id: PeerId, event: RoleEvent) -> Check {
        self.trace(|| format!("member {id}: {event:?}"));
        match event {
            RoleEvent::LeaderEstablished { epoch } => {
                self.checker.on_established(id, epoch)?;
                self.check_leader_has_acked(id)
            }
            RoleEvent::Looking => {
                self.stats.elections += 1;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Every acknowledged write survives: a newly established leader's history holds it.
    fn check_leader_has_acked(&self, id: PeerId) -> Check {
        let peer = self.nodes[&id].peer.as_ref().expect("live");
        let (base, _) = peer.log_entries();
        for a in &self.checker.acked {
            if a.zxid <= base {
                continue;
            }
            match peer.log_entry(a.zxid) {
                Some(e) if fnv(0, &e.payload) == a.payload_hash => {}
                _ => {
                    return Err(format!(
                        "leader {id} lacks acknowledged write {:?} at {}",
                        a.write, a.zxid
                    ))
                }
            }
        }
        Ok(())
    }

    fn check_peer(&self, id: PeerId) -> Check {
        let Some(peer) = self.nodes[&id].peer.as_ref() else {
            return Ok(());
        };
        let s = peer.stats();
        if s.violations > 0 {
            return Err(format!("member {id} saw a protocol violation: {s:?}"));
        }
        Ok(())
    }

    // ----- crashes and restarts -----

    fn crash(&mut self, id: PeerId) {
        let torn = self.opts.faults.torn_writes;
        let node = self.nodes.get_mut(&id).expect("node");
        if node.peer.is_none() {
            return;
        }
        node.peer = None;
        node.incarnation += 1;
        node.waiting.clear();
        // Some unsynced appends made it to the platter, the rest did not; the last one that
        // did may be torn.
        let pending = node.disk.take_unsynced();
        let survive = self.rng.gen_range(0..=pending.len());
        node.disk.log.extend(pending.into_iter().take(survive));
        node.disk.torn_tail = torn && self.rng.gen_bool(0.5);
        self.stats.crashes += 1;
        self.trace(|| format!("member {id}: crash"));
        let at = self.now + self.rng.gen_range(100..3000);
        self.schedule(at, Event::Restart(id));
    }

    /// Restarts a member from its disk, as the server would: the snapshot, then the log up to
    /// the first torn record.
    fn restart(&mut self, id: PeerId) -> Check {
        match self.pinned_down.get(&id) {
            Some(None) => return Ok(()),
            Some(Some(at)) if *at > self.now => {
                let at = *at;
                self.schedule(at, Event::Restart(id));
                return Ok(());
            }
            _ => {}
        }
        let node = self.nodes.get_mut(&id).expect("node");
        if node.peer.is_some() {
            return Ok(());
        }
        if node.disk.torn_tail {
            // The torn record fails its checksum and is dropped, as the log reader does.
            node.disk.torn_tail = false;
        }
        node.kv = match &node.disk.snapshot {
            Some(s) => Kv::from_snapshot(s).ok_or("unreadable snapshot")?,
            None => Kv::default(),
        };
        let disk = Persisted {
            accepted_epoch: node.disk.accepted_epoch,
            current_epoch: node.disk.current_epoch,
            snapshot_zxid: node.kv.applied_zxid,
            log: node.disk.log.clone(),
        };
        let local = node.local_now(self.now);
        let peer =
            Peer::new(node.cfg.clone(), disk, local).map_err(|e| format!("member {id}: {e}"))?;
        node.peer = Some(peer);
        let (count, zxid, chain) = (node.kv.count, node.kv.applied_zxid, node.kv.chain);
        self.checker.on_state(id, count, zxid, chain)?;
        self.trace(|| format!("member {id}: start"));
        self.drain(id)
    }

    // ----- faults -----

    fn fault_action(&mut self) -> Check {
        if !self.faulty {
            return Ok(());
        }
        let next = self.now + self.rng.gen_range(1..=2 * self.opts.faults.action_every_ms);
        self.schedule(next, Event::FaultAction);
        let f = self.opts.faults.clone();
        let ids: Vec<PeerId> = self.nodes.keys().copied().collect();
        let id = ids[self.rng.gen_range(0..ids.len())];
        match self.rng.gen_range(0..6) {
            0 | 1 if f.crashes => {
                self.crash(id);
            }
            2 if f.partitions => self.partition(&ids, FaultKind::Partition),
            3 if f.partitions => self.partition(&ids, FaultKind::Flap),
            4 if f.clock_jumps => {
                // Forward jumps up to three syncLimits fire timeouts; backward ones make the
                // member's time stand still (the core never lets time go back).
                let span = 3 * 5 * self.opts.tick_ms as i64;
                let jump = self.rng.gen_range(-span..span);
                self.nodes.get_mut(&id).expect("node").clock_offset_ms += jump;
                self.trace(|| format!("member {id}: clock jumps {jump} ms"));
            }
            5 if f.slow_disks => {
                let node = self.nodes.get_mut(&id).expect("node");
                node.slow_disk = !node.slow_disk;
                let slow = node.slow_disk;
                self.trace(|| format!("member {id}: slow disk {slow}"));
            }
            _ => {}
        }
        Ok(())
    }

    /// Cuts the members into two sides; one-way (asymmetric) in a third of the cases. A flap
    /// heals quickly and is followed by another.
    fn partition(&mut self, ids: &[PeerId], kind: FaultKind) {
        self.blocked.clear();
        let side: Vec<bool> = ids.iter().map(|_| self.rng.gen_bool(0.5)).collect();
        let one_way = self.rng.gen_bool(0.33);
        for (i, &a) in ids.iter().enumerate() {
            for (j, &b) in ids.iter().enumerate() {
                if side[i] && !side[j] {
                    self.blocked.insert((a, b));
                    if !one_way {
                        self.blocked.insert((b, a));
                    }
                }
            }
        }
        let blocked = self.blocked.len();
        self.trace(|| format!("partition {kind:?} {side:?} one_way={one_way} ({blocked} links)"));
        let heal_in = match kind {
            FaultKind::Partition => self.rng.gen_range(500..4000),
            FaultKind::Flap => self.rng.gen_range(50..300),
        };
        self.schedule(self.now + heal_in, Event::Heal(kind));
    }

    fn heal_all(&mut self) {
        self.faulty = false;
        self.blocked.clear();
        self.pinned_down.clear();
        self.trace(|| "heal everything".to_string());
        let ids: Vec<PeerId> = self.nodes.keys().copied().collect();
        for id in ids {
            let node = self.nodes.get_mut(&id).expect("node");
            node.slow_disk = false;
            if node.peer.is_none() {
                self.schedule(self.now, Event::Restart(id));
            }
        }
    }

    // ----- clients -----

    fn client_step(&mut self, c: usize) -> Check {
        if c >= self.clients.len() {
            return Ok(());
        }
        let next = self.now + self.rng.gen_range(5..100);
        self.schedule(next, Event::Client(c));
        let now = self.now;
        let client = &mut self.clients[c];
        if let Some(o) = &client.outstanding {
            if now < o.deadline {
                return Ok(());
            }
            // Timed out: the write is indeterminate; try another member.
            client.outstanding = None;
            self.switch_member(c);
            return Ok(());
        }
        if let Some((_, deadline, _)) = client.sync {
            if now < deadline {
                return Ok(());
            }
            client.sync = None;
            self.switch_member(c);
            return Ok(());
        }
        let r = self.rng.gen_range(0..100);
        if r < 10 {
            self.client_sync(c)
        } else if r < 35 {
            self.client_read(c)
        } else {
            self.client_write(c)
        }
    }

    /// `sync` at a serving learner: forwarded to the leader, answered through its barrier.
    /// (At the leader a sync is trivially up to date: every commit starts there.)
    fn client_sync(&mut self, c: usize) -> Check {
        let id = self.clients[c].node;
        let seq = self.clients[c].next_seq;
        let max_acked = self.checker.max_acked;
        let node = self.nodes.get_mut(&id).expect("node");
        let Some(peer) = node.peer.as_mut() else {
            self.switch_member(c);
            return Ok(());
        };
        let st = peer.status();
        if !st.serving || st.state == paddock_zab::ServerState::Leading {
            return self.client_read(c);
        }
        if peer.propose(kv::encode_sync(c as u32, seq)).is_err() {
            self.switch_member(c);
            return self.drain(id);
        }
        let client = &mut self.clients[c];
        client.next_seq += 1;
        client.sync = Some((seq, self.now + CLIENT_TIMEOUT_MS, max_acked));
        self.drain(id)
    }

    /// The leader answered a client's `sync` at learner `id`: the learner must by now have
    /// applied every write acknowledged to any client before the sync was issued.
    fn sync_answered(&mut self, id: PeerId, payload: &[u8]) -> Check {
        let Some((c, seq)) = kv::write_id(payload) else {
            return Err(format!("member {id} answered a sync it cannot parse"));
        };
        let c = c as usize;
        let Some(client) = self.clients.get_mut(c) else {
            return Ok(());
        };
        let Some((_, _, max_acked)) = client.sync.take_if(|s| s.0 == seq && client.node == id)
        else {
            return Ok(());
        };
        let applied = self.nodes[&id].kv.applied_zxid;
        let floor = self.sync_floors.remove(&(c as u32, seq));
        if let Some(floor) = floor.filter(|f| applied < *f) {
            return Err(format!(
                "client {c}'s sync at member {id} returned at {applied}, before {floor}, which \
                 the leader had accepted when the sync reached it"
            ));
        }
        if applied < max_acked {
            return Err(format!(
                "client {c}'s sync at member {id} returned at {applied} before write {max_acked}, \
                 acknowledged before the sync was issued"
            ));
        }
        self.stats.client_syncs += 1;
        self.clients[c].last_seen = self.clients[c].last_seen.max(applied);
        Ok(())
    }

    fn switch_member(&mut self, c: usize) {
        let ids: Vec<PeerId> = self.nodes.keys().copied().collect();
        self.clients[c].node = ids[self.rng.gen_range(0..ids.len())];
    }

    /// A read is served by the member the client is connected to, if it serves and has seen
    /// at least what the client has (ZooKeeper refuses a session whose lastZxid is ahead).
    fn client_read(&mut self, c: usize) -> Check {
        let client = &self.clients[c];
        let node = &self.nodes[&client.node];
        let serving = node.peer.as_ref().is_some_and(|p| p.status().serving);
        if !serving || node.kv.applied_zxid < client.last_seen {
            self.switch_member(c);
            return Ok(());
        }
        self.stats.reads += 1;
        let seen = node.kv.applied_zxid;
        self.clients[c].last_seen = seen;
        Ok(())
    }

    fn client_write(&mut self, c: usize) -> Check {
        let id = self.clients[c].node;
        let seq = self.clients[c].next_seq;
        let payload = if self.rng.gen_bool(0.2) {
            kv::encode_seq(c as u32, seq)
        } else {
            let key = self.rng.gen_range(0..8);
            let value = self.rng.gen_range(0..1000);
            kv::encode_set(c as u32, seq, key, value)
        };
        let node = self.nodes.get_mut(&id).expect("node");
        let Some(peer) = node.peer.as_mut() else {
            self.switch_member(c);
            return Ok(());
        };
        if let Err(e) = peer.propose(payload.clone()) {
            if matches!(e, paddock_zab::Error::CounterExhausted(_)) {
                self.stats.counter_rollovers += 1;
            }
            self.drain(id)?;
            self.switch_member(c);
            return Ok(());
        }
        node.waiting.insert((c as u32, seq), c);
        let client = &mut self.clients[c];
        client.next_seq += 1;
        client.outstanding = Some(Outstanding {
            seq,
            payload_hash: fnv(0, &payload),
            deadline: self.now + CLIENT_TIMEOUT_MS,
            max_acked_at_invoke: self.checker.max_acked,
        });
        self.drain(id)
    }

    fn ack(&mut self, c: usize, write: WriteId, entry: &Entry) -> Check {
        let Some(client) = self.clients.get_mut(c) else {
            return Ok(());
        };
        let Some(o) = client.outstanding.take_if(|o| o.seq == write.1) else {
            return Ok(());
        };
        if o.payload_hash != fnv(0, &entry.payload) {
            return Err(format!(
                "client {c} acknowledged a different payload for {write:?}"
            ));
        }
        client.last_seen = client.last_seen.max(entry.zxid);
        self.stats.acked_writes += 1;
        let ack = Acked {
            write,
            zxid: entry.zxid,
            payload_hash: o.payload_hash,
        };
        self.trace(|| format!("client {c}: ack {write:?} at {}", entry.zxid));
        self.checker.on_ack(ack, o.max_acked_at_invoke)
    }

    // ----- the end of a run -----

    /// After the calm phase: one established leader, every member serving it with the same
    /// committed history, every acknowledged write in it.
    fn check_converged(&self) -> Check {
        let mut leader = None;
        let history = self.checker.history_len() as u64;
        for (id, node) in &self.nodes {
            let peer = node
                .peer
                .as_ref()
                .ok_or(format!("member {id} is down at the end"))?;
            let s = peer.status();
            if !s.serving {
                return Err(format!("member {id} is not serving at the end: {s:?}"));
            }
            if *leader.get_or_insert(s.leader) != s.leader {
                return Err(format!("members disagree on the leader at the end: {s:?}"));
            }
            if node.kv.count != history {
                return Err(format!(
                    "member {id} applied {} of {history} committed entries at the end",
                    node.kv.count
                ));
            }
        }
        if let Some(Some(l)) = leader {
            self.check_leader_has_acked(l)?;
        }
        Ok(())
    }
}

/// A short description of a message for traces.
fn describe(message: &Message) -> String {
    match message {
        Message::Election(n) => format!(
            "VOTE {:?} leader={} zxid={} round={} epoch={}",
            n.state, n.leader, n.zxid, n.election_epoch, n.peer_epoch
        ),
        Message::Quorum { conn, seq, packet } => {
            let detail = match packet {
                Packet::FollowerInfo {
                    accepted_epoch,
                    last_zxid,
                }
                | Packet::ObserverInfo {
                    accepted_epoch,
                    last_zxid,
                } => {
                    format!("accepted={accepted_epoch} last={last_zxid}")
                }
                Packet::LeaderInfo { new_epoch } => format!("epoch={new_epoch}"),
                Packet::AckEpoch {
                    current_epoch,
                    last_zxid,
                } => {
                    format!("current={current_epoch:?} last={last_zxid}")
                }
                Packet::Diff { last_zxid } => format!("{last_zxid}"),
                Packet::Trunc { zxid }
                | Packet::Ack { zxid }
                | Packet::Commit { zxid }
                | Packet::NewLeader { zxid }
                | Packet::AckNewLeader { zxid } => format!("{zxid}"),
                Packet::Snap { snapshot } => format!("{}", snapshot.zxid),
                Packet::Proposal { entry } | Packet::Inform { entry } => format!("{}", entry.zxid),
                Packet::UpToDate | Packet::Ping | Packet::Request { .. } | Packet::Sync { .. } => {
                    String::new()
                }
            };
            format!(
                "{} {detail} (conn {:x} #{seq})",
                packet.name(),
                conn & 0xffff
            )
        }
    }
}
