//! The `replisim` binary: see `replisim --help`.

use clap::Parser;

/// mimalloc instead of the system allocator: a simulated exchange allocates and frees many
/// small buffers (hyper's header arrays and maps, bodies, futures), and glibc's malloc, free
/// and their consolidation were about 15% of a sweep's CPU. With mimalloc a sweep used
/// less CPU per seed and ran the same seeds to the same digests (BENCHMARKS.md, Figure 10).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    replisim_conformance::cli::main_with(replisim_conformance::cli::Cli::parse())
}
