# Post-processed by clients/python/scripts/generate.py (imports made
# package-relative). Regenerate with that script; never edit by hand.
import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FlowErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FLOW_ERROR_CODE_UNSPECIFIED: _ClassVar[FlowErrorCode]
    FLOW_ERROR_CODE_NODE_TIMEOUT: _ClassVar[FlowErrorCode]
    FLOW_ERROR_CODE_NODE_EXCEPTION: _ClassVar[FlowErrorCode]
    FLOW_ERROR_CODE_TRACE_CANCELLED: _ClassVar[FlowErrorCode]
    FLOW_ERROR_CODE_DEADLINE_EXCEEDED: _ClassVar[FlowErrorCode]
    FLOW_ERROR_CODE_HOP_BUDGET_EXHAUSTED: _ClassVar[FlowErrorCode]
    FLOW_ERROR_CODE_TOKEN_BUDGET_EXHAUSTED: _ClassVar[FlowErrorCode]

class TraceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRACE_STATUS_UNSPECIFIED: _ClassVar[TraceStatus]
    TRACE_STATUS_COMPLETED: _ClassVar[TraceStatus]
    TRACE_STATUS_FAILED: _ClassVar[TraceStatus]
    TRACE_STATUS_CANCELLED: _ClassVar[TraceStatus]
    TRACE_STATUS_DEADLINE_EXCEEDED: _ClassVar[TraceStatus]
FLOW_ERROR_CODE_UNSPECIFIED: FlowErrorCode
FLOW_ERROR_CODE_NODE_TIMEOUT: FlowErrorCode
FLOW_ERROR_CODE_NODE_EXCEPTION: FlowErrorCode
FLOW_ERROR_CODE_TRACE_CANCELLED: FlowErrorCode
FLOW_ERROR_CODE_DEADLINE_EXCEEDED: FlowErrorCode
FLOW_ERROR_CODE_HOP_BUDGET_EXHAUSTED: FlowErrorCode
FLOW_ERROR_CODE_TOKEN_BUDGET_EXHAUSTED: FlowErrorCode
TRACE_STATUS_UNSPECIFIED: TraceStatus
TRACE_STATUS_COMPLETED: TraceStatus
TRACE_STATUS_FAILED: TraceStatus
TRACE_STATUS_CANCELLED: TraceStatus
TRACE_STATUS_DEADLINE_EXCEEDED: TraceStatus

class Headers(_message.Message):
    __slots__ = ("tenant", "topic", "priority")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    topic: str
    priority: int
    def __init__(self, tenant: _Optional[str] = ..., topic: _Optional[str] = ..., priority: _Optional[int] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ("payload", "binary", "headers", "trace_id", "ts", "deadline", "meta")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    BINARY_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    payload: _struct_pb2.Value
    binary: bytes
    headers: Headers
    trace_id: str
    ts: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    meta: _struct_pb2.Struct
    def __init__(self, payload: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., binary: _Optional[bytes] = ..., headers: _Optional[_Union[Headers, _Mapping]] = ..., trace_id: _Optional[str] = ..., ts: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., meta: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class StreamChunk(_message.Message):
    __slots__ = ("stream_id", "seq", "text", "done", "meta")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    seq: int
    text: str
    done: bool
    meta: _struct_pb2.Struct
    def __init__(self, stream_id: _Optional[str] = ..., seq: _Optional[int] = ..., text: _Optional[str] = ..., done: _Optional[bool] = ..., meta: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class FlowError(_message.Message):
    __slots__ = ("code", "message", "trace_id", "node_name", "node_id", "metadata", "exception_type")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EXCEPTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    code: FlowErrorCode
    message: str
    trace_id: str
    node_name: str
    node_id: str
    metadata: _struct_pb2.Struct
    exception_type: str
    def __init__(self, code: _Optional[_Union[FlowErrorCode, str]] = ..., message: _Optional[str] = ..., trace_id: _Optional[str] = ..., node_name: _Optional[str] = ..., node_id: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., exception_type: _Optional[str] = ...) -> None: ...

class TraceEnd(_message.Message):
    __slots__ = ("status", "error")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    status: TraceStatus
    error: FlowError
    def __init__(self, status: _Optional[_Union[TraceStatus, str]] = ..., error: _Optional[_Union[FlowError, _Mapping]] = ...) -> None: ...

class TraceUpdate(_message.Message):
    __slots__ = ("chunk", "output", "error", "end")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    chunk: StreamChunk
    output: Message
    error: FlowError
    end: TraceEnd
    def __init__(self, chunk: _Optional[_Union[StreamChunk, _Mapping]] = ..., output: _Optional[_Union[Message, _Mapping]] = ..., error: _Optional[_Union[FlowError, _Mapping]] = ..., end: _Optional[_Union[TraceEnd, _Mapping]] = ...) -> None: ...
