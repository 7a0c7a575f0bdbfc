#!/usr/bin/env bash
# Builds a profile-guided `replisim` for long campaigns: the same program as
# `cargo build --release`, laid out by the compiler from a profile of its own runs, so a
# sweep runs about 11-15% faster (BENCHMARKS.md, Figure 21). Every run stays the same.
#
#   tools/pgo-build.sh [--out-dir DIR]      # default DIR: target/pgo
#
# Three steps, each plain cargo or LLVM: an instrumented build; a training run of the
# simulator (sweeps of every world kind, the catalog) and of the catalog over real TCP
# against `replisim serve`, since code the training never runs is laid out as cold; then a
# build that uses the merged profile. The profile is made afresh every time, from the
# sources being built, so it can never be stale. Then both binaries run the same seeds and
# must give the same digest. Written as a script rather than with `cargo-pgo` because the
# three steps are all there is, and one tool fewer to install.
#
# Takes two release builds and about 15 s of training: about 12 minutes on 2 cores, and
# 1.5 GB under DIR. Needs rustup's `llvm-tools` component for `llvm-profdata` (added here
# when missing). The result: DIR/release/replisim. `cargo build --release` is unaffected.
set -euo pipefail
cd "$(dirname "$0")/.."

# Prints the comment block above (from line 2 to the first line that is not a comment).
usage() {
  sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"
}

out_dir="target/pgo"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out-dir)
      [[ $# -ge 2 ]] || { echo "pgo-build: --out-dir needs a directory" >&2; exit 2; }
      out_dir="$2"
      shift 2
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "pgo-build: unknown argument \`$1\` (see --help)" >&2
      exit 2
      ;;
  esac
done
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"

# Either variable silently replaces .cargo/config.toml's `--cfg madsim` (notes/madsim.md);
# the profile flags are added with `--config`, which cargo joins to that list.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS

step() { echo "pgo-build: $* ($(date +%H:%M:%S))"; }

host="$(rustc -vV | sed -n 's/^host: //p')"
tools="$(rustc --print sysroot)/lib/rustlib/$host/bin"
if [[ ! -x "$tools/llvm-profdata" ]]; then
  step "adding rustup's llvm-tools component (for llvm-profdata)"
  rustup component add llvm-tools
fi
[[ -x "$tools/llvm-profdata" ]] || {
  echo "pgo-build: no llvm-profdata in $tools after \`rustup component add llvm-tools\`" >&2
  exit 1
}

raw="$out_dir/profile-raw"
profile="$out_dir/replisim.profdata"
rm -rf "$raw" "$profile"
mkdir -p "$raw"

step "1/3 instrumented build"
cargo build --release --bin replisim --target-dir "$out_dir/instrumented" \
  --config "build.rustflags = [\"-Cprofile-generate=$raw\"]"
trained="$out_dir/instrumented/release/replisim"

step "2/3 training run"
train_log="$out_dir/training.txt"
: >"$train_log"
# Runs one training command. The training needs the runs, not their verdicts: exit status 1
# (a seed broke an invariant, a rule failed) is reported and the build goes on; anything
# else (a crash, a bad flag) stops it.
train() {
  local status=0
  "$@" >>"$train_log" 2>&1 || status=$?
  case "$status" in
    0) ;;
    1) echo "pgo-build: warning: \`replisim ${*:2}\` found failures (exit 1); see $train_log" >&2 ;;
    *)
      echo "pgo-build: \`replisim ${*:2}\` exited $status; see $train_log" >&2
      exit 1
      ;;
  esac
}
# Seeds far from the ones the benchmarks measure, so a figure is never a training run.
train "$trained" sweep --seeds 100000..100300 --jobs 2 --no-progress
train "$trained" sweep --seed 100001 --ops 4000 --duration-secs 600 --intensity 4 --no-progress
train "$trained" sweep --world replication --seeds 100000..100006 --jobs 2 --no-progress
train "$trained" sweep --world replication-both --seeds 100000..100002 --jobs 2 --no-progress
train "$trained" sweep --world ds3 --seeds 100000..100006 --jobs 2 --no-progress
train "$trained" check

# The catalog over real TCP, against the reference cluster on free loopback ports.
serve_log="$out_dir/serve.log"
"$trained" serve --nodes 4 --port 0 >"$serve_log" 2>&1 &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true' EXIT
target=""
for _ in $(seq 1 300); do
  target="$(sed -n 's/^check it with: replisim check --target //p' "$serve_log")"
  [[ -n "$target" ]] && break
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n "$target" ]] || {
  echo "pgo-build: \`replisim serve\` did not start; its output:" >&2
  cat "$serve_log" >&2
  exit 1
}
# PARTIAL and skipped rules are expected over TCP (no fault control).
train "$trained" check --target "$target"
kill "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
trap - EXIT

"$tools/llvm-profdata" merge -o "$profile" "$raw"

step "3/3 build with the profile"
cargo build --release --bin replisim --target-dir "$out_dir" \
  --config "build.rustflags = [\"-Cprofile-use=$profile\"]"
built="$out_dir/release/replisim"

# Same sources, same runs: the two binaries must agree seed for seed.
digest() {
  "$1" sweep --seeds 0..40 --jobs 2 --no-progress --out "$2" >/dev/null
  sed -n 's/^ *"digest": "\([0-9a-f]*\)".*/\1/p' "$2" | head -n 1
}
a="$(digest "$trained" "$out_dir/check-instrumented.json")"
b="$(digest "$built" "$out_dir/check-optimized.json")"
if [[ -z "$a" || "$a" != "$b" ]]; then
  echo "pgo-build: the optimized binary's run differs: digest '$b', instrumented '$a'" >&2
  exit 1
fi
step "done: $built (sweep --seeds 0..40 gives digest $b, as the instrumented build does)"
