# Post-processed by clients/python/scripts/generate.py (imports made
# package-relative). Regenerate with that script; never edit by hand.
import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FlowEvent(_message.Message):
    __slots__ = ("event_type", "ts", "node_name", "node_id", "trace_id", "attempt", "latency_ms", "queue_depth_in", "queue_depth_out", "outgoing_edges", "queue_maxsize", "trace_pending", "trace_inflight", "trace_cancelled", "extra", "flow", "tenant", "seq")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_IN_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_OUT_FIELD_NUMBER: _ClassVar[int]
    OUTGOING_EDGES_FIELD_NUMBER: _ClassVar[int]
    QUEUE_MAXSIZE_FIELD_NUMBER: _ClassVar[int]
    TRACE_PENDING_FIELD_NUMBER: _ClassVar[int]
    TRACE_INFLIGHT_FIELD_NUMBER: _ClassVar[int]
    TRACE_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    FLOW_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    ts: _timestamp_pb2.Timestamp
    node_name: str
    node_id: str
    trace_id: str
    attempt: int
    latency_ms: float
    queue_depth_in: int
    queue_depth_out: int
    outgoing_edges: int
    queue_maxsize: int
    trace_pending: int
    trace_inflight: int
    trace_cancelled: bool
    extra: _struct_pb2.Struct
    flow: str
    tenant: str
    seq: int
    def __init__(self, event_type: _Optional[str] = ..., ts: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., node_name: _Optional[str] = ..., node_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., attempt: _Optional[int] = ..., latency_ms: _Optional[float] = ..., queue_depth_in: _Optional[int] = ..., queue_depth_out: _Optional[int] = ..., outgoing_edges: _Optional[int] = ..., queue_maxsize: _Optional[int] = ..., trace_pending: _Optional[int] = ..., trace_inflight: _Optional[int] = ..., trace_cancelled: _Optional[bool] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., flow: _Optional[str] = ..., tenant: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...
