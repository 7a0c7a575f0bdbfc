"""Records what the real Rucio server answers on the replicas API, as calibration data.

    tools/rucio/setup.sh && tools/rucio/start.sh
    python3 tools/rucio/calibrate.py --url "$(cat target/rucio/run/url)" --out tools/rucio/calibration.json
    python3 tools/rucio/calibrate.py --url ... --compare tools/rucio/calibration.json

Drives a freshly bootstrapped server (tools/rucio/bootstrap.py: accounts root/harness/nobody,
scope test, RSEs EAST WEST DOWN NODELETE VOLATILE NONDET) through a fixed sequence of
requests, in success and error cases, for every replicas endpoint of issue 14 and
/auth/userpass. Each exchange is recorded with its status, Content-Type, ExceptionClass and
ExceptionMessage headers, and the body (parsed as JSON, a JSON stream, or text) with volatile
values replaced: auth tokens -> <token>, RSE ids -> <rse_id:NAME>, other 32-hex ids -> <id>,
dates -> <date>. The sequence is stateful and uses fixed names, so it needs a fresh database
(setup.sh rebuilds it); --compare exits 1 if the answers differ from a recorded file.

Only the standard library is used so any Python 3.9+ runs it, without the server's virtualenv.
"""

import argparse
import datetime
import http.client
import json
import re
import sys
import urllib.parse

ROOT = ("root", "root", "secret")
HARNESS = ("harness", "harness", "harness-secret")
NOBODY = ("nobody", "nobody", "nobody-secret")

STREAM = "application/x-json-stream"
METALINK = "application/metalink4+xml"


def pfn(rse: str, name: str, scope: str = "test", scheme: str = "https") -> str:
    """The PFN bootstrap.py's protocols give a file on an RSE."""
    host = rse.lower() + ".replisim.test"
    if scheme == "root":
        return "root://%s:1094//rucio/%s/%s" % (host, scope, name)
    return "%s://%s:443/rucio/%s/%s" % (scheme, host, scope, name)


class Server:
    """A loopback HTTP connection per request; keeps the tokens and the normalizer."""

    def __init__(self, url: str):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "http" or not parsed.hostname or not parsed.port:
            raise SystemExit("calibrate.py: --url must be http://HOST:PORT, got %r" % url)
        self.host, self.port = parsed.hostname, parsed.port
        self.tokens = {}
        self.secrets = []
        self.rse_ids = {}

    def raw(self, method, path, headers=None, body=None):
        """Sends one request; returns (status, headers dict, body bytes)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            hdrs = {}
            for k, v in resp.getheaders():
                hdrs.setdefault(k.lower(), v)
            return resp.status, hdrs, data
        finally:
            conn.close()

    def login(self, who):
        """Fetches a userpass token for (account, username, password)."""
        account, user, password = who
        status, hdrs, _ = self.raw("GET", "/auth/userpass", {
            "X-Rucio-Account": account, "X-Rucio-Username": user, "X-Rucio-Password": password})
        token = hdrs.get("x-rucio-auth-token")
        if status != 200 or not token:
            raise SystemExit("calibrate.py: cannot log in as %s (status %d)" % (account, status))
        self.tokens[account] = token
        self.secrets.append(token)
        return token

    def learn_rse_ids(self):
        """Maps RSE ids to names so bodies show <rse_id:EAST> instead of a random id."""
        status, _, data = self.raw("GET", "/rses/", {"X-Rucio-Auth-Token": self.tokens["root"]})
        if status != 200:
            raise SystemExit("calibrate.py: GET /rses/ answered %d" % status)
        for line in data.decode().splitlines():
            if line.strip():
                item = json.loads(line)
                self.rse_ids[item["id"]] = item["rse"]

    def normalize(self, text: str) -> str:
        """Replaces tokens, ids and dates, which differ from run to run."""
        for secret in self.secrets:
            text = text.replace(secret, "<token>")
        text = re.sub(r"[A-Za-z0-9_.]+-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+-[0-9a-f]{32}", "<token>", text)
        for rse_id, name in self.rse_ids.items():
            text = text.replace(rse_id, "<rse_id:%s>" % name)
        text = re.sub(r"\b[0-9a-f]{32}\b", "<id>", text)
        text = re.sub(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d (GMT|UTC)", "<date>", text)
        text = re.sub(r"duration of \d+ days", "duration of <n> days", text)
        text = re.sub(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?", "<date>", text)
        return text


def body_record(server, ctype, data):
    """Classifies and normalizes a response body: empty, json, json-stream, xml or text."""
    if not data:
        return {"kind": "empty"}
    text = server.normalize(data.decode("utf-8", "replace"))
    if not (ctype or "").startswith(STREAM):
        try:
            return {"kind": "json", "value": json.loads(text)}
        except ValueError:
            pass
    lines = [ln for ln in text.split("\n") if ln.strip()]
    try:
        if not (ctype or "").startswith(STREAM):
            raise ValueError("not a stream")
        items = [json.loads(ln) for ln in lines]
        return {"kind": "json-stream", "lines": len(items), "value": items,
                "ends_with_newline": text.endswith("\n")}
    except ValueError:
        pass
    kind = "xml" if text.lstrip().startswith("<?xml") else "text"
    return {"kind": kind, "value": text[:2000]}


def shape(value):
    """The JSON type skeleton of a value: what a body-shape comparison compares."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if value is None:
        return "null"
    return type(value).__name__


def run(server):
    """Runs the fixed sequence; returns the list of recorded cases."""
    cases = []

    def call(case_id, rules, method, path, body=None, auth="root", accept=None, raw_body=None,
             extra_headers=None):
        headers = {}
        if auth is not None:
            headers["X-Rucio-Auth-Token"] = server.tokens.get(auth, auth)
        if accept is not None:
            headers["Accept"] = accept
        if extra_headers:
            headers.update(extra_headers)
        payload = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        status, hdrs, data = server.raw(method, path, headers, payload)
        rec_body = body_record(server, hdrs.get("content-type"), data)
        shown_headers = {k: v for k, v in headers.items() if k != "X-Rucio-Auth-Token"}
        if auth is not None:
            shown_headers["X-Rucio-Auth-Token"] = "<token of %s>" % auth if auth in server.tokens else auth
        msg = hdrs.get("exceptionmessage")
        case = {
            "id": case_id,
            "rules": rules,
            "request": {"method": method, "path": path, "headers": shown_headers,
                        "body": json.loads(server.normalize(json.dumps(body))) if raw_body is None else raw_body},
            "response": {
                "status": status,
                "content_type": hdrs.get("content-type"),
                "exception_class": hdrs.get("exceptionclass"),
                "exception_message": server.normalize(msg) if msg is not None else None,
                "exception_message_len": len(msg) if msg is not None else None,
                "body": rec_body,
            },
        }
        if rec_body["kind"] in ("json", "json-stream"):
            case["response"]["shape"] = shape(rec_body["value"])
        cases.append(case)
        return case

    up = {"X-Rucio-Account": "root", "X-Rucio-Username": "root", "X-Rucio-Password": "secret"}
    # --- /auth/userpass
    ok = call("auth.ok", ["RUC-2"], "GET", "/auth/userpass", auth=None, extra_headers=up)
    ok["response"]["auth_headers"] = sorted(
        k for k in server.raw("GET", "/auth/userpass", up)[1] if k.startswith("x-rucio-auth"))
    call("auth.wrong_password", ["RUC-2"], "GET", "/auth/userpass", auth=None,
         extra_headers=dict(up, **{"X-Rucio-Password": "wrong"}))
    call("auth.no_credentials", ["RUC-2"], "GET", "/auth/userpass", auth=None)
    call("auth.unknown_account", ["RUC-2"], "GET", "/auth/userpass", auth=None,
         extra_headers=dict(up, **{"X-Rucio-Account": "ghost"}))
    call("auth.missing_token", ["RUC-2"], "GET", "/replicas/test/f1", auth=None)
    call("auth.bad_token", ["RUC-2"], "GET", "/replicas/test/f1", auth="root-root-unknown-" + "0" * 32)

    f = lambda name, **kw: dict({"scope": "test", "name": name, "bytes": 10, "adler32": "0cc737eb"}, **kw)
    # --- POST /replicas
    call("add.ok", ["RUC-1", "RUC-5", "RUC-7"], "POST", "/replicas", {"rse": "EAST", "files": [f("f1"), f("f2"), f("f3")]})
    call("add.west", ["RUC-1"], "POST", "/replicas", {"rse": "WEST", "files": [f("f1"), f("f2")]})
    call("add.again_same", ["RUC-6"], "POST", "/replicas", {"rse": "EAST", "files": [f("f1")]})
    call("add.again_other_bytes", ["RUC-6"], "POST", "/replicas", {"rse": "EAST", "files": [f("f1", bytes=11)]})
    call("add.unknown_rse", ["RUC-5"], "POST", "/replicas", {"rse": "NOSUCH", "files": [f("f9")]})
    call("add.unknown_scope", ["RUC-5"], "POST", "/replicas", {"rse": "EAST", "files": [dict(f("f9"), scope="nosuch")]})
    call("add.bad_json", [], "POST", "/replicas", raw_body="{not json")
    call("add.missing_rse", [], "POST", "/replicas", {"files": [f("f9")]})
    call("add.missing_files", [], "POST", "/replicas", {"rse": "EAST"})
    call("add.wrong_pfn", ["RUC-4"], "POST", "/replicas", {"rse": "EAST", "files": [f("f4", pfn=pfn("EAST", "elsewhere"))]})
    call("add.right_pfn", ["RUC-4"], "POST", "/replicas", {"rse": "EAST", "files": [f("f4", pfn=pfn("EAST", "f4"))]})
    call("add.nondet_no_pfn", ["RUC-4"], "POST", "/replicas", {"rse": "NONDET", "files": [f("f5")]})
    call("add.nondet_pfn", ["RUC-4"], "POST", "/replicas", {"rse": "NONDET", "files": [f("f5", pfn="https://nondet.replisim.test:443/rucio/any/where/f5")]})
    call("add.volatile", ["RUC-3"], "POST", "/replicas", {"rse": "VOLATILE", "files": [f("f6")]})
    call("add.write_unavailable", ["RUC-3"], "POST", "/replicas", {"rse": "DOWN", "files": [f("f6")]})
    call("add.write_unavailable_ignored", ["RUC-3"], "POST", "/replicas", {"rse": "DOWN", "files": [f("f6")], "ignore_availability": True})
    call("add.state_copying", ["RUC-7"], "POST", "/replicas", {"rse": "EAST", "files": [f("c1", state="C")]})
    call("add.state_bad_letter", ["RUC-7"], "POST", "/replicas", {"rse": "EAST", "files": [f("c2", state="X")]})
    call("add.nobody", ["RUC-16"], "POST", "/replicas", {"rse": "EAST", "files": [f("n1")]}, auth="nobody")
    call("add.harness_admin", [], "POST", "/replicas", {"rse": "WEST", "files": [f("h1")]}, auth="harness")
    call("add.long_rse_name", ["RUC-2"], "POST", "/replicas", {"rse": "R" * 200, "files": [f("f9")]})
    call("add.accept_html", ["RUC-12"], "POST", "/replicas", {"rse": "EAST", "files": [f("f7")]}, accept="text/html")

    # --- GET /replicas/<scope>/<name>
    call("get.ok_default_accept", ["RUC-8", "RUC-11", "RUC-12"], "GET", "/replicas/test/f3")
    call("get.ok_stream_accept", ["RUC-12"], "GET", "/replicas/test/f3", accept=STREAM)
    call("get.any_accept", ["RUC-12"], "GET", "/replicas/test/f3", accept="*/*")
    call("get.metalink", ["RUC-12"], "GET", "/replicas/test/f3", accept=METALINK)
    call("get.accept_html", ["RUC-12"], "GET", "/replicas/test/f3", accept="text/html")
    call("get.schemes_root", ["RUC-11"], "GET", "/replicas/test/f3?schemes=root")
    call("get.schemes_https", ["RUC-11"], "GET", "/replicas/test/f3?schemes=https")
    call("get.unknown_did", ["RUC-22"], "GET", "/replicas/test/nosuch")
    call("get.unknown_scope", ["RUC-22"], "GET", "/replicas/nosuch/f1")
    call("get.copying_hidden", ["RUC-8"], "GET", "/replicas/test/c1")
    call("get.nondet", ["RUC-4"], "GET", "/replicas/test/f5")

    # --- POST /replicas/list
    dids = lambda *names: [{"scope": "test", "name": n} for n in names]
    call("list.ok", ["RUC-8", "RUC-11"], "POST", "/replicas/list", {"dids": dids("f1", "f2")})
    call("list.all_states", ["RUC-8"], "POST", "/replicas/list", {"dids": dids("f1", "c1"), "all_states": True})
    call("list.unavailable_flag", ["RUC-8"], "POST", "/replicas/list", {"dids": dids("c1"), "unavailable": True})
    call("list.unknown_did", ["RUC-22"], "POST", "/replicas/list", {"dids": dids("nosuch")})
    call("list.one_known_one_unknown", ["RUC-22", "RUC-23"], "POST", "/replicas/list", {"dids": dids("f1", "nosuch")})
    call("list.empty_dids", ["RUC-23"], "POST", "/replicas/list", {"dids": []})
    call("list.missing_dids", [], "POST", "/replicas/list", {})
    call("list.bad_json", [], "POST", "/replicas/list", raw_body="[")
    call("list.accept_html", ["RUC-12"], "POST", "/replicas/list", {"dids": dids("f1")}, accept="text/html")
    call("list.metalink", ["RUC-12"], "POST", "/replicas/list", {"dids": dids("f1")}, accept=METALINK)
    call("list.schemes_https", ["RUC-11"], "POST", "/replicas/list", {"dids": dids("f1"), "schemes": ["https"]})
    call("list.rse_expression", [], "POST", "/replicas/list", {"dids": dids("f1"), "rse_expression": "WEST"})
    call("list.ignore_availability_false", ["RUC-10"], "POST", "/replicas/list", {"dids": dids("f1"), "ignore_availability": False})
    call("list.client_location_lan", ["RUC-11"], "POST", "/replicas/list", {"dids": dids("f1"), "client_location": {"site": "EAST"}})
    call("list.nobody", [], "POST", "/replicas/list", {"dids": dids("f1")}, auth="nobody")

    # RUC-10: a read-unavailable RSE, and RUC-9: a FILE DID without any replica.
    call("list.noread_add", ["RUC-10"], "POST", "/replicas", {"rse": "NOREAD", "files": [f("r1")]})
    call("list.noread_add_east", ["RUC-10"], "POST", "/replicas", {"rse": "EAST", "files": [f("r2")]})
    call("list.noread_default", ["RUC-10"], "POST", "/replicas/list", {"dids": dids("r1", "r2")})
    call("list.noread_ignore_false", ["RUC-10"], "POST", "/replicas/list", {"dids": dids("r1", "r2"), "ignore_availability": False})
    call("list.noread_ignore_true", ["RUC-10"], "POST", "/replicas/list", {"dids": dids("r1", "r2"), "ignore_availability": True})
    call("list.noread_get", ["RUC-10"], "GET", "/replicas/test/r1")
    call("list.file_did_add", ["RUC-9"], "POST", "/dids/test/nofile", {"type": "FILE"})
    call("list.file_did_no_replica", ["RUC-9"], "POST", "/replicas/list", {"dids": dids("nofile")})
    call("list.file_did_no_replica_get", ["RUC-9"], "GET", "/replicas/test/nofile")

    # --- PUT /replicas (state changes)
    put = lambda case_id, rules, rse, name, state, auth="root": call(
        case_id, rules, "PUT", "/replicas", {"rse": rse, "files": [{"scope": "test", "name": name, "state": state}]}, auth=auth)
    put("put.A_to_U", ["RUC-1", "RUC-14"], "EAST", "f3", "U")
    call("put.U_listed", ["RUC-8"], "POST", "/replicas/list", {"dids": dids("f3"), "all_states": True})
    put("put.U_to_A", ["RUC-14"], "EAST", "f3", "A")
    put("put.A_to_T", ["RUC-13"], "EAST", "f3", "T")
    put("put.T_to_T", ["RUC-13"], "EAST", "f3", "T")
    put("put.T_to_A", ["RUC-13"], "EAST", "f3", "A")
    put("put.C_to_T", ["RUC-13"], "EAST", "c1", "T")
    call("put.C_to_T_listed", ["RUC-13"], "POST", "/replicas/list", {"dids": dids("c1"), "all_states": True})
    put("put.C_to_A", ["RUC-13"], "EAST", "c1", "A")
    put("put.A_to_D", ["RUC-13"], "EAST", "f4", "D")
    put("put.D_to_A", ["RUC-14"], "EAST", "f4", "A")
    put("put.A_to_B", ["RUC-13"], "EAST", "f4", "B")
    put("put.B_to_A", ["RUC-13"], "EAST", "f4", "A")
    put("put.full_name", ["RUC-13"], "EAST", "f4", "AVAILABLE")
    put("put.unknown_state", ["RUC-13"], "EAST", "f4", "Z")
    put("put.unknown_replica", ["RUC-13"], "EAST", "nosuch", "A")
    put("put.unknown_rse", ["RUC-13"], "NOSUCH", "f1", "A")
    put("put.nobody", ["RUC-16"], "EAST", "f1", "U", auth="nobody")
    put("put.harness_admin", [], "WEST", "h1", "U", auth="harness")
    call("put.accept_html", ["RUC-12"], "PUT", "/replicas", {"rse": "EAST", "files": [{"scope": "test", "name": "f1", "state": "A"}]}, accept="text/html")
    call("put.bad_json", [], "PUT", "/replicas", raw_body="{")
    call("put.missing_state", ["RUC-13"], "PUT", "/replicas", {"rse": "EAST", "files": [{"scope": "test", "name": "f1"}]})

    # --- DELETE /replicas
    delete = lambda case_id, rules, body, auth="root", raw_body=None: call(
        case_id, rules, "DELETE", "/replicas", body, auth=auth, raw_body=raw_body)
    delete("delete.root", ["RUC-1", "RUC-15"], {"rse": "WEST", "files": [{"scope": "test", "name": "f2"}]})
    delete("delete.harness_admin", ["RUC-15"], {"rse": "WEST", "files": [{"scope": "test", "name": "f2"}]}, auth="harness")
    delete("delete.nobody", ["RUC-16"], {"rse": "WEST", "files": [{"scope": "test", "name": "f2"}]}, auth="nobody")
    delete("delete.unknown_replica", ["RUC-15"], {"rse": "WEST", "files": [{"scope": "test", "name": "nosuch"}]})
    delete("delete.unknown_rse", ["RUC-15"], {"rse": "NOSUCH", "files": [{"scope": "test", "name": "f2"}]})
    delete("delete.delete_unavailable", ["RUC-15"], {"rse": "NODELETE", "files": [{"scope": "test", "name": "f2"}]})
    delete("delete.bad_json", [], None, raw_body="{")
    call("delete.still_listed", ["RUC-16"], "POST", "/replicas/list", {"dids": dids("f2")})

    # --- POST /replicas/dids
    call("dids.ok", [], "POST", "/replicas/dids", {"pfns": [pfn("EAST", "f1")], "rse": "EAST"})
    call("dids.two", [], "POST", "/replicas/dids", {"pfns": [pfn("EAST", "f1"), pfn("EAST", "f2")], "rse": "EAST"})
    call("dids.srm_pfn", [], "POST", "/replicas/dids", {"pfns": [pfn("EAST", "f1", scheme="srm")], "rse": "EAST"})
    call("dids.root_pfn", [], "POST", "/replicas/dids", {"pfns": [pfn("EAST", "f1", scheme="root")], "rse": "EAST"})
    call("dids.no_replica", [], "POST", "/replicas/dids", {"pfns": [pfn("EAST", "never-added")], "rse": "EAST"})
    call("dids.wrong_host", [], "POST", "/replicas/dids", {"pfns": [pfn("WEST", "f1")], "rse": "EAST"})
    call("dids.without_rse", [], "POST", "/replicas/dids", {"pfns": [pfn("EAST", "f1")]})
    call("dids.unknown_rse", [], "POST", "/replicas/dids", {"pfns": [pfn("EAST", "f1")], "rse": "NOSUCH"})
    call("dids.nondet", [], "POST", "/replicas/dids", {"pfns": ["https://nondet.replisim.test:443/rucio/any/where/f5"], "rse": "NONDET"})
    call("dids.accept_html", ["RUC-12"], "POST", "/replicas/dids", {"pfns": [pfn("EAST", "f1")], "rse": "EAST"}, accept="text/html")
    call("dids.bad_json", [], "POST", "/replicas/dids", raw_body="{")
    call("dids.nobody", [], "POST", "/replicas/dids", {"pfns": [pfn("EAST", "f1")], "rse": "EAST"}, auth="nobody")

    # --- POST /replicas/bad
    call("bad.ok", ["RUC-17"], "POST", "/replicas/bad", {"replicas": [pfn("EAST", "f2")], "reason": "calibration"})
    call("bad.state_after", ["RUC-17"], "POST", "/replicas/list", {"dids": dids("f2"), "all_states": True})
    call("bad.again", ["RUC-17"], "POST", "/replicas/bad", {"replicas": [pfn("EAST", "f2")], "reason": "calibration"})
    call("bad.again_force", ["RUC-17"], "POST", "/replicas/bad", {"replicas": [pfn("EAST", "f2")], "reason": "calibration", "force": True})
    call("bad.unknown_replica_known_host", ["RUC-17"], "POST", "/replicas/bad", {"replicas": [pfn("EAST", "never-added")], "reason": "calibration"})
    call("bad.unknown_host", ["RUC-17"], "POST", "/replicas/bad", {"replicas": ["https://nowhere.test:443/rucio/test/f1"], "reason": "calibration"})
    call("bad.dicts", ["RUC-17"], "POST", "/replicas/bad", {"replicas": [{"scope": "test", "name": "f1", "rse": "WEST"}], "reason": "calibration"})
    call("bad.dicts_state_after", ["RUC-17"], "POST", "/replicas/list", {"dids": dids("f1"), "all_states": True})
    call("bad.mixed", ["RUC-17"], "POST", "/replicas/bad", {"replicas": [pfn("EAST", "f3"), {"scope": "test", "name": "f3", "rse": "EAST"}], "reason": "calibration"})
    call("bad.legacy_pfns_key", ["RUC-17"], "POST", "/replicas/bad", {"pfns": [pfn("EAST", "f3")], "reason": "calibration"})
    call("bad.nobody", ["RUC-17"], "POST", "/replicas/bad", {"replicas": [pfn("EAST", "f1")], "reason": "calibration"}, auth="nobody")
    call("bad.accept_html", ["RUC-12"], "POST", "/replicas/bad", {"replicas": [pfn("EAST", "f2")], "reason": "calibration"}, accept="text/html")
    call("bad.bad_json", [], "POST", "/replicas/bad", raw_body="{")
    call("bad.set_available", ["RUC-14"], "PUT", "/replicas", {"rse": "EAST", "files": [{"scope": "test", "name": "f2", "state": "A"}]})

    # --- POST /replicas/bad/pfns (the server caps TEMPORARY_UNAVAILABLE at 30 days from now)
    now = datetime.datetime.now(datetime.timezone.utc)
    soon = (now + datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    bp = lambda case_id, rules, body, auth="root": call(case_id, rules, "POST", "/replicas/bad/pfns", body, auth=auth)
    bp("badpfns.tu_ok", ["RUC-19"], {"pfns": [pfn("EAST", "f4")], "state": "TEMPORARY_UNAVAILABLE", "reason": "calibration", "expires_at": soon})
    call("badpfns.tu_state_after", ["RUC-19"], "POST", "/replicas/list", {"dids": dids("f4"), "all_states": True})
    bp("badpfns.tu_again", ["RUC-19"], {"pfns": [pfn("EAST", "f4")], "state": "TEMPORARY_UNAVAILABLE", "reason": "calibration", "expires_at": soon})
    bp("badpfns.tu_too_long", ["RUC-19"], {"pfns": [pfn("EAST", "f3")], "state": "TEMPORARY_UNAVAILABLE", "reason": "calibration", "expires_at": "2099-01-01T00:00:00.000000"})
    bp("badpfns.tu_no_expiry", ["RUC-19"], {"pfns": [pfn("EAST", "f3")], "state": "TEMPORARY_UNAVAILABLE", "reason": "calibration"})
    bp("badpfns.tu_short_expiry", ["RUC-19"], {"pfns": [pfn("EAST", "f3")], "state": "TEMPORARY_UNAVAILABLE", "reason": "calibration", "expires_at": "2000-01-01T00:00:00.000000"})
    bp("badpfns.bad_with_expiry", ["RUC-19"], {"pfns": [pfn("EAST", "f3")], "state": "BAD", "reason": "calibration", "expires_at": soon})
    bp("badpfns.bad_ok", ["RUC-19"], {"pfns": [pfn("WEST", "f1")], "state": "BAD", "reason": "calibration"})
    bp("badpfns.suspicious", ["RUC-18"], {"pfns": [pfn("EAST", "f1")], "state": "SUSPICIOUS", "reason": "calibration"})
    call("badpfns.suspicious_state_after", ["RUC-18"], "POST", "/replicas/list", {"dids": dids("f1"), "all_states": True})
    bp("badpfns.unknown_state", ["RUC-19"], {"pfns": [pfn("EAST", "f3")], "state": "NOPE", "reason": "calibration"})
    bp("badpfns.bad_date", ["RUC-19"], {"pfns": [pfn("EAST", "f3")], "state": "TEMPORARY_UNAVAILABLE", "reason": "calibration", "expires_at": "tomorrow"})
    bp("badpfns.unknown_pfn", ["RUC-19"], {"pfns": ["https://nowhere.test:443/rucio/test/zz"], "state": "BAD", "reason": "calibration"})
    bp("badpfns.nobody", ["RUC-19"], {"pfns": [pfn("EAST", "f3")], "state": "BAD", "reason": "calibration"}, auth="nobody")
    call("badpfns.bad_json", [], "POST", "/replicas/bad/pfns", raw_body="{")

    # --- POST /replicas/tombstone
    tomb = lambda case_id, rules, reps, auth="root": call(case_id, rules, "POST", "/replicas/tombstone", {"replicas": reps}, auth=auth)
    tomb("tombstone.ok", ["RUC-21", "RUC-24"], [{"rse": "EAST", "scope": "test", "name": "f3"}])
    call("tombstone.state_after", ["RUC-24"], "POST", "/replicas/list", {"dids": dids("f3"), "all_states": True})
    tomb("tombstone.again", ["RUC-21"], [{"rse": "EAST", "scope": "test", "name": "f3"}])
    tomb("tombstone.unknown_replica", ["RUC-21"], [{"rse": "EAST", "scope": "test", "name": "nosuch"}])
    tomb("tombstone.unknown_rse", ["RUC-21"], [{"rse": "NOSUCH", "scope": "test", "name": "f3"}])
    tomb("tombstone.nobody", ["RUC-21"], [{"rse": "EAST", "scope": "test", "name": "f1"}], auth="nobody")
    tomb("tombstone.harness_admin", ["RUC-21"], [{"rse": "WEST", "scope": "test", "name": "h1"}], auth="harness")
    call("tombstone.bad_json", [], "POST", "/replicas/tombstone", raw_body="{")
    # A locked replica: a replication rule on EAST holds a lock on test:f1.
    call("tombstone.account_limit", ["RUC-21"], "POST", "/accountlimits/local/root/EAST", {"bytes": 1000000})
    call("tombstone.rule_for_lock", ["RUC-21"], "POST", "/rules/", {
        "dids": dids("f1"), "account": "root", "copies": 1, "rse_expression": "EAST",
        "grouping": "NONE", "weight": None, "lifetime": None, "locked": False, "subscription_id": None})
    tomb("tombstone.locked", ["RUC-21"], [{"rse": "EAST", "scope": "test", "name": "f1"}])

    # --- a scope longer than the dids schema's SCOPE_LENGTH (25), or outside its pattern:
    # refused by the schema (500 InvalidObject) where the gateway validates files against it
    # (POST and PUT /replicas), an unknown scope everywhere else
    long_scope = "s" * 26
    long_file = dict(f("f9"), scope=long_scope)
    call("scope.add_26", ["RUC-5"], "POST", "/replicas", {"rse": "EAST", "files": [long_file]})
    call("scope.add_25", ["RUC-5"], "POST", "/replicas", {"rse": "EAST", "files": [dict(f("f9"), scope="s" * 25)]})
    call("scope.add_26_second", ["RUC-5"], "POST", "/replicas", {"rse": "EAST", "files": [f("f9"), long_file]})
    call("scope.add_pattern", ["RUC-5"], "POST", "/replicas", {"rse": "EAST", "files": [dict(f("f9"), scope="no-scope!")]})
    call("scope.add_26_unknown_rse", ["RUC-5"], "POST", "/replicas", {"rse": "NOSUCH", "files": [long_file]})
    call("scope.put_26", ["RUC-13"], "PUT", "/replicas", {"rse": "EAST", "files": [{"scope": long_scope, "name": "f1", "state": "A"}]})
    call("scope.get_26", ["RUC-22"], "GET", "/replicas/%s/f1" % long_scope)
    call("scope.list_26", ["RUC-22"], "POST", "/replicas/list", {"dids": [{"scope": long_scope, "name": "f1"}]})
    call("scope.tombstone_26", ["RUC-21"], "POST", "/replicas/tombstone", {"replicas": [{"rse": "EAST", "scope": long_scope, "name": "f1"}]})
    call("scope.delete_26", ["RUC-15"], "DELETE", "/replicas", {"rse": "EAST", "files": [{"scope": long_scope, "name": "f1"}]})
    call("scope.bad_26", ["RUC-17"], "POST", "/replicas/bad", {"replicas": [pfn("EAST", "f1", scope=long_scope)], "reason": "calibration"})
    call("scope.dids_26", ["RUC-25"], "POST", "/replicas/dids", {"pfns": [pfn("EAST", "f1", scope=long_scope)], "rse": "EAST"})

    # --- final state of every file, for the reference's end-to-end comparison
    call("final.states", [], "POST", "/replicas/list",
         {"dids": dids("f1", "f2", "f3", "f4", "f5", "f6", "c1", "h1"), "all_states": True})
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="server URL, e.g. the content of target/rucio/run/url")
    parser.add_argument("--out", help="write the recording here")
    parser.add_argument("--compare", help="exit 1 if the answers differ from this recording")
    args = parser.parse_args()

    server = Server(args.url.strip())
    status, _, data = server.raw("GET", "/ping")
    version = json.loads(data).get("version") if status == 200 else None
    for who in (ROOT, HARNESS, NOBODY):
        server.login(who)
    server.learn_rse_ids()
    record = {
        "about": "Answers of the real Rucio server to tools/rucio/calibrate.py's request sequence; "
                 "see docs/rucio.md. Volatile values normalized.",
        "server_version": version,
        "cases": run(server),
    }
    text = json.dumps(record, indent=1, sort_keys=True) + "\n"
    if args.out:
        with open(args.out, "w") as out:
            out.write(text)
        print("calibrate.py: %d cases written to %s" % (len(record["cases"]), args.out))
    if args.compare:
        with open(args.compare) as f:
            want = json.load(f)
        diffs = [c["id"] for c, w in zip(record["cases"], want["cases"]) if c != w]
        if len(record["cases"]) != len(want["cases"]):
            diffs.append("case count %d != %d" % (len(record["cases"]), len(want["cases"])))
        if diffs:
            print("calibrate.py: answers differ from %s in: %s" % (args.compare, ", ".join(diffs)))
            return 1
        print("calibrate.py: %d cases match %s" % (len(record["cases"]), args.compare))
    if not args.out and not args.compare:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
