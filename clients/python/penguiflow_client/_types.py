"""Plain-data result types of the PenguiFlow client.

Protobuf messages never leak out of the client: every method returns these
frozen dataclasses (or plain Python values). Conventions:

* JSON travels as plain Python values (:data:`JSONValue`). Numbers travel as
  IEEE-754 doubles (``google.protobuf.Value``); a received number that is a
  whole number within +/-2**53 comes back as ``int``, any other as ``float``.
* Absolute times are timezone-aware ``datetime`` objects in UTC;
  durations are milliseconds in fields whose name ends in ``_ms``.
* Collections inside results are tuples; JSON objects are ``dict`` with
  sorted keys (a protobuf ``Struct`` is a map and carries no key order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeAlias

JSONValue: TypeAlias = None | bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"]
"""Any JSON value: what ``google.protobuf.Value`` carries on the wire."""

JSONObject: TypeAlias = dict[str, JSONValue]
"""A JSON object: what ``google.protobuf.Struct`` carries (meta, metadata, extra)."""


class FlowErrorCode(StrEnum):
    """Why a node failed for good (the proto enum name without ``FLOW_ERROR_CODE_``).

    An unset (``UNSPECIFIED``) or unknown code received from the server is
    reported as :attr:`NODE_EXCEPTION`, as the contract prescribes.
    """

    NODE_TIMEOUT = "NODE_TIMEOUT"
    NODE_EXCEPTION = "NODE_EXCEPTION"
    TRACE_CANCELLED = "TRACE_CANCELLED"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    HOP_BUDGET_EXHAUSTED = "HOP_BUDGET_EXHAUSTED"
    TOKEN_BUDGET_EXHAUSTED = "TOKEN_BUDGET_EXHAUSTED"


class TraceStatus(StrEnum):
    """Final state of a trace, carried by :class:`TraceEnd`.

    A conforming server never sends ``UNSPECIFIED``; it is kept (rather than
    guessed away) so that a misbehaving server is visible to the caller.
    """

    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    UNSPECIFIED = "UNSPECIFIED"


@dataclass(frozen=True)
class Headers:
    """Routing and tenancy headers of a message."""

    tenant: str = ""
    """Tenant that owns the message; always set on outputs."""
    topic: str = ""
    """Topic used by routers inside the flow; ``""`` = no topic."""
    priority: int = 0
    """Priority (informational); ``0`` = default."""


@dataclass(frozen=True)
class Output:
    """An output message of a trace (from ``fetch``, ``call``, ``call_stream``, ``stream_trace``).

    Exactly one of ``payload`` / ``binary`` carries the body: for a binary
    body ``binary`` holds the bytes and ``payload`` is ``None``; for a JSON
    body ``payload`` is the value (possibly ``None`` for JSON null) and
    ``binary`` is ``None``.
    """

    payload: JSONValue
    """JSON body (``None`` for JSON null, or when the body is binary)."""
    binary: bytes | None
    """Binary body, or ``None`` when the body is JSON."""
    trace_id: str
    """Trace the message belongs to."""
    headers: Headers = field(default_factory=Headers)
    """Routing and tenancy headers."""
    ts: datetime | None = None
    """Creation time (UTC); ``None`` only if the server omitted it."""
    deadline: datetime | None = None
    """Absolute deadline (UTC); ``None`` = no deadline."""
    meta: JSONObject = field(default_factory=dict)
    """Free-form metadata; ``{}`` when none."""


@dataclass(frozen=True)
class FlowErrorData:
    """A node failed for good.

    This is data, not an exception: the RPC that returned it succeeded
    (status OK). Compare :class:`~penguiflow_client.FlowClientError`, raised
    when the RPC itself fails.
    """

    code: FlowErrorCode
    """Machine-readable reason."""
    message: str
    """Human-readable description, safe to show."""
    trace_id: str
    """Trace the failure belongs to."""
    node_name: str = ""
    """Node that failed; ``""`` if not attributable to a node."""
    node_id: str = ""
    """Stable id of the node that failed; ``""`` if not attributable."""
    metadata: JSONObject = field(default_factory=dict)
    """Diagnostic data (e.g. attempts, timeout_ms); ``{}`` when none."""
    exception_type: str = ""
    """Class name of the original error (e.g. ``TypeError``); ``""`` if unknown."""


@dataclass(frozen=True)
class Chunk:
    """One piece of a streamed answer produced by a streaming node.

    Chunks of one ``stream_id`` arrive in ``seq`` order (0, 1, 2, ...),
    restarting at 0 after a chunk with ``done=True``.
    """

    stream_id: str
    """Stream within the trace (defaults to the trace id on the server side)."""
    seq: int
    """Position in the stream."""
    text: str
    """Text of this piece; may be ``""`` (e.g. on the final ``done`` chunk)."""
    done: bool
    """True on the last chunk of the stream."""
    meta: JSONObject = field(default_factory=dict)
    """Node-attached metadata; ``{}`` when none."""
    trace_id: str = ""
    """Trace the chunk belongs to."""


@dataclass(frozen=True)
class TraceEnd:
    """How a trace ended: always the last update of a trace stream."""

    status: TraceStatus
    """Final status of the trace."""
    error: FlowErrorData | None = None
    """The trace's last FlowError; set only when ``status`` is FAILED."""
    trace_id: str = ""
    """Trace that ended."""


TraceUpdate: TypeAlias = Chunk | Output | FlowErrorData | TraceEnd
"""One item of ``call_stream`` / ``stream_trace``; a :class:`TraceEnd` is always last.

Dispatch with ``isinstance`` or ``match``::

    match update:
        case Chunk(text=text): ...
        case Output(payload=payload): ...
        case FlowErrorData(code=code): ...
        case TraceEnd(status=status): ...
"""

FetchResult: TypeAlias = Output | FlowErrorData | Chunk | TraceEnd
"""Result of ``fetch``: the next output, error or chunk of a trace, or its end.

A :class:`TraceEnd` means the trace finished and every output was fetched (a
later fetch returns the same end). A cancelled trace is not a result: fetch
raises :class:`~penguiflow_client.FlowClientError` with code CANCELLED.
"""


@dataclass(frozen=True)
class EmitResult:
    """Result of ``emit``."""

    trace_id: str
    """Trace id of the emitted message (the caller's or a server-generated one)."""
    deduplicated: bool = False
    """True when the idempotency key was seen before and nothing new was emitted."""


@dataclass(frozen=True)
class CallResult:
    """Result of ``call``: the trace id and the trace's first output.

    ``result`` is an :class:`Output`, a :class:`FlowErrorData` (a node failed
    for good before any output) or ``None`` (the trace ended without output).
    """

    trace_id: str
    """Trace id of the emitted message."""
    result: Output | FlowErrorData | None
    """The first output, the error, or ``None``."""

    @property
    def output(self) -> Output | None:
        """The first output message, or ``None`` if the result is an error or absent."""
        return self.result if isinstance(self.result, Output) else None

    @property
    def error(self) -> FlowErrorData | None:
        """The node failure, or ``None`` if the result is an output or absent."""
        return self.result if isinstance(self.result, FlowErrorData) else None

    @property
    def payload(self) -> JSONValue:
        """Shortcut for ``output.payload`` (``None`` when there is no output)."""
        out = self.output
        return out.payload if out is not None else None


@dataclass(frozen=True)
class FlowEventData:
    """One runtime observation (``subscribe_events``, ``get_history``). Never carries payloads."""

    event_type: str
    """What happened, e.g. ``node_start``, ``node_failed``, ``trace_cancel_finish``."""
    ts: datetime | None
    """When it happened (UTC); ``None`` only if the server omitted it."""
    node_name: str
    """Node concerned; ``""`` for trace-level events."""
    node_id: str
    """Stable id of the node concerned; ``""`` for trace-level events."""
    trace_id: str
    """Trace the event belongs to; ``""`` only for events not tied to a trace."""
    attempt: int
    """0-based attempt number of the invocation."""
    latency_ms: float | None
    """Invocation latency; set on node_success/error/timeout/failed only."""
    queue_depth_in: int
    """Messages waiting on the node's incoming edges."""
    queue_depth_out: int
    """Messages waiting on the node's outgoing edges."""
    outgoing_edges: int
    """Number of outgoing edges of the node."""
    queue_maxsize: int
    """Capacity of each edge queue; ``<= 0`` = unbounded."""
    trace_pending: int | None
    """Messages of the trace queued or running; ``None`` when the event has no trace."""
    trace_inflight: int | None
    """Invocations of the trace running now; ``None`` when the event has no trace."""
    trace_cancelled: bool
    """True when the trace is cancelled or being cancelled."""
    extra: JSONObject
    """Event-specific diagnostics; ``{}`` when none."""
    flow: str
    """Hosted flow that produced the event."""
    tenant: str
    """Tenant owning the trace (always the caller's)."""
    seq: int
    """Per-trace sequence number (1, 2, 3, ...); pass the last one as ``after_seq`` to resume."""


@dataclass(frozen=True)
class NodePolicy:
    """A node's effective reliability policy (defaults filled in); times in ms."""

    validate: str
    """Validated side: ``both``, ``in``, ``out`` or ``none``."""
    timeout_ms: float | None
    """Per-invocation timeout; ``None`` = none."""
    max_retries: int
    """Attempts after the first."""
    backoff_base_ms: float
    """Backoff base."""
    backoff_mult: float
    """Backoff multiplier."""
    max_backoff_ms: float | None
    """Cap of one backoff wait; ``None`` = no cap."""
    max_concurrency: int
    """Invocations that may run at once."""


@dataclass(frozen=True)
class NodeInfo:
    """One node of a hosted flow."""

    name: str
    """Node name (as in ``FlowEventData.node_name``)."""
    id: str
    """Stable node id (as in ``FlowEventData.node_id``)."""
    policy: NodePolicy | None
    """Effective policy; ``None`` only if the server omitted it."""


@dataclass(frozen=True)
class EdgeInfo:
    """A directed edge between two nodes, by node name."""

    source: str
    target: str


@dataclass(frozen=True)
class FlowInfo:
    """A flow hosted by the server (``list_flows``)."""

    name: str
    """Name to pass as ``flow`` to every method."""
    description: str
    """Description supplied by the flow module; may be ``""``."""
    nodes: tuple[NodeInfo, ...]
    edges: tuple[EdgeInfo, ...]
    ingress: tuple[str, ...]
    """Names of the ingress nodes (fed by emit)."""
    egress: tuple[str, ...]
    """Names of the egress nodes (whose outputs are returned)."""
