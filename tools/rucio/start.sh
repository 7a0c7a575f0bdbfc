#!/usr/bin/env bash
# Starts the real Rucio server set up by setup.sh, on loopback only.
#
#   tools/rucio/start.sh [DIR] [PORT]     DIR defaults to <repo>/target/rucio, PORT to 0 (ephemeral)
#
# Writes DIR/run/url (http://127.0.0.1:PORT), DIR/run/server.pid (gunicorn master) and
# DIR/etc/client.cfg (for rucio-clients, userpass as account root (generic policy: only root may declare bad replicas, add bad PFNs and delete replicas)), then exits 0 once
# GET /ping answers 200; exits 1 with the server log if it does not within 60 s.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="$(cd "${1:-$repo/target/rucio}" && pwd)"
port="${2:-0}"
cfg="$dir/etc/rucio.cfg"
[[ -f "$cfg" ]] || { echo "start.sh: no $cfg; run tools/rucio/setup.sh first" >&2; exit 2; }
if [[ -f "$dir/run/server.pid" ]] && kill -0 "$(cat "$dir/run/server.pid")" 2>/dev/null; then
  echo "start.sh: already running (pid $(cat "$dir/run/server.pid")): $(cat "$dir/run/url")" >&2
  exit 2
fi
mkdir -p "$dir/run" "$dir/log"
rm -f "$dir/run/url" "$dir/run/server.pid"
: > "$dir/log/gunicorn.log"

# One sync worker: SQLite takes one writer, and a single worker answers requests in order.
RUCIO_CONFIG="$cfg" "$dir/venv-server/bin/gunicorn" \
  --bind "127.0.0.1:$port" --workers 1 --timeout 120 \
  --pid "$dir/run/server.pid" --daemon \
  --error-logfile "$dir/log/gunicorn.log" --access-logfile "$dir/log/access.log" \
  --env "RUCIO_CONFIG=$cfg" \
  rucio.web.rest.flaskapi.v1.main:application

# gunicorn logs the address it bound ("Listening at: http://127.0.0.1:NNNNN"), which is the
# only race-free way to learn an ephemeral port; then /ping must answer.
"$dir/venv-server/bin/python" - "$dir" <<'PY'
import re, sys, time, urllib.request
d = sys.argv[1]
deadline = time.monotonic() + 60
url = None
while time.monotonic() < deadline:
    if url is None:
        m = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", open(d + "/log/gunicorn.log").read())
        if m:
            url = m.group(1)
    if url is not None:
        try:
            with urllib.request.urlopen(url + "/ping", timeout=5) as r:
                if r.status == 200:
                    open(d + "/run/url", "w").write(url + "\n")
                    print(url)
                    sys.exit(0)
        except OSError:
            pass
    time.sleep(0.2)
sys.stderr.write("start.sh: server did not answer /ping within 60 s\n" + open(d + "/log/gunicorn.log").read())
sys.exit(1)
PY
url="$(cat "$dir/run/url")"
cat > "$dir/etc/client.cfg" <<CFG
[common]
logdir = $dir/log
loglevel = WARNING

[client]
rucio_host = $url
auth_host = $url
auth_type = userpass
username = root
password = secret
account = root
ca_cert = /etc/ssl/certs/ca-certificates.crt
request_retries = 1
CFG
echo "start.sh: pid $(cat "$dir/run/server.pid") at $url"
