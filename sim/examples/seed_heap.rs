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
//! is the tool). `--ops N` and `--nodes N` set the workload's operations and the cluster's
//! nodes (default 200 and 4, as `sweep --ops` and `--nodes`), to see how a seed's memory
//! grows with its objects and its nodes. Prints each seed's trace digest and operations
//! (the same seed prints the same digest).

use std::process::ExitCode;

use replisim_sim::sweep::{run_seed, SweepConfig};
use replisim_sim::world::PER_OCTET_MAX;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!(
            "usage: seed_heap [--ops N] [--nodes N] [SEED]...  (standard sweep seeds, default 0)"
        );
        return ExitCode::SUCCESS;
    }
    let mut config = SweepConfig::new();
    match take_number(&mut args, "--ops") {
        Ok(Some(ops)) => config.workload.ops = ops,
        Ok(None) => {}
        Err(e) => return usage_error(&e),
    }
    match take_number(&mut args, "--nodes") {
        Ok(Some(nodes)) if (1..=PER_OCTET_MAX).contains(&nodes) => config.nodes = nodes,
        Ok(Some(_)) => {
            return usage_error(&format!("--nodes must be between 1 and {PER_OCTET_MAX}"))
        }
        Ok(None) => {}
        Err(e) => return usage_error(&e),
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
        Err(e) => return usage_error(&e),
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

/// Removes `flag` and the number after it from `args`: `Ok(None)` when the flag is absent.
fn take_number(args: &mut Vec<String>, flag: &str) -> Result<Option<usize>, String> {
    let Some(at) = args.iter().position(|a| a == flag) else {
        return Ok(None);
    };
    let number = args
        .get(at + 1)
        .and_then(|n| n.parse::<usize>().ok())
        .ok_or_else(|| format!("{flag} needs a number"))?;
    args.drain(at..at + 2);
    Ok(Some(number))
}

fn usage_error(why: &str) -> ExitCode {
    eprintln!("seed_heap: {why}");
    ExitCode::from(2)
}
