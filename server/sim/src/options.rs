//! What one simulated run looks like. A seed chooses the ensemble and the fault mix, so a
//! range of seeds covers many shapes.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Fault probabilities and switches for the faulty phase of a run.
#[derive(Clone, Debug)]
pub struct Faults {
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message is held back long enough to overtake later ones.
    pub reorder: f64,
    /// Mean milliseconds between fault actions (crash, partition, clock jump, slow disk).
    pub action_every_ms: u64,
    pub crashes: bool,
    /// Crashes may leave a torn last record in the log.
    pub torn_writes: bool,
    pub partitions: bool,
    pub clock_jumps: bool,
    pub slow_disks: bool,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub voters: usize,
    pub observers: usize,
    pub clients: usize,
    /// Milliseconds of workload under faults.
    pub fault_ms: u64,
    /// Milliseconds of workload after every fault is healed; progress is required there.
    pub heal_ms: u64,
    pub faults: Faults,
    /// The member's `tickTime` in the simulation.
    pub tick_ms: u64,
    /// Applied entries between two snapshots of a member's state.
    pub snapshot_every: u64,
    /// Entries each member keeps in its log behind its latest snapshot.
    pub log_retain: u64,
    /// The leaders' zxid counter limit; low values exercise the forced re-election.
    pub zxid_counter_limit: u32,
    /// Print every event as it happens.
    pub verbose: bool,
}

impl Options {
    /// A run shaped by `seed`: 3 or 5 voters, up to 2 observers, some mix of faults.
    pub fn from_seed(seed: u64, fault_ms: u64, heal_ms: u64) -> Options {
        use rand::SeedableRng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x005e_ed0f_0be5);
        let voters = if rng.gen_bool(0.5) { 3 } else { 5 };
        let calm = rng.gen_bool(0.1);
        let faults = Faults {
            loss: if calm { 0.0 } else { rng.gen_range(0.0..0.05) },
            duplicate: if calm { 0.0 } else { rng.gen_range(0.0..0.03) },
            reorder: if calm { 0.0 } else { rng.gen_range(0.0..0.03) },
            action_every_ms: rng.gen_range(300..2000),
            crashes: !calm && rng.gen_bool(0.7),
            torn_writes: rng.gen_bool(0.5),
            partitions: !calm && rng.gen_bool(0.6),
            clock_jumps: !calm && rng.gen_bool(0.3),
            slow_disks: !calm && rng.gen_bool(0.4),
        };
        Options {
            voters,
            observers: rng.gen_range(0..=2),
            clients: rng.gen_range(1..=4),
            fault_ms,
            heal_ms,
            faults,
            tick_ms: 100,
            snapshot_every: rng.gen_range(20..80),
            log_retain: rng.gen_range(5..60),
            zxid_counter_limit: if rng.gen_bool(0.2) { 40 } else { u32::MAX },
            verbose: false,
        }
    }

    /// A run without faults, for scenarios that inject their own.
    pub fn calm(voters: usize, observers: usize, clients: usize) -> Options {
        Options {
            voters,
            observers,
            clients,
            fault_ms: 10_000,
            heal_ms: 10_000,
            faults: Faults {
                loss: 0.0,
                duplicate: 0.0,
                reorder: 0.0,
                action_every_ms: u64::MAX / 4,
                crashes: false,
                torn_writes: false,
                partitions: false,
                clock_jumps: false,
                slow_disks: false,
            },
            tick_ms: 100,
            snapshot_every: 50,
            log_retain: 20,
            zxid_counter_limit: u32::MAX,
            verbose: false,
        }
    }
}
