//! `paddock-sim`: replay one seed, run a range, or soak random seeds for a while.

use anyhow::{bail, Context};
use clap::Parser;
use paddock_sim::{Options, RunStats, World};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Deterministic simulation of a paddock-zab ensemble")]
struct Args {
    /// Replay exactly this seed.
    #[arg(long, conflicts_with_all = ["seeds", "soak_secs"])]
    seed: Option<u64>,
    /// Run a range of seeds, `A..B` (B excluded).
    #[arg(long, conflicts_with = "soak_secs")]
    seeds: Option<String>,
    /// Run random seeds until this many seconds have passed.
    #[arg(long)]
    soak_secs: Option<u64>,
    /// Simulated milliseconds of workload under faults.
    #[arg(long, default_value_t = 20_000)]
    fault_ms: u64,
    /// Simulated milliseconds after healing, in which progress is required.
    #[arg(long, default_value_t = 15_000)]
    heal_ms: u64,
    /// Print every event (with --seed).
    #[arg(long)]
    verbose: bool,
}

fn run(seed: u64, args: &Args) -> Result<RunStats, String> {
    let mut opts = Options::from_seed(seed, args.fault_ms, args.heal_ms);
    opts.verbose = args.verbose;
    if args.verbose {
        println!("seed {seed}: {opts:?}");
    }
    let result = std::panic::catch_unwind(|| World::new(seed, opts).run());
    match result {
        Ok(Ok(stats)) => Ok(stats),
        Ok(Err(failure)) => Err(failure.to_string()),
        Err(_) => Err(format!(
            "seed {seed} panicked; replay: paddock-sim --seed {seed} --verbose"
        )),
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seeds: Box<dyn Iterator<Item = u64>> = if let Some(seed) = args.seed {
        Box::new(std::iter::once(seed))
    } else if let Some(range) = &args.seeds {
        let (a, b) = range.split_once("..").context("--seeds takes A..B")?;
        Box::new(a.parse::<u64>()?..b.parse::<u64>()?)
    } else if let Some(secs) = args.soak_secs {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos();
        let mut state = start as u64;
        Box::new(std::iter::from_fn(move || {
            (Instant::now() < deadline).then(|| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                state >> 1
            })
        }))
    } else {
        bail!("give --seed N, --seeds A..B or --soak-secs S");
    };
    let (mut runs, mut failed) = (0u64, 0u64);
    let mut total = RunStats::default();
    let started = Instant::now();
    for seed in seeds {
        runs += 1;
        match run(seed, &args) {
            Ok(s) => {
                total.events += s.events;
                total.committed += s.committed;
                total.acked_writes += s.acked_writes;
                total.client_syncs += s.client_syncs;
                total.crashes += s.crashes;
                total.elections += s.elections;
                total.snap_syncs += s.snap_syncs;
                total.diff_syncs += s.diff_syncs;
                total.trunc_syncs += s.trunc_syncs;
                total.counter_rollovers += s.counter_rollovers;
                if args.seed.is_some() {
                    println!("seed {seed}: ok {s:?}");
                }
            }
            Err(report) => {
                failed += 1;
                eprintln!("{report}");
            }
        }
    }
    println!(
        "{runs} runs, {failed} failed, {:.1} s; events {}, entries applied {}, writes acked {}, \
         client syncs {}, crashes {}, elections {}, syncs DIFF {} TRUNC {} SNAP {}, \
         counter roll-overs {}",
        started.elapsed().as_secs_f64(),
        total.events,
        total.committed,
        total.acked_writes,
        total.client_syncs,
        total.crashes,
        total.elections,
        total.diff_syncs,
        total.trunc_syncs,
        total.snap_syncs,
        total.counter_rollovers
    );
    if failed > 0 {
        bail!("{failed} of {runs} runs failed");
    }
    Ok(())
}
