//! seed_heap: runs standard sweep seeds (`sweep::run_seed` with `SweepConfig::new()`), one
//! after another on the system allocator, so that a heap profiler sees a seed's live memory.
//!
//! `replisim` allocates through mimalloc, whose pages hide what a seed holds from tools
//! that watch `malloc` (valgrind's massif, heaptrack); this program keeps the system
//! allocator on purpose. BENCHMARKS.md, Figure 20, uses it:
//!
//! ```sh
//! cargo build --release -p replisim-sim --example seed_heap
//! valgrind --tool=massif --massif-out-file=seed.massif ./target/release/examples/seed_heap 1245
//! ms_print seed.massif
//! ```
//!
//! Arguments: the seeds to run, each a number; default seed 0 (for ranges, `replisim sweep`
//! is the tool). `--ops N` sets the workload's operations (default 200, as `sweep --ops`),
//! to see how a seed's memory grows with its objects. Prints each seed's trace digest and
//! operations (the same seed prints the same digest).

use std::process::ExitCode;

use replisim_sim::sweep::{run_seed, SweepConfig};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("usage: seed_heap [--ops N] [SEED]...  (standard sweep seeds, default 0)");
        return ExitCode::SUCCESS;
    }
    let mut config = SweepConfig::new();
    if let Some(at) = args.iter().position(|a| a == "--ops") {
        match args.get(at + 1).map(|n| n.parse::<usize>()) {
            Some(Ok(ops)) => {
                config.workload.ops = ops;
                // As `replisim sweep --ops` allows: room for a long workload to finish.
                config.time_limit = std::time::Duration::from_secs(3600 + 2 * ops as u64);
            }
            _ => {
                eprintln!("seed_heap: --ops needs a number of operations");
                return ExitCode::from(2);
            }
        }
        args.drain(at..at + 2);
    }
    let seeds: Result<Vec<u64>, String> = args
        .iter()
        .map(|a| {
            a.parse::<u64>()
                .map_err(|_| format!("`{a}`: expected a seed number"))
        })
        .collect();
    let seeds = match seeds {
        Ok(s) if s.is_empty() => vec![0],
        Ok(s) => s,
        Err(e) => {
            eprintln!("seed_heap: {e}");
            return ExitCode::from(2);
        }
    };
    for seed in seeds {
        match run_seed(seed, &config) {
            Ok(report) => println!("seed {seed}: digest {} ops {}", report.digest, report.ops),
            Err(e) => {
                eprintln!("seed_heap: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
