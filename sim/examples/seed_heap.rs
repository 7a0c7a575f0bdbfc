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
//! Arguments: the seeds to run, each `N` or `A..B` (B exclusive); default seed 0. Prints
//! each seed's trace digest and operations (the same seed prints the same digest).

use std::ops::Range;
use std::process::ExitCode;

use replisim_sim::sweep::{run_seed, SweepConfig};

/// Parses one argument, `N` or `A..B`.
fn parse_seeds(arg: &str) -> Result<Range<u64>, String> {
    let number = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| format!("`{arg}`: expected a seed N or a range A..B of seeds"))
    };
    match arg.split_once("..") {
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            if a >= b {
                return Err(format!("`{arg}`: the range is empty (B is exclusive)"));
            }
            Ok(a..b)
        }
        None => {
            let n = number(arg)?;
            Ok(n..n.saturating_add(1))
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("usage: seed_heap [SEED | A..B]...  (standard sweep seeds, default 0)");
        return ExitCode::SUCCESS;
    }
    let args = if args.is_empty() {
        vec!["0".to_string()]
    } else {
        args
    };
    let ranges: Result<Vec<Range<u64>>, String> = args.iter().map(|a| parse_seeds(a)).collect();
    let ranges = match ranges {
        Ok(r) => r,
        Err(e) => {
            eprintln!("seed_heap: {e}");
            return ExitCode::from(2);
        }
    };
    let config = SweepConfig::new();
    for seed in ranges.into_iter().flatten() {
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
