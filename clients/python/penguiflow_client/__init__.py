"""Python client of the PenguiFlow gRPC flow-execution service (``penguiflow.v1.FlowService``).

Quick start::

    from penguiflow_client import FlowClient, Output

    with FlowClient("localhost:50051", token="...") as client:
        result = client.call("echo", {"text": "hi"}, timeout=5)
        print(result.payload)

:class:`FlowClient` is synchronous; :class:`AsyncFlowClient` has the same
methods for asyncio. Every result is a frozen dataclass of plain Python
values; every RPC failure is a :class:`FlowClientError`.
"""

from penguiflow_client._options import AsyncTokenProvider, TokenProvider, __version__
from penguiflow_client._types import (
    CallResult,
    Chunk,
    EdgeInfo,
    EmitResult,
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
from penguiflow_client.aio import AsyncEventStream, AsyncFlowClient, AsyncResponseStream, AsyncTraceStream
from penguiflow_client.client import EventStream, FlowClient, ResponseStream, TraceStream
from penguiflow_client.errors import (
    ErrorInfo,
    FieldViolation,
    FlowClientError,
    QuotaViolation,
    RawErrorDetail,
)

__all__ = [
    "AsyncEventStream",
    "AsyncFlowClient",
    "AsyncResponseStream",
    "AsyncTokenProvider",
    "AsyncTraceStream",
    "CallResult",
    "Chunk",
    "EdgeInfo",
    "EmitResult",
    "ErrorInfo",
    "EventStream",
    "FetchResult",
    "FieldViolation",
    "FlowClient",
    "FlowClientError",
    "FlowErrorCode",
    "FlowErrorData",
    "FlowEventData",
    "FlowInfo",
    "Headers",
    "JSONObject",
    "JSONValue",
    "NodeInfo",
    "NodePolicy",
    "Output",
    "QuotaViolation",
    "RawErrorDetail",
    "ResponseStream",
    "TokenProvider",
    "TraceEnd",
    "TraceStatus",
    "TraceStream",
    "TraceUpdate",
    "__version__",
]
