"""Every FlowClient method against a live server and its demo flows
(echo, chain5, stream, fanout, slow, flaky); see conftest.server_target."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import grpc
import pytest

from penguiflow_client import (
    Chunk,
    FlowClient,
    FlowClientError,
    FlowErrorCode,
    FlowErrorData,
    FlowEventData,
    Output,
    TraceEnd,
    TraceStatus,
)

T = TypeVar("T")

DEMO_FLOWS = ["chain5", "echo", "fanout", "flaky", "slow", "stream"]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def eventually(check: Callable[[], T], *, timeout: float = 5.0, interval: float = 0.05) -> T:
    """Poll `check` until it returns a truthy value (or raise its last AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last result {result!r})")
        time.sleep(interval)


def event_types(events: list[FlowEventData]) -> list[str]:
    return [e.event_type for e in events]


# ---------------------------------------------------------------------------
# list_flows


def test_list_flows_describes_the_demo_flows(client: FlowClient) -> None:
    flows = {f.name: f for f in client.list_flows(timeout=5)}
    assert set(DEMO_FLOWS) <= set(flows)
    names = [f.name for f in client.list_flows(timeout=5)]
    assert names == sorted(names)
    chain5 = flows["chain5"]
    assert [n.name for n in chain5.nodes] == ["hop1", "hop2", "hop3", "hop4", "hop5"]
    assert [(e.source, e.target) for e in chain5.edges] == [("hop1", "hop2"), ("hop2", "hop3"), ("hop3", "hop4"), ("hop4", "hop5")]
    assert chain5.ingress == ("hop1",) and chain5.egress == ("hop5",)
    assert all(n.id for n in chain5.nodes) and chain5.description
    flaky = flows["flaky"].nodes[0]
    assert flaky.policy is not None and flaky.policy.max_retries == 3 and flaky.policy.backoff_base_ms == 10
    fanout = flows["fanout"]
    assert fanout.ingress == ("split",) and fanout.egress == ("final",) and len(fanout.edges) == 9


# ---------------------------------------------------------------------------
# call


def test_call_echo_round_trips_json_meta_and_headers(client: FlowClient) -> None:
    payload = {"s": "héllo ✓", "i": 42, "f": 2.5, "neg": -1, "b": True, "n": None, "l": [1, [2, {"x": []}]], "o": {}}
    trace_id = new_id("echo")
    res = client.call("echo", payload, meta={"m": {"k": [1]}}, topic="greetings", priority=7, trace_id=trace_id, timeout=5)
    assert res.trace_id == trace_id
    out = res.output
    assert isinstance(out, Output)
    assert out.payload == payload and out.binary is None
    assert out.meta == {"m": {"k": [1]}}
    assert out.headers.tenant == "default" and out.headers.topic == "greetings" and out.headers.priority == 7
    assert out.trace_id == trace_id
    assert out.ts is not None and abs((datetime.now(UTC) - out.ts).total_seconds()) < 60


@pytest.mark.parametrize("payload", [None, 0, "text", [1, 2], 1.25, False])
def test_call_echo_scalar_payloads(client: FlowClient, payload: Any) -> None:
    assert client.call("echo", payload, timeout=5).payload == payload


def test_call_binary_body(client: FlowClient) -> None:
    blob = bytes(range(256)) * 4
    out = client.call("echo", binary=blob, timeout=5).output
    assert out is not None and out.binary == blob and out.payload is None


def test_call_timeout_becomes_the_message_deadline(client: FlowClient) -> None:
    before = datetime.now(UTC)
    out = client.call("echo", {}, timeout=8).output
    assert out is not None and out.deadline is not None
    assert before + timedelta(seconds=6) < out.deadline < before + timedelta(seconds=10)


def test_chain5_passes_through_five_hops(client: FlowClient) -> None:
    res = client.call("chain5", {"v": [1, 2, 3]}, timeout=5)
    assert res.payload == {"v": [1, 2, 3]}
    history = client.get_history("chain5", res.trace_id, timeout=5)
    starts = [e.node_name for e in history if e.event_type == "node_start"]
    assert starts == ["hop1", "hop2", "hop3", "hop4", "hop5"]
    assert [e.seq for e in history] == list(range(1, len(history) + 1))


def test_fanout_joins_four_workers(client: FlowClient) -> None:
    assert client.call("fanout", {"job": 1}, timeout=5).payload == {"input": {"job": 1}, "results": [0, 1, 2, 3]}


def test_flaky_recovers_after_retries(client: FlowClient) -> None:
    res = client.call("flaky", {"failures": 2}, timeout=10)
    assert res.payload == {"attempts": 3}
    types = event_types(client.get_history("flaky", res.trace_id, timeout=5))
    assert types.count("node_error") == 2 and types.count("node_retry") == 2 and types[-1] == "node_success"


def test_flaky_failing_for_good_is_data_not_an_exception(client: FlowClient) -> None:
    res = client.call("flaky", {"failures": 10}, timeout=10)
    err = res.error
    assert isinstance(err, FlowErrorData) and res.output is None and res.payload is None
    assert err.code is FlowErrorCode.NODE_EXCEPTION and err.node_name == "flaky" and err.node_id
    assert err.trace_id == res.trace_id and err.message and err.exception_type == "Error"
    assert err.metadata.get("attempts") == 4
    assert "node_failed" in event_types(client.get_history("flaky", res.trace_id, timeout=5))


# ---------------------------------------------------------------------------
# call_stream / stream_trace


def test_call_stream_yields_chunks_output_and_end(client: FlowClient) -> None:
    stream = client.call_stream("stream", {"chunks": 5}, timeout=10)
    updates = list(stream)
    chunks = [u for u in updates if isinstance(u, Chunk)]
    assert [c.seq for c in chunks] == [0, 1, 2, 3, 4]
    assert [c.done for c in chunks] == [False] * 4 + [True]
    assert "".join(c.text for c in chunks) == "chunk-0 chunk-1 chunk-2 chunk-3 chunk-4 "
    assert isinstance(updates[-2], Output) and updates[-2].payload == {"text": "".join(c.text for c in chunks), "chunks": 5}
    end = updates[-1]
    assert isinstance(end, TraceEnd) and end.status is TraceStatus.COMPLETED and end.error is None
    assert stream.trace_id and {u.trace_id for u in updates} == {stream.trace_id}  # type: ignore[union-attr]


def test_call_stream_of_a_failing_trace(client: FlowClient) -> None:
    updates = list(client.call_stream("flaky", {"failures": 10}, timeout=10))
    assert [type(u) for u in updates] == [FlowErrorData, TraceEnd]
    end = updates[-1]
    assert isinstance(end, TraceEnd) and end.status is TraceStatus.FAILED
    assert end.error is not None and end.error.code is FlowErrorCode.NODE_EXCEPTION


def test_call_stream_cancelled_by_the_client_cancels_the_trace(client: FlowClient) -> None:
    trace_id = new_id("cs-cancel")
    stream = client.call_stream("stream", {"chunks": 100, "delayMs": 50}, trace_id=trace_id, timeout=30)
    first = next(stream)
    assert isinstance(first, Chunk) and stream.trace_id == trace_id
    stream.cancel()
    assert list(stream) == []
    eventually(lambda: "trace_cancel_finish" in event_types(client.get_history("stream", trace_id, timeout=5)))


def test_call_stream_deadline(client: FlowClient) -> None:
    t0 = time.monotonic()
    with pytest.raises(FlowClientError) as info:
        list(client.call_stream("slow", {"ms": 5000}, timeout=0.4))
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - t0 < 3


def test_stream_trace_of_an_emitted_trace(client: FlowClient) -> None:
    emitted = client.emit("stream", {"chunks": 3, "delayMs": 20}, timeout=5)
    updates = list(client.stream_trace("stream", emitted.trace_id, timeout=10))
    assert [type(u) for u in updates] == [Chunk, Chunk, Chunk, Output, TraceEnd]
    # everything was delivered: a second stream of the ended trace only gets the end
    again = list(client.stream_trace("stream", emitted.trace_id, timeout=5))
    assert again == [TraceEnd(status=TraceStatus.COMPLETED, error=None, trace_id=emitted.trace_id)]


def test_stream_trace_cancel_does_not_cancel_the_trace(client: FlowClient) -> None:
    emitted = client.emit("slow", {"ms": 600}, timeout=5)
    with client.stream_trace("slow", emitted.trace_id, timeout=10) as stream:
        pass  # leaving the block cancels the stream before any update
    assert list(stream) == []
    out = client.fetch("slow", emitted.trace_id, timeout=5)
    assert isinstance(out, Output) and out.payload == {"sleptMs": 600}


# ---------------------------------------------------------------------------
# emit / fetch


def test_emit_then_fetch_every_output_then_end(client: FlowClient) -> None:
    emitted = client.emit("stream", {"chunks": 2}, timeout=5)
    assert len(emitted.trace_id) == 32 and not emitted.deduplicated
    got = [client.fetch("stream", emitted.trace_id, timeout=5) for _ in range(5)]
    assert [type(g) for g in got] == [Chunk, Chunk, Output, TraceEnd, TraceEnd]
    assert got[3] == got[4] and got[3].status is TraceStatus.COMPLETED  # type: ignore[union-attr]


def test_emit_with_trace_id_and_idempotency_key(client: FlowClient) -> None:
    trace_id, key = new_id("idem"), new_id("key")
    first = client.emit("echo", {"n": 1}, trace_id=trace_id, idempotency_key=key, timeout=5)
    second = client.emit("echo", {"n": 2}, idempotency_key=key, timeout=5)
    assert first.trace_id == trace_id and not first.deduplicated
    assert second.trace_id == trace_id and second.deduplicated
    out = client.fetch("echo", trace_id, timeout=5)
    assert isinstance(out, Output) and out.payload == {"n": 1}
    assert isinstance(client.fetch("echo", trace_id, timeout=5), TraceEnd)


def test_fetch_timeout_does_not_cancel_the_trace(client: FlowClient) -> None:
    emitted = client.emit("slow", {"ms": 700}, timeout=10)
    with pytest.raises(FlowClientError) as info:
        client.fetch("slow", emitted.trace_id, timeout=0.2)
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED and not info.value.client_side
    out = client.fetch("slow", emitted.trace_id, timeout=5)
    assert isinstance(out, Output) and out.payload == {"sleptMs": 700}


def test_call_timeout_is_deadline_exceeded_and_stops_the_trace(client: FlowClient) -> None:
    trace_id = new_id("call-tmo")
    t0 = time.monotonic()
    with pytest.raises(FlowClientError) as info:
        client.call("slow", {"ms": 5000}, trace_id=trace_id, timeout=0.3)
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - t0 < 3
    # The call's deadline was also the message deadline, so one of two things
    # stops the 5 s node at once: the server cancelling the trace because the
    # call's deadline passed (trace_cancel_*), or the runtime aborting the node
    # because the message deadline passed (node_timeout tagged DEADLINE_EXCEEDED),
    # whichever fires first.
    types = eventually(lambda: trace_stopped(client.get_history("slow", trace_id, timeout=5)))
    assert "node_success" not in types


def trace_stopped(history: list[FlowEventData]) -> list[str] | None:
    types = event_types(history)
    if types and types[-1] == "trace_cancel_finish":
        return types
    if types and types[-1] == "deadline_skip":
        return types
    timed_out = [e for e in history if e.event_type == "node_timeout"]
    if timed_out and timed_out[-1].extra.get("code") == "DEADLINE_EXCEEDED":
        return types
    return None


def test_message_deadline_in_the_past_is_skipped(client: FlowClient) -> None:
    past = datetime.now(UTC) - timedelta(seconds=5)
    updates = list(client.call_stream("slow", {"ms": 10}, deadline=past, timeout=10))
    assert isinstance(updates[0], Output) and updates[0].payload == {"text": "Deadline exceeded", "citations": []}
    assert isinstance(updates[-1], TraceEnd) and updates[-1].status is TraceStatus.DEADLINE_EXCEEDED
    assert "deadline_skip" in event_types(client.get_history("slow", updates[-1].trace_id, timeout=5))


# ---------------------------------------------------------------------------
# cancel


def test_cancel_a_running_trace(client: FlowClient) -> None:
    emitted = client.emit("slow", {"ms": 10_000}, timeout=15)
    pending: dict[str, Any] = {}

    def waiting_fetch() -> None:
        try:
            pending["result"] = client.fetch("slow", emitted.trace_id, timeout=10)
        except FlowClientError as exc:
            pending["error"] = exc

    waiter = threading.Thread(target=waiting_fetch)
    waiter.start()
    time.sleep(0.2)
    assert client.cancel("slow", emitted.trace_id, timeout=5) is True
    waiter.join(10)
    assert pending["error"].code == grpc.StatusCode.CANCELLED and pending["error"].reason == "TRACE_CANCELLED"
    assert client.cancel("slow", emitted.trace_id, timeout=5) is False  # already cancelled
    with pytest.raises(FlowClientError) as info:
        client.fetch("slow", emitted.trace_id, timeout=5)
    assert info.value.code == grpc.StatusCode.CANCELLED
    assert list(client.stream_trace("slow", emitted.trace_id, timeout=5)) == [
        TraceEnd(status=TraceStatus.CANCELLED, error=None, trace_id=emitted.trace_id)
    ]
    types = event_types(client.get_history("slow", emitted.trace_id, timeout=5))
    assert types.count("trace_cancel_start") == 1 and types[-1] == "trace_cancel_finish"


def test_cancel_a_finished_trace_returns_false(client: FlowClient) -> None:
    res = client.call("echo", {}, timeout=5)
    assert client.cancel("echo", res.trace_id, timeout=5) is False


# ---------------------------------------------------------------------------
# subscribe_events / get_history


def test_get_history_in_seq_order(client: FlowClient) -> None:
    res = client.call("echo", {"secret": "not in events"}, timeout=5)
    history = client.get_history("echo", res.trace_id, timeout=5)
    assert event_types(history) == ["node_start", "node_success"]
    start, success = history
    assert (start.seq, success.seq) == (1, 2)
    assert start.flow == "echo" and start.tenant == "default" and start.trace_id == res.trace_id
    assert start.node_name == "echo" and start.ts is not None and start.latency_ms is None
    assert success.latency_ms is not None and success.latency_ms >= 0
    assert "not in events" not in repr(history)


def test_subscribe_events_replays_a_trace_then_resumes_after_seq(client: FlowClient) -> None:
    res = client.call("chain5", {}, timeout=5)
    with client.subscribe_events("chain5", trace_ids=[res.trace_id], timeout=10) as events:
        replay = [next(events) for _ in range(10)]
    assert [e.seq for e in replay] == list(range(1, 11))
    assert event_types(replay) == event_types(client.get_history("chain5", res.trace_id, timeout=5))
    assert events.last_seq == {res.trace_id: 10}
    with client.subscribe_events("chain5", trace_ids=res.trace_id, after_seq=7, timeout=10) as events:
        rest = [next(events) for _ in range(3)]
    assert [e.seq for e in rest] == [8, 9, 10]


def test_subscribe_events_replay_continues_live(client: FlowClient) -> None:
    emitted = client.emit("slow", {"ms": 400}, timeout=10)
    with client.subscribe_events("slow", trace_ids=[emitted.trace_id], timeout=10) as events:
        got = [next(events), next(events)]
    assert [(e.seq, e.event_type) for e in got] == [(1, "node_start"), (2, "node_success")]


def test_subscribe_events_live_with_type_filter(client: FlowClient) -> None:
    emitted: list[str] = []
    stop = threading.Event()

    def keep_emitting() -> None:  # the subscription may take a moment to register
        for _ in range(100):
            if stop.is_set():
                return
            emitted.append(client.emit("echo", {}, timeout=5).trace_id)
            time.sleep(0.05)

    with client.subscribe_events("echo", event_types=["node_success"], timeout=10) as events:
        emitter = threading.Thread(target=keep_emitting)
        emitter.start()
        try:
            seen = [next(events) for _ in range(3)]
        finally:
            stop.set()
            emitter.join()
    assert {e.event_type for e in seen} == {"node_success"}
    assert {e.flow for e in seen} == {"echo"} and all(e.seq == 2 for e in seen)
    assert {e.trace_id for e in seen} <= set(emitted)


def test_subscribe_events_stream_deadline(client: FlowClient) -> None:
    with pytest.raises(FlowClientError) as info:
        for _ in client.subscribe_events("echo", trace_ids=[new_id("quiet")], timeout=0.3):
            pass
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


# ---------------------------------------------------------------------------
# error statuses


UNKNOWN_FLOW_CALLS: dict[str, Callable[[FlowClient], Any]] = {
    "emit": lambda c: c.emit("no-such-flow", {}, timeout=5),
    "fetch": lambda c: c.fetch("no-such-flow", "t1", timeout=5),
    "call": lambda c: c.call("no-such-flow", {}, timeout=5),
    "call_stream": lambda c: list(c.call_stream("no-such-flow", {}, timeout=5)),
    "stream_trace": lambda c: list(c.stream_trace("no-such-flow", "t1", timeout=5)),
    "cancel": lambda c: c.cancel("no-such-flow", "t1", timeout=5),
    "subscribe_events": lambda c: next(iter(c.subscribe_events("no-such-flow", timeout=5))),
    "get_history": lambda c: c.get_history("no-such-flow", "t1", timeout=5),
}


@pytest.mark.parametrize("method", list(UNKNOWN_FLOW_CALLS))
def test_unknown_flow_is_not_found(client: FlowClient, method: str) -> None:
    with pytest.raises(FlowClientError) as info:
        UNKNOWN_FLOW_CALLS[method](client)
    assert info.value.code == grpc.StatusCode.NOT_FOUND and not info.value.client_side
    assert info.value.reason == "FLOW_NOT_FOUND"
    assert info.value.error_info is not None and info.value.error_info.domain == "penguiflow.dev"


UNKNOWN_TRACE_CALLS: dict[str, Callable[[FlowClient, str], Any]] = {
    "fetch": lambda c, t: c.fetch("echo", t, timeout=5),
    "stream_trace": lambda c, t: list(c.stream_trace("echo", t, timeout=5)),
    "cancel": lambda c, t: c.cancel("echo", t, timeout=5),
    "get_history": lambda c, t: c.get_history("echo", t, timeout=5),
}


@pytest.mark.parametrize("method", list(UNKNOWN_TRACE_CALLS))
def test_unknown_trace_is_not_found(client: FlowClient, method: str) -> None:
    with pytest.raises(FlowClientError) as info:
        UNKNOWN_TRACE_CALLS[method](client, new_id("never-emitted"))
    assert info.value.code == grpc.StatusCode.NOT_FOUND and info.value.reason == "TRACE_NOT_FOUND"


BAD_TRACE_ID_CALLS: dict[str, tuple[Callable[[FlowClient], Any], str]] = {
    "emit": (lambda c: c.emit("echo", {}, trace_id="bad id!", timeout=5), "message.trace_id"),
    "call": (lambda c: c.call("echo", {}, trace_id="bad id!", timeout=5), "message.trace_id"),
    "call_stream": (lambda c: list(c.call_stream("echo", {}, trace_id="bad id!", timeout=5)), "message.trace_id"),
    "fetch": (lambda c: c.fetch("echo", "bad id!", timeout=5), "trace_id"),
    "stream_trace": (lambda c: list(c.stream_trace("echo", "bad id!", timeout=5)), "trace_id"),
    "cancel": (lambda c: c.cancel("echo", "bad id!", timeout=5), "trace_id"),
    "get_history": (lambda c: c.get_history("echo", "bad id!", timeout=5), "trace_id"),
    "subscribe_events": (lambda c: next(iter(c.subscribe_events("echo", trace_ids=["bad id!"], timeout=5))), "trace_ids[0]"),
}


@pytest.mark.parametrize("method", list(BAD_TRACE_ID_CALLS))
def test_bad_trace_id_is_invalid_argument(client: FlowClient, method: str) -> None:
    call, field = BAD_TRACE_ID_CALLS[method]
    with pytest.raises(FlowClientError) as info:
        call(client)
    err = info.value
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT and not err.client_side
    assert [v.field for v in err.field_violations] == [field]


def test_unknown_event_type_is_invalid_argument(client: FlowClient) -> None:
    with pytest.raises(FlowClientError) as info:
        next(iter(client.subscribe_events(event_types=["node_start", "no_such_event"], timeout=5)))
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in info.value.field_violations] == ["event_types[1]"]


def test_payload_deeper_than_the_limit_is_invalid_argument(client: FlowClient) -> None:
    deep: Any = 1
    for _ in range(40):
        deep = {"d": deep}
    with pytest.raises(FlowClientError) as info:
        client.call("echo", deep, timeout=5)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.field_violations[0].field.startswith("message.payload")


# ---------------------------------------------------------------------------
# identity: tenant header, bearer token, credentials callback


def test_tenants_are_isolated(server_target: str) -> None:
    trace_id = new_id("shared")
    with FlowClient(server_target, tenant="acme") as acme, FlowClient(server_target, tenant="bravo") as bravo:
        acme.emit("slow", {"ms": 300}, trace_id=trace_id, timeout=5)
        bravo.emit("echo", {"who": "bravo"}, trace_id=trace_id, timeout=5)  # same id, no collision
        for call in (
            lambda: bravo.fetch("slow", trace_id, timeout=5),
            lambda: bravo.cancel("slow", trace_id, timeout=5),
            lambda: bravo.get_history("slow", trace_id, timeout=5),
        ):
            with pytest.raises(FlowClientError) as info:
                call()
            assert info.value.code == grpc.StatusCode.NOT_FOUND
        out = acme.fetch("slow", trace_id, timeout=5)
        assert isinstance(out, Output) and out.headers.tenant == "acme"
        out = bravo.fetch("echo", trace_id, timeout=5)
        assert isinstance(out, Output) and out.headers.tenant == "bravo" and out.payload == {"who": "bravo"}
        assert {e.tenant for e in acme.get_history("slow", trace_id, timeout=5)} == {"acme"}


def test_message_tenant_must_match_the_caller(server_target: str) -> None:
    with FlowClient(server_target, tenant="acme") as acme:
        assert acme.call("echo", {}, message_tenant="acme", timeout=5).output is not None
        with pytest.raises(FlowClientError) as info:
            acme.call("echo", {}, message_tenant="bravo", timeout=5)
    assert info.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_invalid_tenant_header_is_unauthenticated(server_target: str) -> None:
    with FlowClient(server_target, tenant="not a tenant!") as client:
        with pytest.raises(FlowClientError) as info:
            client.list_flows(timeout=5)
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_token_and_credentials_callback_are_accepted(server_target: str) -> None:
    # The test server runs PENGUIFLOW_AUTH=none, which ignores bearer tokens;
    # what is checked here is that both options work end to end and that the
    # callback runs once per RPC (the wire format is checked in test_offline).
    with FlowClient(server_target, token="static-token") as client:
        assert client.call("echo", 1, timeout=5).payload == 1
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        return f"rotating-{len(calls)}"

    with FlowClient(server_target, credentials=token) as client:
        client.list_flows(timeout=5)
        res = client.call("echo", {}, timeout=5)
        list(client.stream_trace("echo", res.trace_id, timeout=5))
    assert len(calls) == 3


# ---------------------------------------------------------------------------
# more contract details


def test_fetch_of_a_failed_trace_returns_the_error_then_a_failed_end(client: FlowClient) -> None:
    emitted = client.emit("flaky", {"failures": 10}, timeout=10)
    err = client.fetch("flaky", emitted.trace_id, timeout=10)
    assert isinstance(err, FlowErrorData) and err.code is FlowErrorCode.NODE_EXCEPTION
    end = client.fetch("flaky", emitted.trace_id, timeout=5)
    assert isinstance(end, TraceEnd) and end.status is TraceStatus.FAILED and end.error == err


def test_duplicate_idempotency_key_on_call_and_call_stream_attach_to_the_original(client: FlowClient) -> None:
    key = new_id("key")
    original = client.emit("stream", {"chunks": 2, "delayMs": 100}, idempotency_key=key, timeout=10)
    res = client.call("stream", {"chunks": 9}, idempotency_key=key, timeout=10)
    assert res.trace_id == original.trace_id and res.payload == {"chunks": 2, "text": "chunk-0 chunk-1 "}
    key = new_id("key")
    original = client.emit("stream", {"chunks": 3, "delayMs": 100}, idempotency_key=key, timeout=10)
    updates = list(client.call_stream("stream", {"chunks": 9}, idempotency_key=key, timeout=10))
    assert [type(u) for u in updates] == [Chunk, Chunk, Chunk, Output, TraceEnd]
    assert {u.trace_id for u in updates} == {original.trace_id}


def test_subscribe_events_without_trace_ids_drops_seq_up_to_after_seq(client: FlowClient) -> None:
    seen: list[FlowEventData] = []
    stop = threading.Event()

    def keep_calling() -> None:
        for _ in range(100):
            if stop.is_set():
                return
            client.call("chain5", {}, timeout=5)
            time.sleep(0.05)

    with client.subscribe_events("chain5", after_seq=8, timeout=10) as events:
        caller = threading.Thread(target=keep_calling)
        caller.start()
        try:
            seen = [next(events) for _ in range(4)]
        finally:
            stop.set()
            caller.join()
    assert all(e.seq in (9, 10) for e in seen), [(e.seq, e.event_type) for e in seen]
    assert {e.event_type for e in seen if e.seq == 10} <= {"node_success"}
