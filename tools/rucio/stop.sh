#!/usr/bin/env bash
# Stops the server started by start.sh (the gunicorn master in DIR/run/server.pid).
#   tools/rucio/stop.sh [DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$(realpath -m "${1:-$here/../../target/rucio}")"
pidfile="$dir/run/server.pid"
[[ -f "$pidfile" ]] || { echo "stop.sh: not running (no $pidfile)"; exit 0; }
pid="$(cat "$pidfile")"
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  # gunicorn removes its pid file once the master has shut its workers down.
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
fi
rm -f "$pidfile" "$dir/run/url"
echo "stop.sh: stopped $pid"
