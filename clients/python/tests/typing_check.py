"""Not a test module: type-checked by test_packaging (mypy --strict) to prove
that the public API carries precise types. Never executed."""

from __future__ import annotations

import grpc

from penguiflow_client import (
    AsyncFlowClient,
    AsyncTraceStream,
    CallResult,
    Chunk,
    EmitResult,
    EventStream,
    FetchResult,
    FlowClient,
    FlowClientError,
    FlowErrorCode,
    FlowErrorData,
    FlowEventData,
    FlowInfo,
    JSONValue,
    Output,
    TraceEnd,
    TraceStatus,
    TraceStream,
    TraceUpdate,
)


def sync_usage(client: FlowClient) -> None:
    emitted: EmitResult = client.emit("echo", {"a": [1, 2.5, None, True, "x"]}, timeout=1.5, meta={"k": 1})
    fetched: FetchResult = client.fetch("echo", emitted.trace_id, timeout=1)
    match fetched:
        case Output(payload=payload):
            value: JSONValue = payload
        case FlowErrorData(code=code):
            error_code: FlowErrorCode = code
        case Chunk(text=text):
            chunk_text: str = text
        case TraceEnd(status=status):
            end_status: TraceStatus = status
    result: CallResult = client.call("echo", binary=b"raw")
    output: Output | None = result.output
    stream: TraceStream = client.call_stream("stream", {"chunks": 2})
    for update in stream:
        item: TraceUpdate = update
    streamed: TraceStream = client.stream_trace("stream", "t")
    cancelled: bool = client.cancel("slow", "t")
    events: EventStream = client.subscribe_events("echo", trace_ids=["t"], event_types=["node_start"], after_seq=3)
    for event in events:
        seq: int = event.seq
    history: list[FlowEventData] = client.get_history("echo", "t")
    flows: list[FlowInfo] = client.list_flows()
    try:
        client.list_flows()
    except FlowClientError as err:
        status_code: grpc.StatusCode = err.code
        delay: float | None = err.retry_delay
        reason: str | None = err.reason


async def async_usage(client: AsyncFlowClient) -> None:
    emitted: EmitResult = await client.emit("echo", None)
    fetched: FetchResult = await client.fetch("echo", emitted.trace_id)
    result: CallResult = await client.call("echo", [1])
    stream: AsyncTraceStream = client.call_stream("stream", {"chunks": 2})
    async for update in stream:
        item: TraceUpdate = update
    async for event in client.subscribe_events():
        flow_event: FlowEventData = event
    cancelled: bool = await client.cancel("slow", "t")
    history: list[FlowEventData] = await client.get_history("echo", "t")
    flows: list[FlowInfo] = await client.list_flows()
    await client.close()


def async_token() -> str:
    return "token"


async def async_token_coroutine() -> str:
    return "token"


def construct() -> None:
    FlowClient("h:1", credentials=async_token, tenant="t", default_timeout=5, tls=True)
    AsyncFlowClient("h:1", credentials=async_token_coroutine)
