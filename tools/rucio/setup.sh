#!/usr/bin/env bash
# Sets up Rucio's real server (the calibration authority for the rucio family) and its
# Python client, reproducibly, outside the source tree.
#
#   tools/rucio/setup.sh [DIR]        DIR defaults to <repo>/target/rucio
#
# Makes DIR/venv-server (rucio + gunicorn, exact pins in requirements-server.txt),
# DIR/venv-client (rucio-clients, requirements-client.txt), DIR/etc/rucio.cfg (SQLite),
# and a fresh DIR/data/rucio.db bootstrapped by bootstrap.py.
# Virtualenvs are reused when their requirements file is unchanged (a stamp file holds its
# hash); set RUCIO_FRESH=1 to rebuild them. The database is always rebuilt.
# Environment: PYTHON (default python3, must be 3.9..3.12), RUCIO_RSES (default "EAST WEST").
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="$(realpath -m "${1:-$repo/target/rucio}")"

# The server writes a database, logs and two virtualenvs: none of it belongs in the
# source tree (target/ is ignored by git, anything else inside the repo is refused).
case "$dir/" in
  "$repo/target/"*) ;;
  "$repo/"*) echo "setup.sh: refusing to write into the source tree: $dir" >&2; exit 2 ;;
esac
mkdir -p "$dir"

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(0 if (3, 9) <= sys.version_info[:2] <= (3, 12) else 1)'; then
  echo "setup.sh: $python is $("$python" -V 2>&1); rucio 41.x needs CPython 3.9..3.12" >&2
  exit 2
fi

# make_venv NAME REQUIREMENTS: (re)creates DIR/NAME unless its stamp matches the file.
make_venv() {
  local venv="$dir/$1" req="$here/$2" stamp want
  stamp="$dir/$1/.requirements.sha256"
  want="$("$python" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$req")"
  if [[ "${RUCIO_FRESH:-0}" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "setup.sh: $1 up to date"
    return
  fi
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # --no-compile: byte-compiling ~100 packages (botocore alone is large) is most of the
  # install time; the server compiles only the modules it imports, on first start.
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input --no-compile -r "$req"
  echo "$want" > "$stamp"
  echo "setup.sh: $1 installed from $2"
}

make_venv venv-server requirements-server.txt
make_venv venv-client requirements-client.txt

# A stopped server is a precondition of rebuilding its database.
if [[ -f "$dir/run/server.pid" ]] && kill -0 "$(cat "$dir/run/server.pid")" 2>/dev/null; then
  "$here/stop.sh" "$dir"
fi
rm -rf "$dir/data" "$dir/etc" "$dir/log" "$dir/run"
mkdir -p "$dir/data" "$dir/etc" "$dir/log" "$dir/run"

cat > "$dir/etc/rucio.cfg" <<EOF
[common]
logdir = $dir/log
loglevel = WARNING
# multi_vo is left out on purpose: bootstrap reads it with bool(str), so "False" means true.

[database]
default = sqlite:///$dir/data/rucio.db
echo = 0

[bootstrap]
userpass_identity = root
userpass_pwd = secret
userpass_email = root@replisim.test

[policy]
permission = generic
schema = generic
lfn2pfn_algorithm_default = identity
support = harness@replisim.test
support_rucio = https://github.com/rucio/rucio/issues/

[monitor]
enable_metrics = False

[alembic]
cfg = $dir/etc/alembic.ini
EOF

# build_database() stamps the schema with alembic, which needs its own ini (with logging sections).
site="$("$dir/venv-server/bin/python" -c 'import rucio, os; print(os.path.dirname(rucio.__file__))')"
cat > "$dir/etc/alembic.ini" <<EOF
[alembic]
script_location = $site/db/sqla/migrate_repo
sqlalchemy.url = sqlite:///$dir/data/rucio.db

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %%(levelname)s %%(name)s %%(message)s
EOF

RUCIO_CONFIG="$dir/etc/rucio.cfg" "$dir/venv-server/bin/python" "$here/bootstrap.py"
echo "setup.sh: ready in $dir (start with tools/rucio/start.sh $dir)"
