# Post-processed by clients/python/scripts/generate.py (imports made
# package-relative). Regenerate with that script; never edit by hand.
from penguiflow_client.gen.penguiflow.v1 import events_pb2 as _events_pb2
from penguiflow_client.gen.penguiflow.v1 import flow_info_pb2 as _flow_info_pb2
from penguiflow_client.gen.penguiflow.v1 import messages_pb2 as _messages_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EmitRequest(_message.Message):
    __slots__ = ("flow", "message", "idempotency_key")
    FLOW_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    flow: str
    message: _messages_pb2.Message
    idempotency_key: str
    def __init__(self, flow: _Optional[str] = ..., message: _Optional[_Union[_messages_pb2.Message, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class EmitResponse(_message.Message):
    __slots__ = ("trace_id", "deduplicated")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    DEDUPLICATED_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    deduplicated: bool
    def __init__(self, trace_id: _Optional[str] = ..., deduplicated: _Optional[bool] = ...) -> None: ...

class FetchRequest(_message.Message):
    __slots__ = ("flow", "trace_id")
    FLOW_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    flow: str
    trace_id: str
    def __init__(self, flow: _Optional[str] = ..., trace_id: _Optional[str] = ...) -> None: ...

class FetchResponse(_message.Message):
    __slots__ = ("output", "error", "chunk", "end")
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    output: _messages_pb2.Message
    error: _messages_pb2.FlowError
    chunk: _messages_pb2.StreamChunk
    end: _messages_pb2.TraceEnd
    def __init__(self, output: _Optional[_Union[_messages_pb2.Message, _Mapping]] = ..., error: _Optional[_Union[_messages_pb2.FlowError, _Mapping]] = ..., chunk: _Optional[_Union[_messages_pb2.StreamChunk, _Mapping]] = ..., end: _Optional[_Union[_messages_pb2.TraceEnd, _Mapping]] = ...) -> None: ...

class CallRequest(_message.Message):
    __slots__ = ("flow", "message", "idempotency_key")
    FLOW_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    flow: str
    message: _messages_pb2.Message
    idempotency_key: str
    def __init__(self, flow: _Optional[str] = ..., message: _Optional[_Union[_messages_pb2.Message, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CallResponse(_message.Message):
    __slots__ = ("trace_id", "output", "error")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    output: _messages_pb2.Message
    error: _messages_pb2.FlowError
    def __init__(self, trace_id: _Optional[str] = ..., output: _Optional[_Union[_messages_pb2.Message, _Mapping]] = ..., error: _Optional[_Union[_messages_pb2.FlowError, _Mapping]] = ...) -> None: ...

class CallStreamRequest(_message.Message):
    __slots__ = ("flow", "message", "idempotency_key")
    FLOW_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    flow: str
    message: _messages_pb2.Message
    idempotency_key: str
    def __init__(self, flow: _Optional[str] = ..., message: _Optional[_Union[_messages_pb2.Message, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CallStreamResponse(_message.Message):
    __slots__ = ("trace_id", "update")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    update: _messages_pb2.TraceUpdate
    def __init__(self, trace_id: _Optional[str] = ..., update: _Optional[_Union[_messages_pb2.TraceUpdate, _Mapping]] = ...) -> None: ...

class StreamTraceRequest(_message.Message):
    __slots__ = ("flow", "trace_id")
    FLOW_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    flow: str
    trace_id: str
    def __init__(self, flow: _Optional[str] = ..., trace_id: _Optional[str] = ...) -> None: ...

class StreamTraceResponse(_message.Message):
    __slots__ = ("trace_id", "update")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    update: _messages_pb2.TraceUpdate
    def __init__(self, trace_id: _Optional[str] = ..., update: _Optional[_Union[_messages_pb2.TraceUpdate, _Mapping]] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("flow", "trace_id")
    FLOW_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    flow: str
    trace_id: str
    def __init__(self, flow: _Optional[str] = ..., trace_id: _Optional[str] = ...) -> None: ...

class CancelResponse(_message.Message):
    __slots__ = ("cancelled",)
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    cancelled: bool
    def __init__(self, cancelled: _Optional[bool] = ...) -> None: ...

class SubscribeEventsRequest(_message.Message):
    __slots__ = ("flow", "trace_ids", "event_types", "after_seq")
    FLOW_FIELD_NUMBER: _ClassVar[int]
    TRACE_IDS_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    flow: str
    trace_ids: _containers.RepeatedScalarFieldContainer[str]
    event_types: _containers.RepeatedScalarFieldContainer[str]
    after_seq: int
    def __init__(self, flow: _Optional[str] = ..., trace_ids: _Optional[_Iterable[str]] = ..., event_types: _Optional[_Iterable[str]] = ..., after_seq: _Optional[int] = ...) -> None: ...

class SubscribeEventsResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _events_pb2.FlowEvent
    def __init__(self, event: _Optional[_Union[_events_pb2.FlowEvent, _Mapping]] = ...) -> None: ...

class GetHistoryRequest(_message.Message):
    __slots__ = ("flow", "trace_id")
    FLOW_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    flow: str
    trace_id: str
    def __init__(self, flow: _Optional[str] = ..., trace_id: _Optional[str] = ...) -> None: ...

class GetHistoryResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_events_pb2.FlowEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[_events_pb2.FlowEvent, _Mapping]]] = ...) -> None: ...

class ListFlowsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListFlowsResponse(_message.Message):
    __slots__ = ("flows",)
    FLOWS_FIELD_NUMBER: _ClassVar[int]
    flows: _containers.RepeatedCompositeFieldContainer[_flow_info_pb2.FlowInfo]
    def __init__(self, flows: _Optional[_Iterable[_Union[_flow_info_pb2.FlowInfo, _Mapping]]] = ...) -> None: ...
