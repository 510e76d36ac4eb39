"""The synchronous client, :class:`FlowClient`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, TypeVar

import grpc

from penguiflow_client import _convert
from penguiflow_client._options import ClientOptions, TokenProvider
from penguiflow_client._types import (
    CallResult,
    EmitResult,
    FetchResult,
    FlowEventData,
    FlowInfo,
    JSONValue,
    TraceUpdate,
)
from penguiflow_client.errors import FlowClientError, closed_error
from penguiflow_client.gen.penguiflow.v1 import flow_service_pb2 as pb
from penguiflow_client.gen.penguiflow.v1 import flow_service_pb2_grpc as pb_grpc

T = TypeVar("T")

Bytes = bytes | bytearray | memoryview


class ResponseStream(Generic[T]):
    """An iterator over a server stream, with :meth:`cancel`.

    Iterating raises :class:`FlowClientError` when the RPC fails. After
    :meth:`cancel` (or leaving a ``with`` block), iteration simply stops.
    Use it as a context manager to make sure the RPC is cancelled when the
    loop is left early.
    """

    def __init__(self, call: Any, convert: Callable[[Any], T]) -> None:
        self._call = call
        self._convert = convert
        self._cancelled = False
        self._done = False

    def __iter__(self) -> ResponseStream[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        try:
            response = next(self._call)
        except StopIteration:
            self._done = True
            raise
        except grpc.RpcError as exc:
            self._done = True
            if self._cancelled and exc.code() == grpc.StatusCode.CANCELLED:
                raise StopIteration from None
            raise FlowClientError.from_rpc_error(exc) from exc
        return self._convert(response)

    def cancel(self) -> None:
        """Cancel the RPC. For ``call_stream`` the server then cancels the trace
        (server-configurable); for ``stream_trace`` and ``subscribe_events`` it
        does not."""
        self._cancelled = True
        self._call.cancel()

    close = cancel

    def __enter__(self) -> ResponseStream[T]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._done:
            self.cancel()


class TraceStream(ResponseStream[TraceUpdate]):
    """Iterator of the :data:`~penguiflow_client.TraceUpdate` items of one trace
    (``call_stream``, ``stream_trace``); the last item is a
    :class:`~penguiflow_client.TraceEnd`."""

    def __init__(self, call: Any, trace_id: str = "") -> None:
        self.trace_id = trace_id
        """Trace id of the stream; for ``call_stream`` known after the first update."""
        super().__init__(call, self._update)

    def _update(self, response: pb.CallStreamResponse | pb.StreamTraceResponse) -> TraceUpdate:
        if response.trace_id:
            self.trace_id = response.trace_id
        return _convert.update_from_proto(response.update, response.trace_id or self.trace_id)


class EventStream(ResponseStream[FlowEventData]):
    """Iterator of live :class:`~penguiflow_client.FlowEventData` (``subscribe_events``).

    :attr:`last_seq` maps each trace id to the last seq received, ready to be
    passed back as ``after_seq`` when resuming.
    """

    def __init__(self, call: Any) -> None:
        self.last_seq: dict[str, int] = {}
        super().__init__(call, self._event)

    def _event(self, response: pb.SubscribeEventsResponse) -> FlowEventData:
        event = _convert.event_from_proto(response.event)
        if event.trace_id:
            self.last_seq[event.trace_id] = event.seq
        return event


class FlowClient:
    """Synchronous client of ``penguiflow.v1.FlowService``.

    Args:
        target: ``host:port`` of the server (any gRPC target string).
        token: static bearer token, sent as ``authorization: Bearer <token>``.
        credentials: callable returning the bearer token, called before every
            RPC (for rotating tokens). Mutually exclusive with ``token``. If it
            raises, the call fails with ``FlowClientError(UNAUTHENTICATED)``.
        tenant: sent as the ``x-tenant-id`` header (trusted mesh mode).
        tls: use TLS (implied by any of the certificate options); with no
            ``root_certificates`` the system roots are used.
        root_certificates: PEM CA bundle to verify the server.
        private_key, certificate_chain: PEM client key and certificate (mTLS).
        tls_server_name: expected server name in the certificate, when it
            differs from the host of ``target``.
        default_timeout: deadline in seconds applied to every call that has
            no ``timeout=`` of its own, except ``subscribe_events`` (an
            open-ended stream). ``None`` = no deadline.
        metadata: extra headers sent with every call.
        options: extra gRPC channel arguments.

    Every method accepts ``timeout=`` (seconds): the gRPC deadline of that
    call (of the whole stream, for streams). For ``emit``, ``call`` and
    ``call_stream`` the server also makes it the message deadline. When it
    passes, the call raises ``FlowClientError`` with code
    ``DEADLINE_EXCEEDED``.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        credentials: TokenProvider | None = None,
        tenant: str | None = None,
        tls: bool | None = None,
        root_certificates: bytes | None = None,
        private_key: bytes | None = None,
        certificate_chain: bytes | None = None,
        tls_server_name: str | None = None,
        default_timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
        options: Sequence[tuple[str, Any]] | None = None,
    ) -> None:
        self._opts = ClientOptions(
            target,
            token=token,
            credentials=credentials,
            tenant=tenant,
            tls=tls,
            root_certificates=root_certificates,
            private_key=private_key,
            certificate_chain=certificate_chain,
            tls_server_name=tls_server_name,
            default_timeout=default_timeout,
            metadata=metadata,
            options=options,
        )
        creds = self._opts.channel_credentials()
        if creds is None:
            self._channel = grpc.insecure_channel(target, options=self._opts.channel_options)
        else:
            self._channel = grpc.secure_channel(target, creds, options=self._opts.channel_options)
        self._stub: Any = pb_grpc.FlowServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._closed = False
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------

    @property
    def target(self) -> str:
        """The server address this client talks to."""
        return self._opts.target

    def close(self) -> None:
        """Close the channel. Idempotent.

        Calls and streams in flight end with CANCELLED; a call made afterwards
        raises :class:`FlowClientError` FAILED_PRECONDITION (``client_side``,
        message ``the client is closed``) without sending anything, as in the
        TypeScript and Go clients.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._channel.close()

    def __enter__(self) -> FlowClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FlowClient({self._opts.target!r}, tls={self._opts.tls})"

    # -- plumbing ----------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise closed_error()

    def _unary(self, method: Callable[..., Any], request: Any, timeout: float | None) -> Any:
        self._check_open()
        metadata = self._opts.sync_metadata()
        try:
            return method(request, timeout=self._opts.timeout(timeout), metadata=metadata)
        except grpc.RpcError as exc:
            raise FlowClientError.from_rpc_error(exc) from exc
        except ValueError as exc:  # grpc raises ValueError on a channel closed since the check
            if self._closed:
                raise closed_error() from exc
            raise

    def _stream(self, method: Callable[..., Any], request: Any, timeout: float | None) -> Any:
        self._check_open()
        metadata = self._opts.sync_metadata()
        try:
            return method(request, timeout=timeout, metadata=metadata)
        except ValueError as exc:
            if self._closed:
                raise closed_error() from exc
            raise

    # -- RPCs --------------------------------------------------------------

    def emit(
        self,
        flow: str,
        payload: JSONValue = None,
        *,
        binary: Bytes | None = None,
        trace_id: str | None = None,
        deadline: datetime | float | None = None,
        meta: Mapping[str, Any] | None = None,
        topic: str | None = None,
        priority: int | None = None,
        message_tenant: str | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> EmitResult:
        """Put a message into ``flow`` and return its trace id without waiting for output.

        Args:
            flow: name of a hosted flow (see :meth:`list_flows`).
            payload: the JSON body (dict, list, str, int, float, bool or None).
            binary: raw bytes sent instead of ``payload`` (node code receives bytes).
            trace_id: trace id to use; omitted = the server generates one.
                Emitting onto a trace in flight adds the message to it.
            deadline: absolute message deadline (``datetime`` or epoch
                seconds); the server keeps the earlier of it and ``timeout``.
            meta: free-form JSON object travelling with the message.
            topic, priority: message headers for routers inside the flow.
            message_tenant: ``headers.tenant`` of the message; normally leave
                unset (the server fills it from your identity and rejects a
                different one with PERMISSION_DENIED).
            idempotency_key: makes retries safe: a repeat with the same key
                does not emit again and returns ``deduplicated=True``.
            timeout: deadline of this call in seconds.

        Raises:
            FlowClientError: NOT_FOUND (unknown flow), INVALID_ARGUMENT,
                PERMISSION_DENIED, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED,
                UNAUTHENTICATED, UNAVAILABLE.
        """
        message = _convert.build_message(
            payload,
            binary=binary,
            trace_id=trace_id,
            deadline=deadline,
            meta=meta,
            topic=topic,
            priority=priority,
            message_tenant=message_tenant,
        )
        request = _convert.send_request(pb.EmitRequest, flow, message, idempotency_key)
        response: pb.EmitResponse = self._unary(self._stub.Emit, request, timeout)
        return EmitResult(trace_id=response.trace_id, deduplicated=response.deduplicated)

    def fetch(self, flow: str, trace_id: str, *, timeout: float | None = None) -> FetchResult:
        """Return the next output of a trace, waiting up to ``timeout`` for one.

        Returns an :class:`~penguiflow_client.Output`, a
        :class:`~penguiflow_client.FlowErrorData` (a node failed for good), a
        :class:`~penguiflow_client.Chunk`, or a
        :class:`~penguiflow_client.TraceEnd` once the trace finished and
        every output was fetched. Each output is delivered exactly once.

        Raises:
            FlowClientError: DEADLINE_EXCEEDED (nothing arrived in time; the
                trace keeps running and a later fetch can still get it),
                CANCELLED (the trace was cancelled), NOT_FOUND (unknown flow
                or trace), INVALID_ARGUMENT (malformed trace id).
        """
        request = pb.FetchRequest(flow=flow, trace_id=trace_id)
        response: pb.FetchResponse = self._unary(self._stub.Fetch, request, timeout)
        return _convert.fetch_result_from_proto(response, trace_id)

    def call(
        self,
        flow: str,
        payload: JSONValue = None,
        *,
        binary: Bytes | None = None,
        trace_id: str | None = None,
        deadline: datetime | float | None = None,
        meta: Mapping[str, Any] | None = None,
        topic: str | None = None,
        priority: int | None = None,
        message_tenant: str | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> CallResult:
        """Emit + fetch in one round trip: return the trace's first output.

        Arguments as :meth:`emit`. Chunks produced before the first output
        are not returned (use :meth:`call_stream`); later outputs stay
        available to :meth:`fetch` / :meth:`stream_trace` under
        ``result.trace_id``. If ``timeout`` passes first, the server cancels
        the trace (server-configurable).

        Raises:
            FlowClientError: as :meth:`emit`, plus CANCELLED (the trace was
                cancelled, e.g. by :meth:`cancel` from elsewhere).
        """
        message = _convert.build_message(
            payload,
            binary=binary,
            trace_id=trace_id,
            deadline=deadline,
            meta=meta,
            topic=topic,
            priority=priority,
            message_tenant=message_tenant,
        )
        request = _convert.send_request(pb.CallRequest, flow, message, idempotency_key)
        response: pb.CallResponse = self._unary(self._stub.Call, request, timeout)
        return _convert.call_result_from_proto(response)

    def call_stream(
        self,
        flow: str,
        payload: JSONValue = None,
        *,
        binary: Bytes | None = None,
        trace_id: str | None = None,
        deadline: datetime | float | None = None,
        meta: Mapping[str, Any] | None = None,
        topic: str | None = None,
        priority: int | None = None,
        message_tenant: str | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> TraceStream:
        """Emit, then iterate every chunk, output and error of the trace, then its end.

        Arguments as :meth:`emit`; ``timeout`` bounds the whole stream. The
        returned :class:`TraceStream` yields :class:`~penguiflow_client.Chunk`,
        :class:`~penguiflow_client.Output`,
        :class:`~penguiflow_client.FlowErrorData` and, last, exactly one
        :class:`~penguiflow_client.TraceEnd` (also for a cancelled trace).
        Cancelling the stream (or its deadline passing) before the end makes
        the server cancel the trace (server-configurable).

        Raises (from the iterator):
            FlowClientError: as :meth:`emit`; DEADLINE_EXCEEDED when
                ``timeout`` passes before the end.
        """
        message = _convert.build_message(
            payload,
            binary=binary,
            trace_id=trace_id,
            deadline=deadline,
            meta=meta,
            topic=topic,
            priority=priority,
            message_tenant=message_tenant,
        )
        request = _convert.send_request(pb.CallStreamRequest, flow, message, idempotency_key)
        call = self._stream(self._stub.CallStream, request, self._opts.timeout(timeout))
        return TraceStream(call, trace_id or "")

    def stream_trace(self, flow: str, trace_id: str, *, timeout: float | None = None) -> TraceStream:
        """Iterate the not-yet-delivered chunks and outputs of an emitted trace, then its end.

        Outputs already taken by :meth:`fetch` or :meth:`call` are not
        repeated; for a finished trace the rest and the end arrive at once.
        Cancelling this stream does NOT cancel the trace (use :meth:`cancel`).

        Raises (from the iterator):
            FlowClientError: NOT_FOUND (unknown flow or trace),
                INVALID_ARGUMENT, DEADLINE_EXCEEDED.
        """
        request = pb.StreamTraceRequest(flow=flow, trace_id=trace_id)
        call = self._stream(self._stub.StreamTrace, request, self._opts.timeout(timeout))
        return TraceStream(call, trace_id)

    def cancel(self, flow: str, trace_id: str, *, timeout: float | None = None) -> bool:
        """Cancel a trace; return True if this call cancelled it.

        False means the trace already finished or was already cancelled.
        Pending fetch/call on it then fail with CANCELLED and its streams end
        with ``TraceEnd(status=CANCELLED)``.

        Raises:
            FlowClientError: NOT_FOUND (unknown flow; a trace the server does
                not know or another tenant's), INVALID_ARGUMENT.
        """
        request = pb.CancelRequest(flow=flow, trace_id=trace_id)
        response: pb.CancelResponse = self._unary(self._stub.Cancel, request, timeout)
        return response.cancelled

    def subscribe_events(
        self,
        flow: str | None = None,
        *,
        trace_ids: Iterable[str] | str | None = None,
        event_types: Iterable[str] | str | None = None,
        after_seq: int = 0,
        timeout: float | None = None,
    ) -> EventStream:
        """Iterate live :class:`~penguiflow_client.FlowEventData` of your tenant.

        Filters combine with AND; omitted = everything. With ``trace_ids``
        the server first replays each listed trace's stored events with
        ``seq > after_seq`` (0 = whole history), then continues live with no
        gap and no duplicate; without it the stream is live only. To resume
        a dropped subscription pass the last seq received. The stream stays
        open until cancelled (``with`` block / :meth:`EventStream.cancel`)
        or ``timeout`` passes (``default_timeout`` does not apply here).

        Raises (from the iterator):
            FlowClientError: INVALID_ARGUMENT (unknown event type), NOT_FOUND
                (unknown flow), DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (slow
                consumer; resume with after_seq), UNAVAILABLE (server draining;
                reconnect and resume).
        """
        request = _convert.build_subscribe_request(flow, trace_ids, event_types, after_seq)
        call = self._stream(self._stub.SubscribeEvents, request, self._opts.stream_timeout(timeout))
        return EventStream(call)

    def get_history(self, flow: str, trace_id: str, *, timeout: float | None = None) -> list[FlowEventData]:
        """Return a trace's stored events in seq order (running or finished trace).

        Raises:
            FlowClientError: NOT_FOUND (unknown flow or trace), INVALID_ARGUMENT.
        """
        request = pb.GetHistoryRequest(flow=flow, trace_id=trace_id)
        response: pb.GetHistoryResponse = self._unary(self._stub.GetHistory, request, timeout)
        return [_convert.event_from_proto(e) for e in response.events]

    def list_flows(self, *, timeout: float | None = None) -> list[FlowInfo]:
        """Return the hosted flows (sorted by name) with their nodes, edges and policies."""
        response: pb.ListFlowsResponse = self._unary(self._stub.ListFlows, pb.ListFlowsRequest(), timeout)
        return [_convert.flow_info_from_proto(f) for f in response.flows]
