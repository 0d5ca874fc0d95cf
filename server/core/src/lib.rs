//! The ZooKeeper state machine of a Paddock server, with no IO, clock or randomness of its own.
//!
//! Map of the crate:
//! - `config`: `CoreConfig`, the knobs of the state machine (tick, session bounds, ACL switches).
//! - `digest`: the tree digest ZooKeeper 3.6+ writes into snapshots and the log.
//! - `javahash`: the iteration order of Java's `HashSet<String>`, which ZooKeeper shows to
//!   clients in children and ephemeral listings.
//! - `forward`: `Forward`, the request a learner hands to its leader, and its encoding.
//! - `ensemble` (private): roles (`Role`: standalone, leader, learner), per-session request
//!   order, forwarded requests on the leader, session touches relayed to the leader.
//! - `path`: ZooKeeper's path validation (`PathUtils.validatePath`).
//! - `acl`: authentication providers (digest, ip, super), ACL checks, the reference-counted ACL
//!   cache.
//! - `session`: the session tracker with tick-bucketed expiry and ZooKeeper's id and password
//!   formats.
//! - `watch`: one-shot, persistent and persistent-recursive watch tables.
//! - `nodes`: the node table under the tree: a slab of `u32` node ids, a (parent, name) hash
//!   index, children in sibling lists; one allocation per znode for its name and data.
//! - `tree`: the data tree: nodes, stats, children, ephemerals, quotas, container/TTL candidates.
//! - `prep` (private): write requests checked and turned into transactions, in
//!   `PrepRequestProcessor`'s order.
//! - `read` (private): reads and local operations answered without a transaction.
//! - `snapshot`: fuzzy snapshots taken in chunks (`SnapshotCursor`), `SnapNode`, `LoadError`.
//! - `recovery` (private): `State::abandon`, snapshot begin/next, `State::from_snapshot`,
//!   `State::replay` of logged txns, `State::recovery_done`.
//! - `state`: the request pipeline: `connect`, `request` (reads and local ops answered at once;
//!   writes turned into a `Proposal`), `apply` (a logged proposal changes the tree and yields
//!   replies and watch notifications), `tick` (session expiry and container/TTL sweeping).
//!
//! The write path is "prepare txn -> log -> apply -> reply": `State::request` prepares a
//! transaction, the caller logs it, `State::apply` applies it and produces the replies.

pub mod acl;
pub mod config;
pub mod digest;
mod ensemble;
pub mod fasthash;
pub mod forward;
pub mod javahash;
pub mod nodes;
pub mod path;
mod prep;
mod read;
mod recovery;
pub mod session;
pub mod snapshot;
pub mod state;
pub mod tree;
pub mod watch;

pub use config::CoreConfig;
pub use ensemble::{AdminAuth, Role};
pub use forward::Forward;

/// Identifies one client connection. Watches and authentication belong to connections, as in
/// ZooKeeper (`ServerCnxn`), not to sessions.
pub type ConnId = u64;
