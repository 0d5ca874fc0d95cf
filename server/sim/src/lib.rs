//! A deterministic simulator of a `paddock-zab` ensemble.
//!
//! One thread runs every member's real protocol core against a simulated clock, network and
//! disk, with faults (loss, delay, reordering, duplication, partitions, crashes with lost or
//! torn log tails, slow disks, clock jumps) and a client workload, all drawn from one seeded
//! generator: the same seed replays the same run exactly. Invariants are checked after every
//! step; a failure names its seed and prints the events that led to it.
//!
//! Modules:
//! - `options`: the shape of a run (ensemble size, fault mix), derived from a seed.
//! - `world`: the event loop, the network, the disks, the host side of the `Ready` contract,
//!   the fault injector and the clients.
//! - `kv`: the replicated state machine (a versioned map and a sequence counter) and its
//!   snapshot codec.
//! - `check`: the invariants.

pub mod check;
pub mod kv;
pub mod options;
pub mod world;

pub use options::{Faults, Options};
pub use world::{Failure, RunStats, World};

/// Runs one seed with the shape `Options::from_seed` gives it.
pub fn run_seed(seed: u64, fault_ms: u64, heal_ms: u64) -> Result<RunStats, Failure> {
    World::new(seed, Options::from_seed(seed, fault_ms, heal_ms)).run()
}
