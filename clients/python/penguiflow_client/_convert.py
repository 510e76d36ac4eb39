"""Conversions between plain Python values / result dataclasses and the
generated protobuf messages. Nothing here does I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import grpc
from google.protobuf import struct_pb2, timestamp_pb2

from penguiflow_client._types import (
    CallResult,
    Chunk,
    EdgeInfo,
    FetchResult,
    FlowErrorCode,
    FlowErrorData,
    FlowEventData,
    FlowInfo,
    Headers,
    JSONObject,
    JSONValue,
    NodeInfo,
    NodePolicy,
    Output,
    TraceEnd,
    TraceStatus,
    TraceUpdate,
)
from penguiflow_client.errors import FlowClientError, invalid_argument
from penguiflow_client.gen.penguiflow.v1 import (
    events_pb2,
    flow_info_pb2,
    flow_service_pb2,
    messages_pb2,
)

MAX_EXACT_INT = 2**53
"""Largest magnitude an integer may have to travel exactly as a JSON (double) number."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
UINT64_MAX = 2**64 - 1

# ---------------------------------------------------------------------------
# JSON <-> google.protobuf.Value / Struct


def to_value(value: Any, path: str = "message.payload") -> struct_pb2.Value:
    """Encode a plain JSON value as ``google.protobuf.Value``.

    Raises a client-side INVALID_ARGUMENT :class:`FlowClientError` (with the
    offending path) for values JSON cannot represent: NaN/infinity, integers
    beyond +/-2**53 (they would silently lose precision as doubles), bytes,
    non-string object keys, circular references and other types.
    """
    out = struct_pb2.Value()
    try:
        _fill_value(out, value, path, set())
    except RecursionError:
        raise invalid_argument(path, "value is nested too deeply") from None
    return out


def _fill_value(out: struct_pb2.Value, value: Any, path: str, ancestors: set[int]) -> None:
    if value is None:
        out.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        if abs(value) > MAX_EXACT_INT:
            raise invalid_argument(
                path, f"integer {value} is beyond +/-2**53 and cannot travel exactly as a JSON number; send a string"
            )
        out.number_value = float(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise invalid_argument(path, f"{value!r} is not a JSON number")
        out.number_value = value
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, Mapping):
        _enter(value, path, ancestors)
        out.struct_value.SetInParent()  # an empty object must still select struct_value
        fields = out.struct_value.fields
        for key, item in value.items():
            if not isinstance(key, str):
                raise invalid_argument(path, f"object keys must be strings, got {type(key).__name__}")
            _fill_value(fields[key], item, f"{path}.{key}", ancestors)
        ancestors.discard(id(value))
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raise invalid_argument(path, "bytes are only allowed as the whole message body (binary=)")
    elif isinstance(value, Sequence):
        _enter(value, path, ancestors)
        out.list_value.SetInParent()  # an empty list must still select list_value
        values = out.list_value.values
        for i, item in enumerate(value):
            _fill_value(values.add(), item, f"{path}[{i}]", ancestors)
        ancestors.discard(id(value))
    else:
        raise invalid_argument(path, f"{type(value).__name__} is not a JSON value")


def _enter(container: object, path: str, ancestors: set[int]) -> None:
    if id(container) in ancestors:
        raise invalid_argument(path, "circular reference")
    ancestors.add(id(container))


def to_struct(value: Mapping[str, Any] | None, path: str) -> struct_pb2.Struct | None:
    """Encode a JSON object as ``google.protobuf.Struct`` (``None`` stays unset)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise invalid_argument(path, "must be a JSON object (a dict)")
    return to_value(value, path).struct_value


def from_value(value: struct_pb2.Value) -> JSONValue:
    """Decode ``google.protobuf.Value`` into a plain Python value.

    Whole numbers within +/-2**53 become ``int`` (JSON has one number type;
    the server is JavaScript), others ``float``.
    """
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        n = value.number_value
        if n.is_integer() and abs(n) <= MAX_EXACT_INT:
            return int(n)
        return n
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return from_struct(value.struct_value)
    if kind == "list_value":
        return [from_value(v) for v in value.list_value.values]
    return None  # null_value or unset


def from_struct(struct: struct_pb2.Struct) -> JSONObject:
    """Decode ``google.protobuf.Struct`` into a ``dict`` with sorted keys.

    A protobuf map has no order (the decoder's iteration order is
    arbitrary); sorting makes results and their reprs deterministic.
    """
    fields = struct.fields
    return {key: from_value(fields[key]) for key in sorted(fields)}


# ---------------------------------------------------------------------------
# times


def to_timestamp(value: datetime | float | int, path: str) -> timestamp_pb2.Timestamp:
    """A ``datetime`` (naive = local time, as ``datetime.timestamp``) or epoch seconds."""
    ts = timestamp_pb2.Timestamp()
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.astimezone()
        delta = aware - _EPOCH  # exact: no float rounding of the microseconds
        ts.seconds = delta.days * 86_400 + delta.seconds
        ts.nanos = delta.microseconds * 1000
        return ts
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid_argument(path, "must be a datetime or epoch seconds")
    if not math.isfinite(value):
        raise invalid_argument(path, "must be finite")
    whole = math.floor(value)
    ts.seconds = whole
    ts.nanos = min(int(round((value - whole) * 1e9)), 999_999_999)
    return ts


def from_timestamp(ts: timestamp_pb2.Timestamp) -> datetime:
    return datetime.fromtimestamp(ts.seconds, tz=UTC).replace(microsecond=ts.nanos // 1000)


# ---------------------------------------------------------------------------
# requests


def build_message(
    payload: Any,
    *,
    binary: bytes | bytearray | memoryview | None,
    trace_id: str | None,
    deadline: datetime | float | None,
    meta: Mapping[str, Any] | None,
    topic: str | None,
    priority: int | None,
    message_tenant: str | None,
) -> messages_pb2.Message:
    """The ``penguiflow.v1.Message`` sent by emit, call and call_stream."""
    msg = messages_pb2.Message()
    if binary is not None:
        if not isinstance(binary, (bytes, bytearray, memoryview)):
            raise invalid_argument("message.binary", "must be bytes")
        if payload is not None:
            raise invalid_argument("message.binary", "set either a payload or binary=, not both")
        msg.binary = bytes(binary)
    else:
        msg.payload.CopyFrom(to_value(payload, "message.payload"))
    for name, text in (("trace_id", trace_id), ("headers.topic", topic), ("headers.tenant", message_tenant)):
        if text is not None and not isinstance(text, str):
            raise invalid_argument(f"message.{name}", "must be a string")
    if trace_id:
        msg.trace_id = trace_id
    if topic:
        msg.headers.topic = topic
    if message_tenant:
        msg.headers.tenant = message_tenant
    if priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, int) or not INT32_MIN <= priority <= INT32_MAX:
            raise invalid_argument("message.headers.priority", "must be an int32")
        msg.headers.priority = priority
    if deadline is not None:
        msg.deadline.CopyFrom(to_timestamp(deadline, "message.deadline"))
    meta_struct = to_struct(meta, "message.meta")
    if meta_struct is not None:
        msg.meta.CopyFrom(meta_struct)
    return msg


SendRequest = TypeVar("SendRequest", flow_service_pb2.EmitRequest, flow_service_pb2.CallRequest, flow_service_pb2.CallStreamRequest)


def send_request(
    request_type: type[SendRequest], flow: str, message: messages_pb2.Message, idempotency_key: str | None
) -> SendRequest:
    """An Emit/Call/CallStream request. The message is copied in with
    ``CopyFrom`` (passing it to the constructor would re-parse it, which
    fails for payloads nested deeper than protobuf's parse depth limit
    before the server could answer with a proper INVALID_ARGUMENT)."""
    if not isinstance(flow, str):
        raise invalid_argument("flow", "must be a string")
    request = request_type(flow=flow)
    request.message.CopyFrom(message)
    if idempotency_key is not None:
        if not isinstance(idempotency_key, str):
            raise invalid_argument("idempotency_key", "must be a string")
        request.idempotency_key = idempotency_key
    return request


def build_subscribe_request(
    flow: str | None,
    trace_ids: Iterable[str] | str | None,
    event_types: Iterable[str] | str | None,
    after_seq: int,
) -> flow_service_pb2.SubscribeEventsRequest:
    if isinstance(after_seq, bool) or not isinstance(after_seq, int) or not 0 <= after_seq <= UINT64_MAX:
        raise invalid_argument("after_seq", "must be a non-negative integer within uint64")
    if isinstance(trace_ids, str):
        trace_ids = [trace_ids]
    if isinstance(event_types, str):
        event_types = [event_types]
    return flow_service_pb2.SubscribeEventsRequest(
        flow=flow or "",
        trace_ids=list(trace_ids or ()),
        event_types=list(event_types or ()),
        after_seq=after_seq,
    )


# ---------------------------------------------------------------------------
# responses


def _protocol_violation(what: str) -> FlowClientError:
    return FlowClientError(grpc.StatusCode.INTERNAL, f"{what} (protocol violation by the server)")


def output_from_proto(msg: messages_pb2.Message) -> Output:
    binary = bytes(msg.binary) if msg.binary else None
    payload: JSONValue = None
    if binary is None and msg.HasField("payload"):
        payload = from_value(msg.payload)
    return Output(
        payload=payload,
        binary=binary,
        trace_id=msg.trace_id,
        headers=Headers(tenant=msg.headers.tenant, topic=msg.headers.topic, priority=msg.headers.priority),
        ts=from_timestamp(msg.ts) if msg.HasField("ts") else None,
        deadline=from_timestamp(msg.deadline) if msg.HasField("deadline") else None,
        meta=from_struct(msg.meta),
    )


def flow_error_code(value: int) -> FlowErrorCode:
    try:
        name = messages_pb2.FlowErrorCode.Name(value).removeprefix("FLOW_ERROR_CODE_")
        return FlowErrorCode(name)
    except ValueError:  # UNSPECIFIED or a code newer than this client
        return FlowErrorCode.NODE_EXCEPTION


def trace_status(value: int) -> TraceStatus:
    try:
        return TraceStatus(messages_pb2.TraceStatus.Name(value).removeprefix("TRACE_STATUS_"))
    except ValueError:
        return TraceStatus.UNSPECIFIED


def flow_error_from_proto(err: messages_pb2.FlowError) -> FlowErrorData:
    return FlowErrorData(
        code=flow_error_code(err.code),
        message=err.message,
        trace_id=err.trace_id,
        node_name=err.node_name,
        node_id=err.node_id,
        metadata=from_struct(err.metadata),
        exception_type=err.exception_type,
    )


def chunk_from_proto(chunk: messages_pb2.StreamChunk, trace_id: str) -> Chunk:
    return Chunk(
        stream_id=chunk.stream_id,
        seq=chunk.seq,
        text=chunk.text,
        done=chunk.done,
        meta=from_struct(chunk.meta),
        trace_id=trace_id,
    )


def trace_end_from_proto(end: messages_pb2.TraceEnd, trace_id: str) -> TraceEnd:
    return TraceEnd(
        status=trace_status(end.status),
        error=flow_error_from_proto(end.error) if end.HasField("error") else None,
        trace_id=trace_id,
    )


def update_from_proto(update: messages_pb2.TraceUpdate, trace_id: str) -> TraceUpdate:
    kind = update.WhichOneof("update")
    if kind == "chunk":
        return chunk_from_proto(update.chunk, trace_id)
    if kind == "output":
        return output_from_proto(update.output)
    if kind == "error":
        return flow_error_from_proto(update.error)
    if kind == "end":
        return trace_end_from_proto(update.end, trace_id)
    raise _protocol_violation("TraceUpdate without an update")


def fetch_result_from_proto(resp: flow_service_pb2.FetchResponse, trace_id: str) -> FetchResult:
    kind = resp.WhichOneof("result")
    if kind == "output":
        return output_from_proto(resp.output)
    if kind == "error":
        return flow_error_from_proto(resp.error)
    if kind == "chunk":
        return chunk_from_proto(resp.chunk, trace_id)
    if kind == "end":
        return trace_end_from_proto(resp.end, trace_id)
    raise _protocol_violation("FetchResponse without a result")


def call_result_from_proto(resp: flow_service_pb2.CallResponse) -> CallResult:
    kind = resp.WhichOneof("result")
    result: Output | FlowErrorData | None = None
    if kind == "output":
        result = output_from_proto(resp.output)
    elif kind == "error":
        result = flow_error_from_proto(resp.error)
    return CallResult(trace_id=resp.trace_id, result=result)


def event_from_proto(ev: events_pb2.FlowEvent) -> FlowEventData:
    return FlowEventData(
        event_type=ev.event_type,
        ts=from_timestamp(ev.ts) if ev.HasField("ts") else None,
        node_name=ev.node_name,
        node_id=ev.node_id,
        trace_id=ev.trace_id,
        attempt=ev.attempt,
        latency_ms=ev.latency_ms if ev.HasField("latency_ms") else None,
        queue_depth_in=ev.queue_depth_in,
        queue_depth_out=ev.queue_depth_out,
        outgoing_edges=ev.outgoing_edges,
        queue_maxsize=ev.queue_maxsize,
        trace_pending=ev.trace_pending if ev.HasField("trace_pending") else None,
        trace_inflight=ev.trace_inflight if ev.HasField("trace_inflight") else None,
        trace_cancelled=ev.trace_cancelled,
        extra=from_struct(ev.extra),
        flow=ev.flow,
        tenant=ev.tenant,
        seq=ev.seq,
    )


def _policy_from_proto(p: flow_info_pb2.NodePolicyInfo) -> NodePolicy:
    return NodePolicy(
        validate=p.validate,
        timeout_ms=p.timeout_ms if p.HasField("timeout_ms") else None,
        max_retries=p.max_retries,
        backoff_base_ms=p.backoff_base_ms,
        backoff_mult=p.backoff_mult,
        max_backoff_ms=p.max_backoff_ms if p.HasField("max_backoff_ms") else None,
        max_concurrency=p.max_concurrency,
    )


def flow_info_from_proto(info: flow_info_pb2.FlowInfo) -> FlowInfo:
    return FlowInfo(
        name=info.name,
        description=info.description,
        nodes=tuple(
            NodeInfo(
                name=n.name,
                id=n.id,
                policy=_policy_from_proto(n.policy) if n.HasField("policy") else None,
            )
            for n in info.nodes
        ),
        edges=tuple(EdgeInfo(source=e.source, target=e.target) for e in info.edges),
        ingress=tuple(info.ingress),
        egress=tuple(info.egress),
    )
