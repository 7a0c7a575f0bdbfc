"""Shows Rucio's own Python client authenticating (userpass) and calling the replica API.

Runs in DIR/venv-client with RUCIO_CONFIG=DIR/etc/client.cfg (written by start.sh):

    RUCIO_CONFIG=target/rucio/etc/client.cfg target/rucio/venv-client/bin/python \
        tools/rucio/client_smoke.py

It adds one file replica on EAST, lists it, maps its PFN back to the DID, declares it BAD
and tries to delete it (denied: see below), checking what the client returns at every step; exits 1 on the first
mismatch. The file name carries the process id so reruns against one server do not collide;
`--name NAME` fixes it, and `--out FILE` writes every step's result as JSON, so that two
runs (the reference and the real server, conformance/tests/rucio_real.rs) can be compared
step by step.
"""

import argparse
import json
import os
import sys

from rucio.client import Client
from rucio.common.exception import AccessDenied


STEPS = []


def stable(value):
    """The value with what differs between two servers by design (RSE ids are random
    uuids per setup) replaced by a marker, so two runs compare equal."""
    if isinstance(value, dict):
        return {k: ("<rse_id>" if k == "rse_id" else stable(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def check(what: str, ok: bool, got) -> None:
    """Prints and records one step; stops the run at the first step whose result is wrong."""
    line = json.dumps(got, sort_keys=True, default=str)
    print("%-28s %s  %s" % (what, "ok  " if ok else "FAIL", line))
    STEPS.append({"step": what, "ok": ok, "result": stable(json.loads(line))})
    if not ok:
        sys.exit(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", help="the file name to use (default: smoke-<pid>)")
    parser.add_argument("--out", help="write the steps and their results here as JSON")
    args = parser.parse_args()
    try:
        return steps(args.name or "smoke-%d" % os.getpid())
    finally:
        if args.out:
            with open(args.out, "w") as out:
                json.dump(STEPS, out, indent=1, sort_keys=True)


def steps(name: str) -> int:
    client = Client()
    who = client.whoami()
    check("whoami (userpass token)", who.get("account") == "root", {"account": who.get("account")})

    pfn = "https://east.replisim.test:443/rucio/test/" + name
    added = client.add_replicas(rse="EAST", files=[{"scope": "test", "name": name, "bytes": 3, "adler32": "024d0127"}])
    check("add_replicas", added is True, added)

    listed = list(client.list_replicas([{"scope": "test", "name": name}], schemes=["https"]))
    check("list_replicas", len(listed) == 1 and listed[0]["rses"] == {"EAST": [pfn]}, listed)

    updated = client.update_replicas_states("EAST", files=[{"scope": "test", "name": name, "state": "U"}])
    check("update_replicas_states U", updated is True, updated)
    listed = list(client.list_replicas([{"scope": "test", "name": name}], all_states=True))
    check("list all_states", listed[0]["states"] == {"EAST": "UNAVAILABLE"}, listed[0]["states"])
    client.update_replicas_states("EAST", files=[{"scope": "test", "name": name, "state": "A"}])

    # The 41.5.1 server parses these PFNs with the RSE's "srm" protocol (bootstrap.py).
    dids = list(client.get_did_from_pfns([pfn], rse="EAST"))
    check("get_did_from_pfns", dids == [{pfn: {"scope": "test", "name": name}}], dids)

    bad = client.declare_bad_file_replicas([pfn], reason="smoke")
    check("declare_bad_file_replicas", bad == {}, bad)
    listed = list(client.list_replicas([{"scope": "test", "name": name}], all_states=True))
    check("state after declare bad", listed[0]["states"] == {"EAST": "BAD"}, listed[0]["states"])

    # The generic permission policy of 41.5.1 lets no account (root included) delete
    # replicas over REST (perm_delete_replicas is False): the reaper deletes them.
    try:
        client.delete_replicas("EAST", files=[{"scope": "test", "name": name}])
        check("delete_replicas denied", False, "no exception")
    except AccessDenied as err:
        check("delete_replicas denied", True, type(err).__name__)
    listed = list(client.list_replicas([{"scope": "test", "name": name}], all_states=True))
    check("still listed after denial", listed[0]["rses"] != {}, listed[0]["states"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
