//! The `replisim` binary: see `replisim --help`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    replisim_conformance::cli::main_with(replisim_conformance::cli::Cli::parse())
}
