# Post-processed by clients/python/scripts/generate.py (imports made
# package-relative). Regenerate with that script; never edit by hand.
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FlowInfo(_message.Message):
    __slots__ = ("name", "description", "nodes", "edges", "ingress", "egress")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    INGRESS_FIELD_NUMBER: _ClassVar[int]
    EGRESS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    edges: _containers.RepeatedCompositeFieldContainer[EdgeInfo]
    ingress: _containers.RepeatedScalarFieldContainer[str]
    egress: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[EdgeInfo, _Mapping]]] = ..., ingress: _Optional[_Iterable[str]] = ..., egress: _Optional[_Iterable[str]] = ...) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("name", "id", "policy")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    name: str
    id: str
    policy: NodePolicyInfo
    def __init__(self, name: _Optional[str] = ..., id: _Optional[str] = ..., policy: _Optional[_Union[NodePolicyInfo, _Mapping]] = ...) -> None: ...

class NodePolicyInfo(_message.Message):
    __slots__ = ("validate", "timeout_ms", "max_retries", "backoff_base_ms", "backoff_mult", "max_backoff_ms", "max_concurrency")
    VALIDATE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRIES_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_BASE_MS_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_MULT_FIELD_NUMBER: _ClassVar[int]
    MAX_BACKOFF_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    validate: str
    timeout_ms: float
    max_retries: int
    backoff_base_ms: float
    backoff_mult: float
    max_backoff_ms: float
    max_concurrency: int
    def __init__(self, validate: _Optional[str] = ..., timeout_ms: _Optional[float] = ..., max_retries: _Optional[int] = ..., backoff_base_ms: _Optional[float] = ..., backoff_mult: _Optional[float] = ..., max_backoff_ms: _Optional[float] = ..., max_concurrency: _Optional[int] = ...) -> None: ...

class EdgeInfo(_message.Message):
    __slots__ = ("source", "target")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    source: str
    target: str
    def __init__(self, source: _Optional[str] = ..., target: _Optional[str] = ...) -> None: ...
