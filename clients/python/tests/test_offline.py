"""Offline tests: conversions, client-side validation, metadata, error-detail
decoding, streams and TLS against an in-process fake server (tests/_fake.py).
No PenguiFlow server needed."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import pickle
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2, struct_pb2
from google.rpc import error_details_pb2, status_pb2

from penguiflow_client import (
    AsyncFlowClient,
    CallResult,
    Chunk,
    FieldViolation,
    FlowClient,
    FlowClientError,
    FlowErrorCode,
    FlowErrorData,
    Output,
    QuotaViolation,
    TraceEnd,
    TraceStatus,
    _convert,
)
from penguiflow_client.errors import RawErrorDetail, decode_status_details
from penguiflow_client.gen.penguiflow.v1 import messages_pb2

# ---------------------------------------------------------------------------
# JSON conversion


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, 1, -7, 2**53, 1.5, -0.25, "", "héllo ✓", [], {}, [1, "a", None, [2.5]],
     {"a": {"b": [1, {"c": None}]}, "t": True}],
)
def test_json_round_trip(value: Any) -> None:
    assert _convert.from_value(_convert.to_value(value)) == value


def test_whole_numbers_come_back_as_int_others_as_float() -> None:
    back = _convert.from_value(_convert.to_value({"i": 3, "f": 3.0, "g": 3.25, "big": 1e300}))
    assert back == {"i": 3, "f": 3, "g": 3.25, "big": 1e300}
    assert isinstance(back["i"], int) and isinstance(back["f"], int)  # type: ignore[index]
    assert isinstance(back["g"], float) and isinstance(back["big"], float)  # type: ignore[index]


def test_tuples_and_mappings_are_accepted() -> None:
    from types import MappingProxyType

    v = _convert.to_value(MappingProxyType({"xs": (1, 2)}))
    assert _convert.from_value(v) == {"xs": [1, 2]}


@pytest.mark.parametrize(
    ("value", "path", "fragment"),
    [
        (math.nan, "message.payload", "not a JSON number"),
        ({"x": [math.inf]}, "message.payload.x[0]", "not a JSON number"),
        (2**53 + 1, "message.payload", "2**53"),
        ({"b": b"raw"}, "message.payload.b", "binary="),
        ({1: "x"}, "message.payload", "keys must be strings"),
        ({"s": {1, 2}}, "message.payload.s", "set is not a JSON value"),
        (object(), "message.payload", "object is not a JSON value"),
    ],
)
def test_unrepresentable_payloads_are_rejected_client_side(value: Any, path: str, fragment: str) -> None:
    with pytest.raises(FlowClientError) as info:
        _convert.to_value(value)
    err = info.value
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT and err.client_side
    assert err.field_violations[0].field == path
    assert fragment in err.field_violations[0].description


def test_circular_payload_is_rejected() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(FlowClientError, match="circular"):
        _convert.to_value(loop)


def test_build_message_fields() -> None:
    deadline = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    msg = _convert.build_message(
        {"a": 1},
        binary=None,
        trace_id="tr-1",
        deadline=deadline,
        meta={"m": [1]},
        topic="t",
        priority=-3,
        message_tenant="acme",
    )
    assert msg.trace_id == "tr-1" and msg.headers.topic == "t" and msg.headers.priority == -3
    assert msg.headers.tenant == "acme"
    assert _convert.from_timestamp(msg.deadline) == deadline
    assert _convert.from_struct(msg.meta) == {"m": [1]}
    assert _convert.from_value(msg.payload) == {"a": 1}
    assert not msg.binary


def test_build_message_null_payload_and_binary() -> None:
    assert _convert.build_message(None, binary=None, trace_id=None, deadline=None, meta=None, topic=None,
                                  priority=None, message_tenant=None).payload.WhichOneof("kind") == "null_value"
    msg = _convert.build_message(None, binary=bytearray(b"\x00\xff"), trace_id=None, deadline=1.5, meta=None,
                                 topic=None, priority=None, message_tenant=None)
    assert msg.binary == b"\x00\xff" and not msg.HasField("payload")
    assert (msg.deadline.seconds, msg.deadline.nanos) == (1, 500_000_000)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"payload": {"a": 1}, "binary": b"x"}, "message.binary"),
        ({"binary": "text"}, "message.binary"),
        ({"priority": 2**31}, "message.headers.priority"),
        ({"priority": True}, "message.headers.priority"),
        ({"meta": [1]}, "message.meta"),
        ({"trace_id": 5}, "message.trace_id"),
        ({"deadline": "tomorrow"}, "message.deadline"),
    ],
)
def test_build_message_rejects(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = dict(binary=None, trace_id=None, deadline=None, meta=None, topic=None, priority=None,
                                message_tenant=None)
    payload = kwargs.pop("payload", None)
    args.update(kwargs)
    with pytest.raises(FlowClientError) as info:
        _convert.build_message(payload, **args)
    assert info.value.client_side and info.value.field_violations[0].field == field


def test_subscribe_request_validation() -> None:
    req = _convert.build_subscribe_request("echo", "t1", ["node_start"], 7)
    assert list(req.trace_ids) == ["t1"] and list(req.event_types) == ["node_start"] and req.after_seq == 7
    for bad in (-1, 2**64, 1.5, True):
        with pytest.raises(FlowClientError, match="after_seq"):
            _convert.build_subscribe_request(None, None, None, bad)  # type: ignore[arg-type]


def test_enum_mapping_of_unknown_values() -> None:
    assert _convert.flow_error_code(0) is FlowErrorCode.NODE_EXCEPTION  # UNSPECIFIED, per the contract
    assert _convert.flow_error_code(1) is FlowErrorCode.NODE_TIMEOUT
    assert _convert.flow_error_code(999) is FlowErrorCode.NODE_EXCEPTION
    assert _convert.trace_status(2) is TraceStatus.FAILED
    assert _convert.trace_status(0) is TraceStatus.UNSPECIFIED
    assert _convert.trace_status(42) is TraceStatus.UNSPECIFIED
    assert FlowErrorCode.NODE_TIMEOUT == "NODE_TIMEOUT"  # StrEnum: compares to plain strings


def test_results_are_frozen_dataclasses() -> None:
    out = Output(payload=1, binary=None, trace_id="t")
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.trace_id = "other"  # type: ignore[misc]
    res = CallResult(trace_id="t", result=out)
    assert res.output is out and res.error is None and res.payload == 1
    err = FlowErrorData(code=FlowErrorCode.NODE_EXCEPTION, message="m", trace_id="t")
    assert CallResult("t", err).error is err and CallResult("t", err).payload is None
    assert CallResult("t", None).output is None


def test_generated_messages_pickle_under_their_real_module() -> None:
    msg = messages_pb2.Message(trace_id="x")
    assert type(msg).__module__ == "penguiflow_client.gen.penguiflow.v1.messages_pb2"
    assert pickle.loads(pickle.dumps(msg)) == msg


# ---------------------------------------------------------------------------
# status details


def test_decode_status_details_ignores_garbage() -> None:
    assert decode_status_details(b"\xff\x00garbage")["error_info"] is None
    assert decode_status_details(None)["field_violations"] == []


def test_decode_status_details_keeps_a_malformed_known_detail_raw() -> None:
    bad = any_pb2.Any(type_url="type.googleapis.com/google.rpc.BadRequest", value=b"\x0a\xff")
    retry = any_pb2.Any()
    retry.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(nanos=250_000_000)))
    out = decode_status_details(status_pb2.Status(code=8, details=[bad, retry]).SerializeToString())
    assert out["field_violations"] == [] and out["retry_delay"] == pytest.approx(0.25)
    assert out["raw_details"] == [RawErrorDetail(bad.type_url, b"\x0a\xff")]


def test_decode_status_details_first_single_detail_wins_and_lists_concatenate() -> None:
    def packed(msg: Any) -> any_pb2.Any:
        a = any_pb2.Any()
        a.Pack(msg)
        return a

    violation = error_details_pb2.QuotaFailure.Violation
    out = decode_status_details(
        status_pb2.Status(
            code=8,
            details=[
                packed(error_details_pb2.ErrorInfo(reason="FIRST")),
                packed(error_details_pb2.RetryInfo()),
                packed(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=2))),
                packed(error_details_pb2.ErrorInfo(reason="SECOND")),
                packed(error_details_pb2.QuotaFailure(violations=[violation(subject="a")])),
                packed(error_details_pb2.QuotaFailure(violations=[violation(subject="b")])),
            ],
        ).SerializeToString()
    )
    assert out["error_info"].reason == "FIRST" and out["retry_delay"] == 2.0
    assert [v.subject for v in out["quota_violations"]] == ["a", "b"]


def test_error_details_are_decoded(fake: Any) -> None:
    with FlowClient(fake.target) as client:
        with pytest.raises(FlowClientError) as info:
            client.emit("exhausted", {}, timeout=5)
    err = info.value
    assert err.code == grpc.StatusCode.RESOURCE_EXHAUSTED and not err.client_side
    assert err.message == "tenant acme is over its quota"
    assert str(err) == "RESOURCE_EXHAUSTED: tenant acme is over its quota"
    assert err.reason == "TENANT_QUOTA" and err.metadata == {"flow": "echo"}
    assert err.error_info is not None and err.error_info.domain == "penguiflow.dev"
    assert err.retry_delay == pytest.approx(1.5)
    assert err.quota_violations == (QuotaViolation("tenant:acme", "too many"),)
    assert isinstance(err.__cause__, grpc.RpcError)
    assert "RESOURCE_EXHAUSTED" in repr(err)


def test_field_violations_and_unknown_details(fake: Any) -> None:
    with FlowClient(fake.target) as client:
        with pytest.raises(FlowClientError) as info:
            client.emit("bad", {}, timeout=5)
    err = info.value
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert err.field_violations == (
        FieldViolation("message.trace_id", "bad"),
        FieldViolation("message.meta", "too deep"),
    )
    assert err.error_info is None and err.reason is None and err.flow_error_code is None
    assert [d.type_url for d in err.raw_details] == ["type.googleapis.com/google.protobuf.Value"]


def test_malformed_or_missing_details(fake: Any) -> None:
    with FlowClient(fake.target) as client:
        with pytest.raises(FlowClientError) as info:
            client.emit("garbage-details", {}, timeout=5)
        assert info.value.code == grpc.StatusCode.INTERNAL and info.value.error_info is None
        with pytest.raises(FlowClientError) as info:
            client.emit("plain", {}, timeout=5)
        assert info.value.code == grpc.StatusCode.NOT_FOUND and info.value.message == "no details at all"
        # A rich status that contradicts the call's own code is not trusted (rpc_status.from_call).
        with pytest.raises(FlowClientError) as info:
            client.emit("mismatched-details", {}, timeout=5)
        assert info.value.code == grpc.StatusCode.UNAVAILABLE and info.value.message == "draining"
        assert info.value.error_info is None


def test_unreachable_server_is_unavailable() -> None:
    with FlowClient("127.0.0.1:1") as client:
        with pytest.raises(FlowClientError) as info:
            client.list_flows(timeout=2)
    assert info.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


# ---------------------------------------------------------------------------
# requests and metadata


def test_token_tenant_metadata_and_timeout(fake: Any) -> None:
    with FlowClient(fake.target, token="s3cret", tenant="acme", metadata=[("X-Extra", "1")]) as client:
        res = client.emit("echo", {"a": 1}, trace_id="tr", idempotency_key="k", timeout=7)
    assert res.trace_id == "tr" and not res.deduplicated
    rec = fake.service.last("Emit")
    assert rec.metadata["authorization"] == "Bearer s3cret"
    assert rec.metadata["x-tenant-id"] == "acme"
    assert rec.metadata["x-extra"] == "1"
    assert "penguiflow-client-python/" in rec.metadata["user-agent"]
    assert rec.request.idempotency_key == "k" and rec.request.HasField("idempotency_key")
    assert rec.deadline_left is not None and 5 < rec.deadline_left <= 7.1


def test_no_idempotency_key_and_no_deadline_by_default(fake: Any) -> None:
    with FlowClient(fake.target) as client:
        client.emit("dedup", None)
    rec = fake.service.last("Emit")
    assert not rec.request.HasField("idempotency_key")
    assert rec.deadline_left is None
    assert "authorization" not in rec.metadata and "x-tenant-id" not in rec.metadata


def test_default_timeout_applies_unless_overridden(fake: Any) -> None:
    with FlowClient(fake.target, default_timeout=3) as client:
        client.list_flows()
        assert 2 < fake.service.last("ListFlows").deadline_left <= 3.1
        client.list_flows(timeout=9)
        assert 8 < fake.service.last("ListFlows").deadline_left <= 9.1
        with client.subscribe_events() as events:  # open-ended: the default does not apply
            next(events)
        assert fake.service.last("SubscribeEvents").deadline_left is None


def test_credentials_callback_is_called_per_rpc(fake: Any) -> None:
    tokens = iter(["one", "two", None])
    with FlowClient(fake.target, credentials=lambda: next(tokens)) as client:
        client.list_flows(timeout=5)
        client.cancel("echo", "t", timeout=5)
        client.get_history("echo", "t", timeout=5)
    auth = [c.metadata.get("authorization") for c in fake.service.calls]
    assert auth == ["Bearer one", "Bearer two", None]


def test_failing_credentials_callback(fake: Any) -> None:
    def broken() -> str:
        raise RuntimeError("vault down")

    with FlowClient(fake.target, credentials=broken) as client:
        with pytest.raises(FlowClientError) as info:
            client.list_flows(timeout=5)
    assert info.value.code == grpc.StatusCode.UNAUTHENTICATED and info.value.client_side
    assert "vault down" in info.value.message
    assert fake.service.calls == []


def test_constructor_validation() -> None:
    with pytest.raises(TypeError):
        FlowClient("x:1", token="a", credentials=lambda: "b")
    with pytest.raises(TypeError):
        FlowClient("x:1", private_key=b"k")
    with pytest.raises(TypeError):
        FlowClient("x:1", tls=False, root_certificates=b"ca")
    with pytest.raises(TypeError):
        FlowClient("")
    with pytest.raises(TypeError):
        FlowClient("x:1", default_timeout="5")  # type: ignore[arg-type]


def test_responses_are_converted(fake: Any) -> None:
    with FlowClient(fake.target) as client:
        out = client.fetch("echo", "tr-9", timeout=5)
        assert isinstance(out, Output)
        assert out.binary == b"\x00\x01" and out.payload is None and out.trace_id == "tr-9"
        assert out.headers.tenant == "t1" and out.deadline is None and out.meta == {}
        assert out.ts == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)

        res = client.call("echo", {"n": 2, "l": [1.5]}, meta={"k": "v"}, timeout=5)
        assert res.trace_id == "t-out" and res.payload == {"n": 2, "l": [1.5]}
        assert res.output is not None and res.output.meta == {"k": "v"}

        err = client.call("error", timeout=5)
        assert isinstance(err.result, FlowErrorData) and err.result.code is FlowErrorCode.NODE_EXCEPTION
        assert err.result.exception_type == "Error" and err.result.node_name == "n"

        assert client.call("none", timeout=5).result is None

        with pytest.raises(FlowClientError) as info:
            client.fetch("echo", "empty", timeout=5)
        assert info.value.code == grpc.StatusCode.INTERNAL and "protocol violation" in info.value.message

        assert client.cancel("echo", "t", timeout=5) is True

        history = client.get_history("echo", "t", timeout=5)
        assert [e.seq for e in history] == [1, 2]
        assert history[0].extra == {"k": 1} and history[0].latency_ms is None and history[0].trace_pending is None
        assert history[1].latency_ms == 2.5 and history[1].trace_pending == 0 and history[0].ts is None

        (flow,) = client.list_flows(timeout=5)
        assert flow.name == "fake" and flow.ingress == ("a",) and flow.egress == ("b",)
        assert flow.nodes[0].policy is not None and flow.nodes[0].policy.timeout_ms == 100
        assert flow.nodes[0].policy.max_backoff_ms is None and flow.nodes[1].policy is None
        assert flow.edges[0].source == "a" and flow.edges[0].target == "b"


def test_sync_streams(fake: Any) -> None:
    with FlowClient(fake.target) as client:
        stream = client.call_stream("s", {"x": 1}, timeout=5)
        updates = list(stream)
        assert updates == [
            Chunk(stream_id="s", seq=0, text="a", done=False, meta={}, trace_id="t-s"),
            TraceEnd(status=TraceStatus.COMPLETED, error=None, trace_id="t-s"),
        ]
        assert stream.trace_id == "t-s"
        assert list(stream) == []  # exhausted stays exhausted

        (end,) = list(client.stream_trace("echo", "tr-x", timeout=5))
        assert isinstance(end, TraceEnd) and end.status is TraceStatus.UNSPECIFIED and end.trace_id == "tr-x"

        with pytest.raises(FlowClientError, match="TraceUpdate without an update"):
            list(client.call_stream("broken", timeout=5))


def test_sync_stream_cancel_stops_iteration_and_cancels_rpc(fake: Any) -> None:
    with FlowClient(fake.target) as client:
        stream = client.call_stream("hang", timeout=30)
        first = next(stream)
        assert isinstance(first, Chunk) and first.text == "first" and stream.trace_id == "t-hang"
        threading.Timer(0.2, stream.cancel).start()
        assert list(stream) == []
        assert fake.service.stream_cancelled.wait(5)


def test_sync_event_stream_context_manager_and_last_seq(fake: Any) -> None:
    with FlowClient(fake.target) as client:
        with client.subscribe_events("echo", trace_ids=["t"], event_types="node_start", after_seq=10) as events:
            got = [next(events).seq for _ in range(3)]
        assert got == [11, 12, 13] and events.last_seq == {"t": 13}
        assert fake.service.stream_cancelled.wait(5)
        req = fake.service.last("SubscribeEvents").request
        assert req.flow == "echo" and list(req.trace_ids) == ["t"] and req.after_seq == 10


def test_sync_deadline_exceeded(fake: Any) -> None:
    with FlowClient(fake.target) as client:
        with pytest.raises(FlowClientError) as info:
            client.call("sleep", timeout=0.2)
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


def _assert_closed_error(err: FlowClientError) -> None:
    assert (err.code, err.message, err.client_side) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "the client is closed",
        True,
    )
    assert str(err) == "FAILED_PRECONDITION: the client is closed"


def test_closed_client_rejects_every_call_with_failed_precondition(fake: Any) -> None:
    client = FlowClient(fake.target)
    client.list_flows(timeout=5)
    client.close()
    client.close()  # idempotent
    fake.service.calls.clear()
    calls: list[Callable[[], object]] = [
        lambda: client.emit("echo", 1, timeout=1),
        lambda: client.fetch("echo", "t", timeout=1),
        lambda: client.call("echo", 1, timeout=1),
        lambda: client.cancel("echo", "t", timeout=1),
        lambda: client.get_history("echo", "t", timeout=1),
        lambda: client.list_flows(timeout=1),
        lambda: list(client.call_stream("echo", 1, timeout=1)),
        lambda: list(client.stream_trace("echo", "t", timeout=1)),
        lambda: client.subscribe_events(timeout=1),
    ]
    for call in calls:
        with pytest.raises(FlowClientError) as info:
            call()
        _assert_closed_error(info.value)
    assert fake.service.calls == []


# ---------------------------------------------------------------------------
# async client against the fake


async def test_async_metadata_with_async_credentials(fake: Any) -> None:
    calls = 0

    async def token() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return f"tok{calls}"

    async with AsyncFlowClient(fake.target, credentials=token, tenant="acme") as client:
        await client.list_flows(timeout=5)
        async for _ in client.stream_trace("echo", "tr", timeout=5):
            pass
    md = [c.metadata for c in fake.service.calls]
    assert [m["authorization"] for m in md] == ["Bearer tok1", "Bearer tok2"]
    assert all(m["x-tenant-id"] == "acme" for m in md)


async def test_async_errors_and_results(fake: Any) -> None:
    async with AsyncFlowClient(fake.target) as client:
        with pytest.raises(FlowClientError) as info:
            await client.emit("exhausted", {}, timeout=5)
        assert info.value.retry_delay == pytest.approx(1.5) and info.value.reason == "TENANT_QUOTA"
        res = await client.call("echo", [1, 2], timeout=5)
        assert res.payload == [1, 2]
        assert [type(u) for u in [u async for u in client.call_stream("s", timeout=5)]] == [Chunk, TraceEnd]
        with pytest.raises(FlowClientError) as info:
            await client.call("sleep", timeout=0.2)
        assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


async def test_async_stream_cancel(fake: Any) -> None:
    async with AsyncFlowClient(fake.target) as client:
        events = client.subscribe_events(after_seq=0)
        seqs = []
        async for ev in events:
            seqs.append(ev.seq)
            if len(seqs) == 3:
                events.cancel()
        assert seqs == [1, 2, 3]
        assert fake.service.stream_cancelled.wait(5)


async def test_async_task_cancellation_cancels_the_rpc(fake: Any) -> None:
    async with AsyncFlowClient(fake.target) as client:
        stream = client.call_stream("hang", timeout=30)

        async def consume() -> None:
            async for _ in stream:
                pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(fake.service.stream_cancelled.wait, 5)


async def test_async_cancel_before_start_sends_nothing(fake: Any) -> None:
    async with AsyncFlowClient(fake.target) as client:
        stream = client.call_stream("s", timeout=5)
        stream.cancel()
        assert [u async for u in stream] == []
    assert fake.service.calls == []


async def test_async_closed_client_rejects_every_call_with_failed_precondition(fake: Any) -> None:
    client = AsyncFlowClient(fake.target)
    stream_made_before_close = client.stream_trace("echo", "t", timeout=1)
    await client.close()
    await client.close()  # idempotent

    async def drain(stream: AsyncIterator[object]) -> None:
        async for _ in stream:
            pass

    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: client.emit("echo", 1, timeout=1),
        lambda: client.fetch("echo", "t", timeout=1),
        lambda: client.call("echo", 1, timeout=1),
        lambda: client.cancel("echo", "t", timeout=1),
        lambda: client.get_history("echo", "t", timeout=1),
        lambda: client.list_flows(timeout=1),
        lambda: drain(client.call_stream("echo", 1, timeout=1)),
        lambda: drain(client.subscribe_events(timeout=1)),
        lambda: drain(stream_made_before_close),
    ]
    for call in calls:
        with pytest.raises(FlowClientError) as info:
            await call()
        _assert_closed_error(info.value)
    assert fake.service.calls == []


def test_struct_value_type_is_the_wire_type() -> None:
    assert isinstance(_convert.to_value({}), struct_pb2.Value)
    assert _convert.to_timestamp(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=2.25), "d").nanos == 250_000_000


def test_deeply_nested_payload_builds_a_request() -> None:
    # Deeper than protobuf's parse depth: the client must still build and
    # send it, so that the server can answer with INVALID_ARGUMENT.
    from penguiflow_client.gen.penguiflow.v1 import flow_service_pb2 as pb

    deep: Any = 1
    for _ in range(60):
        deep = {"d": deep}
    message = _convert.build_message(deep, binary=None, trace_id=None, deadline=None, meta=None, topic=None,
                                     priority=None, message_tenant=None)
    request = _convert.send_request(pb.CallRequest, "echo", message, None)
    assert request.SerializeToString()
