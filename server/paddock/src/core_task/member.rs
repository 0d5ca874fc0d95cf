//! The core task as an ensemble member: it feeds the ZAB core and carries out each `Ready` in
//! the order of the host contract (docs/ZAB.md): durable changes, messages, committed
//! transactions applied to the state machine, a snapshot for a learner that needs one, role
//! changes, then the requests learners forwarded to this leader and the `sync` answers a
//! learner got back.
//!
//! Role changes follow `QuorumPeer`: a member that starts looking for a leader stops serving
//! and closes every client connection; it serves again once it leads an established quorum or
//! its leader said UPTODATE. A leader prepares writes (its clients' and forwarded ones) against
//! its state and proposes them; every member applies a transaction only when it is committed,
//! and answers the client whose request it was on the member the client is connected to.

use bytes::Bytes;
use paddock_core::forward::Forward;
use paddock_core::state::Proposal;
use paddock_core::Role;
use paddock_peer_net::Event;
use paddock_storage::epoch::EpochError;
use paddock_storage::fs::is_no_space;
use paddock_storage::txnlog::{decode_entry, truncate_log};
use paddock_storage::LogError;
use paddock_zab::{
    codec, Entry, Message, Packet, Proposed, Ready, RoleEvent, Snapshot, StorageOp, Zxid,
};
use tokio::sync::mpsc;

use super::{CoreError, CoreTask};
use crate::persist::{
    install_snapshot_file, load_received_snapshot, log_entry, read_snapshot_for_learner,
    snapshot_in_memory, LogHandle, LogMsg,
};
use crate::quorum::{write_epoch_file, Parked, Quorum, PARK_LIMIT};
use paddock_core::ConnId;

/// The next event from the links; never ready when there are none (standalone).
pub(super) async fn next_link_event(links: &mut Option<mpsc::Receiver<Event>>) -> Option<Event> {
    match links {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// How often a member retries an epoch file or a SNAP snapshot the disk had no room for.
const FULL_DISK_RETRY: std::time::Duration = std::time::Duration::from_millis(200);

fn quorum_err(what: impl std::fmt::Display) -> CoreError {
    CoreError::Quorum(what.to_string())
}

/// Runs `attempt` until it succeeds or fails other than for a full disk. A full disk is
/// waited out, as the log writer waits it out (`persist::sync`): logged once, retried every
/// [`FULL_DISK_RETRY`].
async fn wait_for_space<T, E, F>(
    what: &str,
    no_space: fn(&E) -> bool,
    mut attempt: impl FnMut() -> F,
) -> Result<T, E>
where
    E: std::fmt::Display,
    F: std::future::Future<Output = Result<T, E>>,
{
    let mut told = false;
    loop {
        match attempt().await {
            Err(e) if no_space(&e) => {
                if !told {
                    tracing::error!("disk full: cannot {what}; waiting: {e}");
                    told = true;
                }
                tokio::time::sleep(FULL_DISK_RETRY).await;
            }
            done => return done,
        }
    }
}

impl CoreTask {
    fn member(&mut self) -> &mut Quorum {
        self.quorum
            .as_mut()
            .expect("called on ensemble members only")
    }

    /// A frame from another member (or a link going up or down).
    pub(super) async fn on_link_event(&mut self, event: Option<Event>) -> Result<(), CoreError> {
        let Some(event) = event else {
            return Err(quorum_err("the peer links stopped"));
        };
        match event {
            Event::Frame { from, frame } => {
                let message = match codec::decode(frame) {
                    Ok(message) => message,
                    Err(e) => {
                        tracing::warn!(from, "dropping an undecodable frame: {e}");
                        return Ok(());
                    }
                };
                if matches!(
                    message,
                    Message::Quorum {
                        packet: Packet::Ack { .. },
                        ..
                    }
                ) {
                    self.member().ack_arrived(from);
                }
                if let Err(e) = self.member().peer.step(from, message) {
                    tracing::debug!(from, "quorum input dropped: {e}");
                }
                self.drive_quorum().await
            }
            Event::Up { peer, direction } => {
                tracing::debug!(peer, ?direction, "link up");
                self.member().peer.link_up(peer);
                Ok(())
            }
            Event::Down { peer, direction } => {
                tracing::debug!(peer, ?direction, "link down");
                self.member().peer.link_down(peer);
                self.drive_quorum().await
            }
        }
    }

    /// A ConnectRequest while the member is between leaders. ZooKeeper closes such a
    /// connection at once ("ZooKeeperServer not running") and the client moves on, to members
    /// that are electing too, and then backs off; an election here takes milliseconds, so
    /// the handshake waits for it instead (up to `PARK_LIMIT`, then the connection closes).
    pub(super) fn park(
        &mut self,
        conn: ConnId,
        req: paddock_jute::proto::ConnectRequest,
        received: std::time::Instant,
    ) {
        self.member().parked.push_back(Parked {
            conn,
            req,
            received,
        });
    }

    /// Serves parked handshakes once the member serves; closes those that waited too long.
    pub(super) async fn unpark(&mut self) -> Result<(), CoreError> {
        let Some(q) = self.quorum.as_mut() else {
            return Ok(());
        };
        if q.parked.is_empty() {
            return Ok(());
        }
        if !q.serving && !q.read_only {
            let mut expired = Vec::new();
            while q
                .parked
                .front()
                .is_some_and(|p| p.received.elapsed() > PARK_LIMIT)
            {
                expired.extend(q.parked.pop_front().map(|p| p.conn));
            }
            for conn in expired {
                self.close(conn);
            }
            return Ok(());
        }
        let parked = std::mem::take(&mut q.parked);
        for p in parked {
            if self.outboxes.contains_key(&p.conn) {
                self.handle(super::CoreMsg::Connect {
                    conn: p.conn,
                    req: p.req,
                    received: p.received,
                })
                .await?;
            }
        }
        Ok(())
    }

    /// Time passes for the ZAB core; a serving learner relays its clients' session touches
    /// every half tick, as ZooKeeper's learners answer the leader's pings.
    pub(super) async fn quorum_tick(&mut self) -> Result<(), CoreError> {
        // Metrics that need a look over every learner are sampled per tick, not per message.
        self.export_zab_stats();
        let q = self.member();
        let now = q.now_ms();
        q.peer.tick(now);
        if q.read_only_due() {
            q.read_only = true;
            tracing::info!("no quorum: serving read-only clients (readonlymode.enabled)");
            self.state.enter_read_only();
        }
        let q = self.quorum.as_ref().expect("member");
        if let Some(view) = q.peer.leader_view() {
            // LearnerHandler: the packets queued for each learner.
            for (id, _, _) in view.learner_ids {
                let queued = q.net.queued(id) as i64;
                self.metrics
                    .observe_keyed("learner_handler_qp_size", &id.to_string(), queued);
            }
        }
        let q = self.member();
        if q.serving && self.state.role() == Role::Learner {
            let q = self.quorum.as_mut().expect("member");
            let due = std::time::Instant::now() >= q.next_touch_relay;
            if due {
                let half_tick = q.peer.config().tick_ms / 2;
                q.next_touch_relay =
                    std::time::Instant::now() + std::time::Duration::from_millis(half_tick);
                let sessions = self.state.take_touched();
                if !sessions.is_empty() {
                    let touch = Forward::Touch { sessions };
                    let _ = self.member().peer.propose(Bytes::from(touch.encode()));
                }
            }
        }
        self.compact_written();
        self.snapshot_read_done().await?;
        self.drive_quorum().await
    }

    /// Leader: proposes a transaction it prepared (for its own client, a forwarded request or
    /// a session expiry). It is applied when the quorum commits it.
    /// The caller drives the core afterwards.
    pub(super) fn propose(&mut self, proposal: Proposal) {
        let zxid = proposal.hdr.zxid;
        let payload = Bytes::from(log_entry(&proposal.hdr, &proposal.txn));
        let size = payload.len();
        let span = self.proposal_span(&proposal);
        match self.member().peer.propose(payload) {
            Ok(Proposed::Logged(z)) => {
                self.metrics.hot.proposal_count.add(1);
                self.member().proposed(z, size);
                assert_eq!(
                    z.0 as i64, zxid,
                    "the state machine and the ZAB core disagree on the next zxid"
                );
                self.member().pending.insert(zxid, (proposal, span));
            }
            Ok(Proposed::Forwarded { .. }) => {
                unreachable!("only a leader prepares transactions")
            }
            Err(e) => {
                tracing::debug!("cannot propose zxid {zxid:#x}: {e}");
                self.refuse(&proposal);
            }
        }
    }

    /// Carries out every pending `Ready` of the ZAB core.
    pub(super) async fn drive_quorum(&mut self) -> Result<(), CoreError> {
        while self.member().peer.has_ready() {
            let ready = self.member().peer.take_ready();
            self.carry_out(ready).await?;
        }
        Ok(())
    }

    /// The ZAB core's sync counters as ZooKeeper's `diff_count` (DIFF, TRUNC and TRUNC+DIFF
    /// all count there, `LearnerHandler.syncFollower`) and `snap_count`, and each learner's
    /// `ack_latency`. Called every ZAB tick (at most 50 ms apart), not per message: it walks
    /// the learners, which showed in the leader's CPU per write. The latency still ends when
    /// the ACK arrived (recorded per frame), so sampling late does not inflate it.
    fn export_zab_stats(&mut self) {
        for (id, took) in self.member().ack_latencies() {
            let ms = took.as_millis() as i64;
            self.metrics
                .observe_keyed("ack_latency", &id.to_string(), ms);
        }
        let log_bytes = self.member().peer.log_bytes();
        let gauge = &self.metrics.paddock.log_memory_bytes;
        gauge.set(i64::try_from(log_bytes).unwrap_or(i64::MAX));
        let q = self.member();
        let now = q.peer.stats();
        let was = std::mem::replace(&mut q.exported, now);
        let diffs = (now.diff_syncs + now.trunc_syncs) - (was.diff_syncs + was.trunc_syncs);
        let snaps = now.snap_syncs - was.snap_syncs;
        if diffs > 0 {
            self.metrics.count("diff_count", diffs);
        }
        if snaps > 0 {
            self.metrics.count("snap_count", snaps);
        }
    }

    /// Milliseconds from a txn's header time (the leader's wall clock when it was prepared)
    /// to now: the latency of its proposal or commit reaching this member.
    fn since_txn_time(txn_time_ms: i64) -> i64 {
        (super::wall_ms() - txn_time_ms).max(0)
    }

    async fn carry_out(&mut self, ready: Ready) -> Result<(), CoreError> {
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
            self.storage_op(op).await?;
        }
        for envelope in messages {
            let net = &self.member().net;
            // A snapshot goes behind its header as it is, not copied into a new frame on the
            // core task (half a second for a million znodes).
            let sent = match codec::encode_snapshot_split(&envelope.message) {
                Some((head, body)) => net.send_split(envelope.to, head, body),
                None => net.send(envelope.to, codec::encode(&envelope.message)),
            };
            if let Err(e) = sent {
                // ZAB tolerates a lost message; the link reconnects.
                tracing::debug!(to = envelope.to, "message not sent: {e}");
            }
        }
        for entry in committed {
            self.apply_committed(entry).await?;
        }
        if snapshot_wanted {
            self.produce_snapshot()?;
        }
        for event in events {
            self.role_event(event);
        }
        for request in forwarded {
            self.prepare_forwarded(request.from, request.payload);
        }
        for payload in synced {
            if let Ok(Forward::Sync { session, cxid, .. }) = Forward::decode(&payload) {
                let actions = self.state.sync_done(session, cxid);
                self.perform(actions);
            }
        }
        Ok(())
    }

    async fn storage_op(&mut self, op: StorageOp) -> Result<(), CoreError> {
        match op {
            StorageOp::AcceptedEpoch(epoch) => self.record_epoch(true, epoch).await,
            StorageOp::CurrentEpoch(epoch) => self.record_epoch(false, epoch).await,
            StorageOp::Append { write_id, entries } => {
                let Some(last) = entries.last().map(|e| e.zxid.0 as i64) else {
                    return Ok(());
                };
                let learner = matches!(
                    self.member().peer.status().state,
                    paddock_zab::ServerState::Following | paddock_zab::ServerState::Observing
                );
                let mut msgs = Vec::with_capacity(entries.len());
                for entry in entries {
                    let zxid = entry.zxid.0 as i64;
                    if learner {
                        // Follower: PROPOSAL received (`learner_proposal_received_count`) and
                        // its age (`proposal_latency`); the header's time is at bytes 20..28.
                        self.metrics.hot.learner_proposals.add(1);
                        if let Some(t) = entry.payload.get(20..28) {
                            let time = i64::from_be_bytes(t.try_into().expect("8 bytes"));
                            self.metrics
                                .hot
                                .proposal_latency
                                .add(Self::since_txn_time(time));
                        }
                    }
                    let bytes = entry.payload.to_vec();
                    msgs.push(LogMsg::Entry { zxid, bytes });
                }
                self.log_send(msgs).await?;
                self.member().appended(write_id, last);
                Ok(())
            }
            StorageOp::TruncateAfter(zxid) => {
                let zxid = zxid.0 as i64;
                tracing::info!("truncating the transaction log after zxid {zxid:#x} (TRUNC)");
                self.replace_log(zxid, zxid).await
            }
            StorageOp::InstallSnapshot(snapshot) => self.install_snapshot(snapshot).await,
        }
    }

    /// Makes an epoch durable before anything that depends on it is sent. A full disk is
    /// waited out (`wait_for_space`): the member stalls, the others go on without it, and it
    /// takes part again once space is freed. ZooKeeper's
    /// member gives up on the leader instead and runs the election again; here the epoch is
    /// already accepted in the state machine's memory, so going on without the file could
    /// later acknowledge it without having recorded it.
    async fn record_epoch(&mut self, accepted: bool, epoch: u32) -> Result<(), CoreError> {
        let storage = &self.storage;
        let what = format!("record epoch {epoch}");
        wait_for_space(&what, EpochError::is_no_space, || {
            std::future::ready(write_epoch_file(storage, accepted, epoch))
        })
        .await
        .map_err(quorum_err)
    }

    /// Waits until every append is durable, then swaps in a fresh log writer continuing
    /// after `continue_at` and cuts the files after `truncate_after`.
    async fn replace_log(
        &mut self,
        truncate_after: i64,
        continue_at: i64,
    ) -> Result<(), CoreError> {
        if let Some(last) = self.member().last_unconfirmed() {
            let mut durable = self.log.durable.clone();
            while *durable.borrow_and_update() < last {
                durable.changed().await.map_err(|_| CoreError::LogFailed)?;
            }
        }
        let fresh = LogHandle::start(&self.storage, continue_at);
        let old = std::mem::replace(&mut self.log, fresh);
        self.log_generation += 1;
        let storage = self.storage.clone();
        let cut = tokio::task::spawn_blocking(move || {
            old.close();
            match truncate_log(&*storage.fs, &storage.log_dir, truncate_after) {
                Ok(()) | Err(LogError::NothingToTruncate { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await
        .map_err(quorum_err)?;
        cut.map_err(quorum_err)?;
        self.member().log_reset();
        self.durable_zxid = continue_at;
        Ok(())
    }

    /// SNAP: the leader's snapshot replaces this member's state and log.
    async fn install_snapshot(&mut self, snapshot: Snapshot) -> Result<(), CoreError> {
        let zxid = snapshot.zxid.0 as i64;
        tracing::info!(
            "installing the leader's snapshot of zxid {zxid:#x} ({} bytes, SNAP)",
            snapshot.data.len()
        );
        if let Some(s) = self.snapshot.take() {
            s.job.abandon();
        }
        self.replace_log(zxid, zxid).await?;
        let (suffix, file) = split_snap_payload(&snapshot.data)
            .ok_or_else(|| quorum_err("malformed SNAP payload"))?;
        let file = snapshot.data.slice_ref(file);
        let suffix = suffix.to_owned();
        // The state is parsed from the bytes received while the file is written, both off
        // the core task.
        let parsed = {
            let (cfg, now, file) = (
                self.state.config().clone(),
                self.clock.now_ms(),
                file.clone(),
            );
            tokio::task::spawn_blocking(move || load_received_snapshot(cfg, now, zxid, &file))
        };
        // A full disk is waited out, as for the epoch files (`record_epoch`).
        let storage = &self.storage;
        let installed = wait_for_space("install the leader's snapshot", is_no_space, || {
            let (storage, suffix, file) = (storage.clone(), suffix.clone(), file.clone());
            async move {
                tokio::task::spawn_blocking(move || {
                    install_snapshot_file(&storage, zxid, &suffix, &file)
                })
                .await
                .map_err(std::io::Error::other)?
            }
        })
        .await
        .map_err(quorum_err)?;
        let state = match parsed.await.map_err(quorum_err)? {
            Ok(state) => state,
            Err(e) => {
                // Not left for a restart to find as the newest snapshot.
                let _ = self.storage.fs.remove_file(&installed);
                return Err(quorum_err(format!(
                    "the leader's snapshot of zxid {zxid:#x}: {e}"
                )));
            }
        };
        let role = self.state.role();
        self.state = state;
        if role == Role::Learner {
            self.state.become_learner();
        }
        self.member().pending.clear();
        self.member().compact_floor = zxid;
        Ok(())
    }

    /// Applies a committed transaction and answers its client if it is connected here. A
    /// leader applies the proposal it kept; a learner decodes the entry.
    async fn apply_committed(&mut self, entry: Entry) -> Result<(), CoreError> {
        let zxid = entry.zxid.0 as i64;
        let (proposal, parent) = match self.member().pending.remove(&zxid) {
            Some(kept) => kept,
            None => (
                decode_committed(zxid, &entry.payload)?,
                tracing::Span::none(),
            ),
        };
        let txn_age = Self::since_txn_time(proposal.hdr.time);
        if self.state.role() == Role::Leader {
            // Leader.commit counts (`commit_count`) and times (`quorum_ack_latency`).
            self.metrics.hot.commit_count.add(1);
            self.metrics.hot.quorum_ack_latency.add(txn_age);
        } else {
            self.metrics.hot.learner_commits.add(1);
            self.metrics.hot.commit_propagation_latency.add(txn_age);
        }
        crate::stats::record_writes(&self.metrics, &proposal.txn);
        let commit_span = if parent.is_disabled() {
            tracing::info_span!(target: crate::logging::SPAN_TARGET, "commit", zxid)
        } else {
            tracing::info_span!(
                target: crate::logging::SPAN_TARGET,
                parent: &parent,
                "commit",
                zxid
            )
        };
        let actions = commit_span.in_scope(|| self.state.apply(proposal));
        self.perform(actions);
        let due = self.snapshot_schedule.logged(entry.payload.len() as u64);
        if due && self.snapshot.is_none() {
            self.log_send(vec![LogMsg::Roll]).await?;
            self.begin_snapshot();
        }
        Ok(())
    }

    /// A learner needs SNAP. The newest snapshot file is sent if the in-memory log holds
    /// every entry after it: it is read on a blocking thread (`snapshot_read`, taken up by
    /// `snapshot_read_done`), so the core goes on serving. Otherwise, or if no file can be
    /// read, the state as it stands is serialized here (`snapshot_from_state`).
    fn produce_snapshot(&mut self) -> Result<(), CoreError> {
        if self.member().snapshot_read.is_some() {
            // The file under way answers every learner waiting for a snapshot.
            return Ok(());
        }
        let storage = self.storage.clone();
        let q = self.member();
        let at_least = q.peer.log_base().0 as i64;
        q.snapshot_read = Some(tokio::task::spawn_blocking(move || {
            read_snapshot_for_learner(&storage, at_least, snap_payload_head)
        }));
        Ok(())
    }

    /// Forgets the log entries the newest snapshot file covers, once that file is complete.
    fn compact_written(&mut self) {
        let Some((file, floor)) = self.member().compact_once_written else {
            return;
        };
        let written = *self
            .metrics
            .last_snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if written.is_some_and(|(zxid, _)| zxid >= file) {
            let q = self.member();
            q.peer.compact(Zxid(floor as u64));
            q.compact_once_written = None;
        }
    }

    /// Leader, each tick: hands the ZAB core the snapshot file read for a learner once the
    /// read is done, or builds the snapshot from the state if there was no file to send.
    async fn snapshot_read_done(&mut self) -> Result<(), CoreError> {
        let q = self.member();
        if !q.snapshot_read.as_ref().is_some_and(|r| r.is_finished()) {
            return Ok(());
        }
        let read = q.snapshot_read.take().expect("checked above");
        let read = read.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        if self.state.role() != Role::Leader {
            return Ok(());
        }
        match read {
            Ok(Some((zxid, data))) => {
                self.offer_snapshot("snapshot file", zxid, data);
                Ok(())
            }
            Ok(None) => self.snapshot_from_state(),
            Err(e) => {
                tracing::warn!("cannot read a snapshot file for a learner: {e}");
                self.snapshot_from_state()
            }
        }
    }

    /// The state as it stands, in ZooKeeper's snapshot format, serialized in memory (as
    /// ZooKeeper streams it), so a leader with a full disk still sends it. The core task is
    /// held meanwhile: 0.5 s for a million znodes.
    fn snapshot_from_state(&mut self) -> Result<(), CoreError> {
        let zxid = self.state.last_zxid();
        let head = snap_payload_head(self.storage.compression.extension());
        let data = snapshot_in_memory(&self.storage, &self.state, head).map_err(quorum_err)?;
        self.offer_snapshot("snapshot", zxid, data);
        Ok(())
    }

    /// Hands the ZAB core a SNAP payload for its learners. A file can be refused when the
    /// log's base moved past it while it was read (a newer snapshot finished); the core then
    /// asks again, and the newer file is read.
    fn offer_snapshot(&mut self, what: &str, zxid: i64, data: Vec<u8>) {
        tracing::info!(
            "{what} of zxid {zxid:#x} for a learner: {} bytes",
            data.len()
        );
        let snapshot = Snapshot {
            zxid: Zxid(zxid as u64),
            data: Bytes::from(data),
        };
        if let Err(e) = self.member().peer.snapshot_produced(snapshot) {
            tracing::info!("the ZAB core refused the {what}: {e}");
        }
    }

    fn role_event(&mut self, event: RoleEvent) {
        let looking = matches!(event, RoleEvent::Looking);
        if matches!(event, RoleEvent::Leading | RoleEvent::Learning { .. }) {
            // Follower/Leader: the time from LOOKING to the election's outcome.
            if let Some(since) = self.member().looking_since {
                self.metrics
                    .observe("election_time", since.elapsed().as_millis() as i64);
            }
        }
        if let RoleEvent::Learning { .. } = event {
            self.member().learning_since = Some(std::time::Instant::now());
        }
        if let RoleEvent::LearnerServing { .. } = event {
            if let Some(since) = self.member().learning_since.take() {
                self.metrics
                    .observe("follower_sync_time", since.elapsed().as_millis() as i64);
            }
        }
        self.member().looking_since = looking.then(std::time::Instant::now);
        if !looking && std::mem::replace(&mut self.member().read_only, false) {
            // QuorumPeer shuts its read-only server down when it leaves LOOKING.
            tracing::info!("leaving read-only mode");
            let closes = self.state.leave_read_only();
            self.perform(closes);
        }
        match event {
            RoleEvent::Looking => {
                let was_serving = std::mem::replace(&mut self.member().serving, false);
                self.member().pending.clear();
                // Parked handshakes keep waiting for the next leader (`stop_serving` leaves
                // connections without a session open).
                let closes = self.state.stop_serving();
                if was_serving {
                    tracing::info!(
                        "LOOKING: stopped serving, closing {} client connections",
                        closes.len()
                    );
                }
                self.metrics.count("looking_count", 1);
                self.perform(closes);
            }
            RoleEvent::Leading => tracing::info!("LEADING: synchronising learners"),
            RoleEvent::Learning { leader } => {
                tracing::info!(leader, "FOLLOWING: synchronising with the leader")
            }
            RoleEvent::LeaderEstablished { epoch } => {
                tracing::info!(epoch, "LEADING: the quorum is established, serving");
                let now = self.now_ms();
                self.state.become_leader(i64::from(epoch), now);
                self.member().serving = true;
            }
            RoleEvent::LearnerServing { leader, epoch } => {
                let by = self.member().peer.sync_kind().unwrap_or("?");
                tracing::info!(
                    leader,
                    epoch,
                    "synchronised with the leader by {by}, serving"
                );
                self.state.become_learner();
                self.member().serving = true;
            }
        }
    }

    /// Leader: a request a learner forwarded.
    /// Leader: a request a learner forwarded. What it proposes leaves with the next `Ready`
    /// of the loop in `drive_quorum`.
    fn prepare_forwarded(&mut self, from: u64, payload: Bytes) {
        if !self.member().serving || self.state.role() != Role::Leader {
            return;
        }
        let forward = match Forward::decode(&payload) {
            Ok(forward) => forward,
            Err(e) => {
                tracing::warn!(from, "dropping an undecodable forwarded request: {e}");
                return;
            }
        };
        let now = self.now_ms();
        match forward {
            Forward::Touch { sessions } => self.state.touch_sessions(&sessions, now),
            Forward::Sync { .. } => {
                if let Err(e) = self.member().peer.sync_barrier(from, payload) {
                    tracing::debug!(from, "sync not answered: {e}");
                }
            }
            forward => {
                if let Some(proposal) = self.state.prepare_forwarded(forward, now) {
                    self.propose(proposal);
                }
            }
        }
    }
}

/// A committed log entry as the transaction it carries, checked against its zxid.
fn decode_committed(zxid: i64, payload: &[u8]) -> Result<Proposal, CoreError> {
    let decoded = decode_entry(payload).map_err(|e| {
        quorum_err(format!(
            "committed transaction {zxid:#x} does not decode: {e}"
        ))
    })?;
    if decoded.header.zxid != zxid {
        return Err(quorum_err(format!(
            "committed entry {zxid:#x} carries zxid {:#x}",
            decoded.header.zxid
        )));
    }
    Ok(Proposal {
        hdr: decoded.header,
        txn: decoded.txn,
        origin: None,
    })
}

/// The start of a SNAP payload, which the sender's snapshot file follows: its name's
/// compression suffix (one length byte, then the suffix), so the receiver stores it under a
/// name its reader decodes.
fn snap_payload_head(suffix: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + suffix.len());
    out.push(suffix.len() as u8);
    out.extend_from_slice(suffix.as_bytes());
    out
}

/// Splits a SNAP payload; `None` for a malformed one or a suffix that is not a plain
/// extension (no path separators).
fn split_snap_payload(data: &[u8]) -> Option<(&str, &[u8])> {
    let (&len, rest) = data.split_first()?;
    let (suffix, file) = rest.split_at_checked(len as usize)?;
    let suffix = std::str::from_utf8(suffix).ok()?;
    let plain = suffix
        .strip_prefix('.')
        .is_none_or(|ext| !ext.is_empty() && ext.chars().all(|c| c.is_ascii_alphanumeric()));
    (plain && (suffix.is_empty() || suffix.starts_with('.'))).then_some((suffix, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap_payload(suffix: &str, file: Vec<u8>) -> Vec<u8> {
        let mut payload = snap_payload_head(suffix);
        payload.extend_from_slice(&file);
        payload
    }

    #[test]
    fn snap_payloads_round_trip_and_refuse_odd_suffixes() {
        for suffix in ["", ".snappy", ".gz"] {
            let p = snap_payload(suffix, vec![1, 2, 3]);
            assert_eq!(split_snap_payload(&p), Some((suffix, &[1u8, 2, 3][..])));
        }
        for bad in ["/x", "../x", ".", "x"] {
            assert_eq!(
                split_snap_payload(&snap_payload(bad, vec![1])),
                None,
                "{bad}"
            );
        }
        assert_eq!(split_snap_payload(&[]), None);
        assert_eq!(split_snap_payload(&[9, b'.']), None);
    }
}
