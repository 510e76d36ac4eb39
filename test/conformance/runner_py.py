"""Conformance runner for the Python client (penguiflow_client).

conformance-runner: {"name": "python", "order": 2, "needs": ["python3"], "hint": "Install Python 3.11+ (Debian/Ubuntu: apt-get install -y python3 python3-venv; macOS: brew install python@3.11)", "setup": ["bash", "-c", "if ! .venv/bin/python -c 'import penguiflow_client' 2>/dev/null; then echo 'creating .venv with the Python client (python3 -m venv .venv; pip install -e clients/python)'; { test -x .venv/bin/python || python3 -m venv .venv; } && .venv/bin/python -m pip install --quiet --disable-pip-version-check -e clients/python; fi"], "command": [".venv/bin/python", "test/conformance/runner_py.py", "{target}"]}

    .venv/bin/python test/conformance/runner_py.py <host:port>

Reads test/conformance/cases.json (format: README.md next to this file),
runs every case against the server at <host:port> through the client's
public API (the synchronous FlowClient), prints one line per case and, last,
exactly ``python: <n> passed, <m> failed``. Exits 1 on any failure.

Environment: PENGUIFLOW_CONFORMANCE_AUTH (none | header | jwt; default
none), PENGUIFLOW_CONFORMANCE_JWT_SECRET (jwt mode),
PENGUIFLOW_CONFORMANCE_JWT_ISSUER / _AUDIENCE (optional claims),
PENGUIFLOW_CONFORMANCE_CASES (another case file), PENGUIFLOW_CONFORMANCE_ONLY
(comma-separated case names).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import Any

from penguiflow_client import (
    CallResult,
    Chunk,
    FlowClient,
    FlowClientError,
    FlowErrorData,
    FlowEventData,
    FlowInfo,
    Output,
    TraceEnd,
)

LANG = "python"
RUN_ID = secrets.token_hex(3)
RESERVED = {"$any", "$nonempty"}
VERBATIM_KEYS = {"payload", "meta", "binary"}
VAR_RE = re.compile(r"^\$[A-Za-z_][A-Za-z0-9_]*$")


class CaseError(Exception):
    """The case file is malformed (not a conformance failure of the client)."""


def tenant_name(logical: str) -> str:
    return f"{logical}.{LANG}.{RUN_ID}"


# ------------------------------------------------------------------ identity


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_jwt(secret: str, claims: dict[str, Any]) -> str:
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64url(sig)}"


class Settings:
    def __init__(self, target: str) -> None:
        self.target = target
        self.auth = os.environ.get("PENGUIFLOW_CONFORMANCE_AUTH") or "none"
        self.secret = os.environ.get("PENGUIFLOW_CONFORMANCE_JWT_SECRET") or ""
        self.issuer = os.environ.get("PENGUIFLOW_CONFORMANCE_JWT_ISSUER") or None
        self.audience = os.environ.get("PENGUIFLOW_CONFORMANCE_JWT_AUDIENCE") or None
        self.default_timeout_ms = 10_000


def token_for(settings: Settings, identity: dict[str, Any]) -> str | None:
    kind = identity.get("token", "valid")
    if kind == "missing":
        return None
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": f"conformance-{LANG}",
        "tenant": tenant_name(identity.get("tenant", "default")),
        "iat": now - 7200 if kind == "expired" else now,
        "exp": now - 3600 if kind == "expired" else now + 3600,
    }
    if settings.issuer:
        claims["iss"] = settings.issuer
    if settings.audience:
        claims["aud"] = settings.audience
    secret = f"wrong-{settings.secret}" if kind == "wrong" else settings.secret
    return mint_jwt(secret, claims)


_clients: dict[str, FlowClient] = {}


def new_client(settings: Settings, identity: dict[str, Any]) -> FlowClient:
    if "tenantHeader" in identity:
        return FlowClient(settings.target, tenant=identity["tenantHeader"])
    if settings.auth == "jwt":
        return FlowClient(settings.target, token=token_for(settings, identity))
    return FlowClient(settings.target, tenant=tenant_name(identity.get("tenant", "default")))


def client_for(settings: Settings, identity: dict[str, Any]) -> FlowClient:
    key = json.dumps([identity.get("tenant"), identity.get("token"), identity.get("tenantHeader")])
    client = _clients.get(key)
    if client is None:
        client = new_client(settings, identity)
        _clients[key] = client
    return client


def closed_client_for(settings: Settings, identity: dict[str, Any]) -> FlowClient:
    """A step with ``closedClient: true`` runs on a fresh client of its identity, closed before the call."""
    client = new_client(settings, identity)
    client.close()
    return client


# ------------------------------------------------------------------ variables


def subst(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if VAR_RE.match(value) and value not in RESERVED:
            name = value[1:]
            if name not in variables:
                raise CaseError(f"undefined variable {value}")
            return variables[name]
        return value
    if isinstance(value, list):
        return [subst(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: (v if k in VERBATIM_KEYS else subst(v, variables)) for k, v in value.items()}
    return value


_MISSING = object()


def path_get(value: Any, path: str) -> Any:
    cur = value
    for part in path.split("."):
        if isinstance(cur, list):
            try:
                cur = cur[int(part)]
            except (ValueError, IndexError):
                return _MISSING
        elif isinstance(cur, dict):
            if part not in cur:
                return _MISSING
            cur = cur[part]
        else:
            return _MISSING
    return cur


# ------------------------------------------------------------------ matching


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def json_equal(a: Any, b: Any) -> bool:
    """Exact JSON equality: key order irrelevant, numbers by value, bool is not a number."""
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if _is_num(a):
        return _is_num(b) and a == b
    if isinstance(a, bool):
        return isinstance(b, bool) and a == b
    if a is None:
        return b is None
    return isinstance(b, str) and a == b


def _show(v: Any) -> str:
    return "nothing" if v is _MISSING else json.dumps(v, ensure_ascii=False)


def match(pattern: Any, actual: Any, path: str) -> str | None:
    """None when ``actual`` matches ``pattern``, else a description of the first mismatch."""
    if pattern == "$any":
        return None
    if pattern == "$nonempty":
        return None if isinstance(actual, str) and actual else f"{path}: expected a non-empty string, got {_show(actual)}"
    if isinstance(pattern, dict) and len(pattern) == 1 and ("$contains" in pattern or "$prefix" in pattern):
        if not isinstance(actual, list):
            return f"{path}: expected an array, got {_show(actual)}"
        if "$contains" in pattern:
            for want in pattern["$contains"]:
                if not any(json_equal(want, a) for a in actual):
                    return f"{path}: {_show(want)} missing from {_show(actual)}"
            return None
        prefix = pattern["$prefix"]
        if len(actual) < len(prefix) or not all(json_equal(p, a) for p, a in zip(prefix, actual)):
            return f"{path}: expected to start with {_show(prefix)}, got {_show(actual)}"
        return None
    if isinstance(pattern, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {_show(actual)}"
        for k, p in pattern.items():
            a = actual.get(k, _MISSING)
            where = f"{path}.{k}"
            if k in ("payload", "meta"):
                if a is _MISSING or not json_equal(p, a):
                    return f"{where}: expected {_show(p)}, got {_show(a)}"
            elif k == "tenant" and isinstance(p, str) and not p.startswith("$"):
                if a != tenant_name(p):
                    return f"{where}: expected tenant {tenant_name(p)}, got {_show(a)}"
            else:
                m = match(p, a, where)
                if m is not None:
                    return m
        return None
    if isinstance(pattern, list):
        if not isinstance(actual, list) or len(actual) != len(pattern):
            return f"{path}: expected {_show(pattern)}, got {_show(actual)}"
        for i, (p, a) in enumerate(zip(pattern, actual)):
            m = match(p, a, f"{path}[{i}]")
            if m is not None:
                return m
        return None
    if actual is _MISSING or not json_equal(pattern, actual):
        return f"{path}: expected {_show(pattern)}, got {_show(actual)}"
    return None


# ------------------------------------------------------------------ observations


def error_obs(err: FlowClientError) -> dict[str, Any]:
    return {
        "error": err.code.name,
        "reason": err.reason or "",
        "fieldViolations": [v.field for v in err.field_violations],
        "message": err.message,
        "clientSide": err.client_side,
    }


def message_obs(m: Output) -> dict[str, Any]:
    return {
        "kind": "output",
        "traceId": m.trace_id,
        "payload": None if m.binary is not None else m.payload,
        "binary": base64.b64encode(m.binary).decode() if m.binary is not None else None,
        "meta": m.meta,
        "tenant": m.headers.tenant,
    }


def update_obs(u: Any) -> dict[str, Any]:
    if isinstance(u, Output):
        return message_obs(u)
    if isinstance(u, Chunk):
        return {"kind": "chunk", "streamId": u.stream_id, "seq": u.seq, "text": u.text, "done": u.done}
    if isinstance(u, FlowErrorData):
        return {"kind": "error", "traceId": u.trace_id, "code": str(u.code), "nodeName": u.node_name, "message": u.message}
    if isinstance(u, TraceEnd):
        return {"kind": "end", "status": str(u.status), "errorCode": str(u.error.code) if u.error is not None else None}
    raise TypeError(f"unexpected update {u!r}")


def update_trace_id(u: Any) -> str:
    return str(u.trace_id)


def stream_obs(updates: list[Any], cancelled: bool | None) -> dict[str, Any]:
    obs = [update_obs(u) for u in updates]
    chunks = [o for o in obs if o["kind"] == "chunk"]
    ends = [o for o in obs if o["kind"] == "end"]
    trace_ids = [update_trace_id(u) for u in updates]
    return {
        "traceId": trace_ids[0] if trace_ids else "",
        "traceIdsConsistent": all(t == trace_ids[0] and t != "" for t in trace_ids),
        "updates": obs,
        "kinds": [o["kind"] for o in obs],
        "chunkTexts": [c["text"] for c in chunks],
        "chunkSeqs": [c["seq"] for c in chunks],
        "chunkDone": [c["done"] for c in chunks],
        "outputs": [o["payload"] for o in obs if o["kind"] == "output"],
        "end": ends[0]["status"] if ends else None,
        "lastKind": obs[-1]["kind"] if obs else None,
        "cancelled": cancelled,
    }


def events_obs(events: list[FlowEventData]) -> dict[str, Any]:
    seqs = [e.seq for e in events]
    return {
        "events": [
            {
                "eventType": e.event_type,
                "seq": e.seq,
                "nodeName": e.node_name,
                "traceId": e.trace_id,
                "flow": e.flow,
                "tenant": e.tenant,
                "attempt": e.attempt,
            }
            for e in events
        ],
        "eventTypes": [e.event_type for e in events],
        "seqs": seqs,
        "lastSeq": seqs[-1] if seqs else None,
        "seqsContiguous": all(seqs[i] == seqs[i - 1] + 1 for i in range(1, len(seqs))),
    }


def flows_obs(flows: list[FlowInfo]) -> dict[str, Any]:
    names = [f.name for f in flows]
    return {
        "flowNames": names,
        "flowNamesSorted": names == sorted(names),
        "flows": {
            f.name: {
                "nodes": [n.name for n in f.nodes],
                "ingress": list(f.ingress),
                "egress": list(f.egress),
                "edges": [f"{e.source}->{e.target}" for e in f.edges],
            }
            for f in flows
        },
    }


# ------------------------------------------------------------------ steps


def send_kwargs(step: dict[str, Any], timeout: float) -> dict[str, Any]:
    kw: dict[str, Any] = {"timeout": timeout}
    if "binary" in step:
        kw["binary"] = base64.b64decode(step["binary"])
    if "traceId" in step:
        kw["trace_id"] = step["traceId"]
    if "idempotencyKey" in step:
        kw["idempotency_key"] = step["idempotencyKey"]
    if "headersTenant" in step:
        kw["message_tenant"] = tenant_name(step["headersTenant"])
    if "meta" in step:
        kw["meta"] = step["meta"]
    return kw


def body(step: dict[str, Any]) -> Any:
    return None if "binary" in step else step.get("payload")


def collect_stream(client: FlowClient, step: dict[str, Any], flow: str, known_trace_id: str | None, stream: Any) -> dict[str, Any]:
    updates: list[Any] = []
    cancelled: list[bool] = []
    after_updates = step.get("cancelAfterUpdates")
    after_ms = step.get("cancelAfterMs")
    timer: threading.Timer | None = None
    if after_ms is not None:
        if not known_trace_id:
            raise CaseError("cancelAfterMs needs a traceId on the step")
        trace_id = known_trace_id
        timer = threading.Timer(after_ms / 1000, lambda: cancelled.append(client.cancel(flow, trace_id, timeout=5)))
        timer.start()
    try:
        for u in stream:
            updates.append(u)
            if after_updates is not None and len(updates) == after_updates:
                cancelled.append(client.cancel(flow, update_trace_id(u), timeout=5))
    except FlowClientError as err:
        return error_obs(err)
    finally:
        if timer is not None:
            timer.cancel()
            timer.join()
    return stream_obs(updates, cancelled[0] if cancelled else None)


def run_step(settings: Settings, identity: dict[str, Any], step: dict[str, Any]) -> dict[str, Any] | None:
    timeout = step.get("timeoutMs", settings.default_timeout_ms) / 1000
    op = step["op"]
    if op == "sleep":
        time.sleep(step.get("ms", 0) / 1000)
        return None
    get_client = closed_client_for if step.get("closedClient") is True else client_for
    client = get_client(settings, identity)
    flow = step.get("flow", "")
    try:
        if op == "emit":
            r = client.emit(flow, body(step), **send_kwargs(step, timeout))
            return {"traceId": r.trace_id, "deduplicated": r.deduplicated}
        if op == "fetch":
            return update_obs(client.fetch(flow, step["traceId"], timeout=timeout))
        if op == "call":
            res: CallResult = client.call(flow, body(step), **send_kwargs(step, timeout))
            if res.result is None:
                return {"kind": "none", "traceId": res.trace_id}
            return {**update_obs(res.result), "traceId": res.trace_id}
        if op == "callStream":
            stream = client.call_stream(flow, body(step), **send_kwargs(step, timeout))
            return collect_stream(client, step, flow, step.get("traceId"), stream)
        if op == "streamTrace":
            stream = client.stream_trace(flow, step["traceId"], timeout=timeout)
            return collect_stream(client, step, flow, step["traceId"], stream)
        if op == "cancel":
            return {"cancelled": client.cancel(flow, step["traceId"], timeout=timeout)}
        if op == "subscribeEvents":
            count = step.get("count")
            if count is None:
                raise CaseError('subscribeEvents needs "count"')
            events: list[FlowEventData] = []
            with client.subscribe_events(
                flow or None,
                trace_ids=step.get("traceIds") or None,
                event_types=step.get("eventTypes") or None,
                after_seq=step.get("afterSeq", 0),
                timeout=timeout,
            ) as sub:
                for e in sub:
                    events.append(e)
                    if len(events) >= count:
                        break
            return events_obs(events)
        if op == "getHistory":
            return events_obs(client.get_history(flow, step["traceId"], timeout=timeout))
        if op == "listFlows":
            return flows_obs(client.list_flows(timeout=timeout))
        raise CaseError(f"unknown op {op!r}")
    except FlowClientError as err:
        return error_obs(err)


def run_case(settings: Settings, case: dict[str, Any]) -> str | None:
    variables: dict[str, Any] = {}
    for i, raw in enumerate(case["steps"]):
        step = subst(raw, variables)
        identity = step.get("identity") or case.get("identity") or {}
        obs = run_step(settings, identity, step)
        label = f"step {i + 1} ({step['op']})"
        if obs is None:
            continue
        if "expect" in step:
            m = match(step["expect"], obs, "result")
            if m is not None:
                return f"{label}: {m}"
        elif "error" in obs:
            return f"{label}: unexpected error {_show(obs)}"
        for name, path in (step.get("save") or {}).items():
            v = path_get(obs, path)
            if v is _MISSING:
                return f"{label}: cannot save {name}: no {path} in {_show(obs)}"
            variables[name] = v
    return None


def main(argv: list[str]) -> int:
    target = argv[1] if len(argv) > 1 else os.environ.get("PENGUIFLOW_TARGET", "")
    if not target:
        print("usage: runner_py.py <host:port>  (or set PENGUIFLOW_TARGET)", file=sys.stderr)
        return 2
    cases_path = os.environ.get("PENGUIFLOW_CONFORMANCE_CASES") or str(Path(__file__).resolve().parent / "cases.json")
    with open(cases_path, encoding="utf-8") as f:
        doc = json.load(f)
    settings = Settings(target)
    settings.default_timeout_ms = doc.get("defaults", {}).get("timeoutMs", 10_000)
    if settings.auth == "jwt" and not settings.secret:
        print("PENGUIFLOW_CONFORMANCE_AUTH=jwt needs PENGUIFLOW_CONFORMANCE_JWT_SECRET", file=sys.stderr)
        return 2
    only = [s for s in (os.environ.get("PENGUIFLOW_CONFORMANCE_ONLY") or "").split(",") if s]
    passed = failed = skipped = 0
    for case in doc["cases"]:
        if only and case["name"] not in only:
            continue
        needs = (case.get("requires") or {}).get("auth")
        if needs is not None and settings.auth not in needs:
            skipped += 1
            print(f"SKIP {case['name']} (requires auth {'|'.join(needs)}; running with {settings.auth})", flush=True)
            continue
        start = time.monotonic()
        try:
            problem = run_case(settings, case)
        except Exception as exc:  # noqa: BLE001 - a crash is a failure of this case, not of the run
            problem = f"runner error: {type(exc).__name__}: {exc}"
        ms = round((time.monotonic() - start) * 1000)
        if problem is None:
            passed += 1
            print(f"PASS {case['name']} ({ms} ms)", flush=True)
        else:
            failed += 1
            print(f"FAIL {case['name']} ({ms} ms): {problem}", flush=True)
    for client in _clients.values():
        client.close()
    if skipped:
        print(f"({skipped} skipped)")
    print(f"{LANG}: {passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
