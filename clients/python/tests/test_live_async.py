"""AsyncFlowClient parity: every method against the live server."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import grpc
import pytest

from penguiflow_client import (
    AsyncFlowClient,
    Chunk,
    FlowClientError,
    FlowErrorCode,
    FlowErrorData,
    Output,
    TraceEnd,
    TraceStatus,
)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def history_types(client: AsyncFlowClient, flow: str, trace_id: str) -> list[str]:
    return [e.event_type for e in await client.get_history(flow, trace_id, timeout=5)]


async def wait_until_stopped(client: AsyncFlowClient, flow: str, trace_id: str) -> None:
    """Wait until the trace was cancelled, or its node aborted by the message
    deadline (whichever of the two fires first after a call's deadline)."""
    for _ in range(100):
        history = await client.get_history(flow, trace_id, timeout=5)
        types = [e.event_type for e in history]
        if types and types[-1] == "trace_cancel_finish":
            return
        if types and types[-1] == "deadline_skip":
            return
        if any(e.event_type == "node_timeout" and e.extra.get("code") == "DEADLINE_EXCEEDED" for e in history):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{trace_id} kept running: {types}")


async def wait_for_event(client: AsyncFlowClient, flow: str, trace_id: str, event_type: str) -> None:
    for _ in range(100):
        if event_type in await history_types(client, flow, trace_id):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{event_type} never recorded for {trace_id}: {await history_types(client, flow, trace_id)}")


async def test_list_flows(aclient: AsyncFlowClient) -> None:
    names = [f.name for f in await aclient.list_flows(timeout=5)]
    assert {"chain5", "echo", "fanout", "flaky", "slow", "stream"} <= set(names)


async def test_call_concurrently(aclient: AsyncFlowClient) -> None:
    results = await asyncio.gather(*(aclient.call("chain5", {"n": n}, timeout=10) for n in range(20)))
    assert [r.payload for r in results] == [{"n": n} for n in range(20)]
    assert len({r.trace_id for r in results}) == 20


async def test_call_binary_and_flow_error(aclient: AsyncFlowClient) -> None:
    out = (await aclient.call("echo", binary=b"\x00bytes", timeout=5)).output
    assert out is not None and out.binary == b"\x00bytes"
    res = await aclient.call("flaky", {"failures": 10}, timeout=10)
    assert isinstance(res.result, FlowErrorData) and res.result.code is FlowErrorCode.NODE_EXCEPTION
    assert (await aclient.call("fanout", "x", timeout=5)).payload == {"input": "x", "results": [0, 1, 2, 3]}


async def test_emit_and_fetch(aclient: AsyncFlowClient) -> None:
    key = new_id("key")
    emitted = await aclient.emit("slow", {"ms": 50}, idempotency_key=key, timeout=5)
    again = await aclient.emit("slow", {"ms": 50}, idempotency_key=key, timeout=5)
    assert again.trace_id == emitted.trace_id and again.deduplicated
    out = await aclient.fetch("slow", emitted.trace_id, timeout=5)
    assert isinstance(out, Output) and out.payload == {"sleptMs": 50}
    end = await aclient.fetch("slow", emitted.trace_id, timeout=5)
    assert isinstance(end, TraceEnd) and end.status is TraceStatus.COMPLETED


async def test_call_stream(aclient: AsyncFlowClient) -> None:
    stream = aclient.call_stream("stream", {"chunks": 4}, timeout=10)
    updates = [u async for u in stream]
    assert [type(u) for u in updates] == [Chunk] * 4 + [Output, TraceEnd]
    assert [u.seq for u in updates if isinstance(u, Chunk)] == [0, 1, 2, 3]
    assert stream.trace_id and updates[-1].trace_id == stream.trace_id  # type: ignore[union-attr]


async def test_stream_trace(aclient: AsyncFlowClient) -> None:
    emitted = await aclient.emit("flaky", {"failures": 10}, timeout=5)
    updates = [u async for u in aclient.stream_trace("flaky", emitted.trace_id, timeout=10)]
    assert [type(u) for u in updates] == [FlowErrorData, TraceEnd]
    end = updates[-1]
    assert isinstance(end, TraceEnd) and end.status is TraceStatus.FAILED and end.error is not None


async def test_cancel(aclient: AsyncFlowClient) -> None:
    emitted = await aclient.emit("slow", {"ms": 10_000}, timeout=5)
    pending = asyncio.create_task(aclient.fetch("slow", emitted.trace_id, timeout=10))
    await asyncio.sleep(0.2)
    assert await aclient.cancel("slow", emitted.trace_id, timeout=5) is True
    with pytest.raises(FlowClientError) as info:
        await pending
    assert info.value.code == grpc.StatusCode.CANCELLED
    assert await aclient.cancel("slow", emitted.trace_id, timeout=5) is False


async def test_subscribe_events_and_history(aclient: AsyncFlowClient) -> None:
    res = await aclient.call("echo", {}, timeout=5)
    stream = aclient.subscribe_events("echo", trace_ids=[res.trace_id], after_seq=0, timeout=10)
    got = []
    async for event in stream:
        got.append((event.seq, event.event_type))
        if len(got) == 2:
            stream.cancel()
    assert got == [(1, "node_start"), (2, "node_success")]
    assert stream.last_seq == {res.trace_id: 2}
    history = await aclient.get_history("echo", res.trace_id, timeout=5)
    assert [(e.seq, e.event_type) for e in history] == got


async def test_timeout_is_deadline_exceeded(aclient: AsyncFlowClient) -> None:
    trace_id = new_id("async-tmo")
    with pytest.raises(FlowClientError) as info:
        await aclient.call("slow", {"ms": 5000}, trace_id=trace_id, timeout=0.3)
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    await wait_until_stopped(aclient, "slow", trace_id)
    with pytest.raises(FlowClientError) as info:
        async for _ in aclient.call_stream("slow", {"ms": 5000}, timeout=0.3):
            pass
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


async def test_task_cancellation_cancels_the_call_and_the_trace(aclient: AsyncFlowClient) -> None:
    trace_id = new_id("async-task")
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await aclient.call("slow", {"ms": 5000}, trace_id=trace_id, timeout=30)
    assert time.monotonic() - t0 < 3
    await wait_for_event(aclient, "slow", trace_id, "trace_cancel_finish")


async def test_call_stream_cancel_cancels_the_trace(aclient: AsyncFlowClient) -> None:
    trace_id = new_id("async-cs")
    async with aclient.call_stream("stream", {"chunks": 100, "delayMs": 50}, trace_id=trace_id, timeout=30) as stream:
        async for update in stream:
            assert isinstance(update, Chunk)
            break
    assert [u async for u in stream] == []
    await wait_for_event(aclient, "stream", trace_id, "trace_cancel_finish")


UNKNOWN_FLOW: dict[str, Any] = {
    "emit": lambda c: c.emit("no-such-flow", {}, timeout=5),
    "fetch": lambda c: c.fetch("no-such-flow", "t", timeout=5),
    "call": lambda c: c.call("no-such-flow", {}, timeout=5),
    "cancel": lambda c: c.cancel("no-such-flow", "t", timeout=5),
    "get_history": lambda c: c.get_history("no-such-flow", "t", timeout=5),
}


@pytest.mark.parametrize("method", list(UNKNOWN_FLOW))
async def test_unknown_flow_is_not_found(aclient: AsyncFlowClient, method: str) -> None:
    with pytest.raises(FlowClientError) as info:
        await UNKNOWN_FLOW[method](aclient)
    assert info.value.code == grpc.StatusCode.NOT_FOUND and info.value.reason == "FLOW_NOT_FOUND"


async def test_not_found_and_invalid_argument_on_streams(aclient: AsyncFlowClient) -> None:
    with pytest.raises(FlowClientError) as info:
        async for _ in aclient.stream_trace("echo", new_id("never"), timeout=5):
            pass
    assert info.value.code == grpc.StatusCode.NOT_FOUND and info.value.reason == "TRACE_NOT_FOUND"
    with pytest.raises(FlowClientError) as info:
        async for _ in aclient.call_stream("no-such-flow", {}, timeout=5):
            pass
    assert info.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(FlowClientError) as info:
        async for _ in aclient.subscribe_events(event_types=["bogus"], timeout=5):
            pass
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in info.value.field_violations] == ["event_types[0]"]


async def test_bad_trace_id_is_invalid_argument(aclient: AsyncFlowClient) -> None:
    with pytest.raises(FlowClientError) as info:
        await aclient.fetch("echo", "bad id!", timeout=5)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in info.value.field_violations] == ["trace_id"]
    with pytest.raises(FlowClientError) as info:
        await aclient.emit("echo", {}, trace_id="bad id!", timeout=5)
    assert [v.field for v in info.value.field_violations] == ["message.trace_id"]


async def test_tenant_and_async_credentials(server_target: str) -> None:
    tokens = 0

    async def token() -> str:
        nonlocal tokens
        tokens += 1
        return "t"

    async with AsyncFlowClient(server_target, tenant="acme", credentials=token) as acme:
        res = await acme.call("echo", {}, timeout=5)
        assert res.output is not None and res.output.headers.tenant == "acme"
        async with AsyncFlowClient(server_target, tenant="bravo") as bravo:
            with pytest.raises(FlowClientError) as info:
                await bravo.get_history("echo", res.trace_id, timeout=5)
            assert info.value.code == grpc.StatusCode.NOT_FOUND
    assert tokens == 1
