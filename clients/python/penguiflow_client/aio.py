"""The asyncio client, :class:`AsyncFlowClient` (``grpc.aio``).

Same methods, arguments, results and errors as
:class:`~penguiflow_client.FlowClient`; unary methods are coroutines and the
streams are async iterators. Besides ``timeout=``, cancelling the awaiting
task (``asyncio.timeout``, ``task.cancel()``) cancels the RPC; for ``call``
and ``call_stream`` the server then cancels the trace (server-configurable).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, TypeVar

import grpc
import grpc.aio

from penguiflow_client import _convert
from penguiflow_client._options import AsyncTokenProvider, ClientOptions
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


class AsyncResponseStream(Generic[T]):
    """An async iterator over a server stream, with :meth:`cancel`.

    The RPC starts on the first iteration (the credentials callback may be
    async). Iterating raises :class:`FlowClientError` when the RPC fails.
    After :meth:`cancel` (or leaving an ``async with`` block) iteration
    simply stops; cancelling the iterating task cancels the RPC too.
    """

    def __init__(self, start: Callable[[], Awaitable[Any]], convert: Callable[[Any], T]) -> None:
        self._start = start
        self._convert = convert
        self._call: Any = None
        self._cancelled = False
        self._done = False

    def __aiter__(self) -> AsyncResponseStream[T]:
        return self

    async def __anext__(self) -> T:
        if self._done or self._cancelled:
            raise StopAsyncIteration
        try:
            if self._call is None:
                self._call = await self._start()
            response = await self._call.read()
        except grpc.aio.AioRpcError as exc:
            self._done = True
            if self._cancelled and exc.code() == grpc.StatusCode.CANCELLED:
                raise StopAsyncIteration from None
            raise FlowClientError.from_rpc_error(exc) from exc
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._cancelled and not (task is not None and task.cancelling()):
                self._done = True
                raise StopAsyncIteration from None
            self.cancel()  # our task is being cancelled: cancel the RPC with it
            raise
        if response is grpc.aio.EOF:
            self._done = True
            raise StopAsyncIteration
        return self._convert(response)

    def cancel(self) -> None:
        """Cancel the RPC (or prevent it from starting). For ``call_stream`` the
        server then cancels the trace (server-configurable); for
        ``stream_trace`` and ``subscribe_events`` it does not."""
        self._cancelled = True
        if self._call is not None and not self._done:
            self._call.cancel()

    async def aclose(self) -> None:
        """Same as :meth:`cancel` (async-generator style)."""
        self.cancel()

    async def __aenter__(self) -> AsyncResponseStream[T]:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._done:
            self.cancel()


class AsyncTraceStream(AsyncResponseStream[TraceUpdate]):
    """Async iterator of the :data:`~penguiflow_client.TraceUpdate` items of one
    trace; the last item is a :class:`~penguiflow_client.TraceEnd`."""

    def __init__(self, start: Callable[[], Awaitable[Any]], trace_id: str = "") -> None:
        self.trace_id = trace_id
        """Trace id of the stream; for ``call_stream`` known after the first update."""
        super().__init__(start, self._update)

    def _update(self, response: pb.CallStreamResponse | pb.StreamTraceResponse) -> TraceUpdate:
        if response.trace_id:
            self.trace_id = response.trace_id
        return _convert.update_from_proto(response.update, response.trace_id or self.trace_id)


class AsyncEventStream(AsyncResponseStream[FlowEventData]):
    """Async iterator of live :class:`~penguiflow_client.FlowEventData`.

    :attr:`last_seq` maps each trace id to the last seq received.
    """

    def __init__(self, start: Callable[[], Awaitable[Any]]) -> None:
        self.last_seq: dict[str, int] = {}
        super().__init__(start, self._event)

    def _event(self, response: pb.SubscribeEventsResponse) -> FlowEventData:
        event = _convert.event_from_proto(response.event)
        if event.trace_id:
            self.last_seq[event.trace_id] = event.seq
        return event


class AsyncFlowClient:
    """Asyncio client of ``penguiflow.v1.FlowService`` (``grpc.aio``).

    Constructor arguments as :class:`~penguiflow_client.FlowClient`, except
    that ``credentials`` may also be a coroutine function. Use
    ``async with AsyncFlowClient(...) as client:`` or ``await client.close()``.
    """

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        credentials: AsyncTokenProvider | None = None,
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
            self._channel = grpc.aio.insecure_channel(target, options=self._opts.channel_options)
        else:
            self._channel = grpc.aio.secure_channel(target, creds, options=self._opts.channel_options)
        self._stub: Any = pb_grpc.FlowServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._closed = False

    # -- lifecycle ---------------------------------------------------------

    @property
    def target(self) -> str:
        """The server address this client talks to."""
        return self._opts.target

    async def close(self) -> None:
        """Close the channel. Idempotent.

        Calls and streams in flight end with CANCELLED; a call made afterwards
        raises :class:`FlowClientError` FAILED_PRECONDITION (``client_side``,
        message ``the client is closed``) without sending anything, as in the
        TypeScript and Go clients.
        """
        if self._closed:
            return
        self._closed = True
        await self._channel.close()

    async def __aenter__(self) -> AsyncFlowClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncFlowClient({self._opts.target!r}, tls={self._opts.tls})"

    # -- plumbing ----------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise closed_error()

    async def _unary(self, method: Callable[..., Any], request: Any, timeout: float | None) -> Any:
        self._check_open()
        deadline = self._opts.timeout(timeout)
        metadata = await self._opts.async_metadata()
        try:
            return await method(request, timeout=deadline, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            raise FlowClientError.from_rpc_error(exc) from exc

    def _starter(self, method: Callable[..., Any], request: Any, timeout: float | None) -> Callable[[], Awaitable[Any]]:
        self._check_open()

        async def start() -> Any:
            self._check_open()
            metadata = await self._opts.async_metadata()
            return method(request, timeout=timeout, metadata=metadata)

        return start

    # -- RPCs --------------------------------------------------------------

    async def emit(
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
        """See :meth:`penguiflow_client.FlowClient.emit`."""
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
        response: pb.EmitResponse = await self._unary(self._stub.Emit, request, timeout)
        return EmitResult(trace_id=response.trace_id, deduplicated=response.deduplicated)

    async def fetch(self, flow: str, trace_id: str, *, timeout: float | None = None) -> FetchResult:
        """See :meth:`penguiflow_client.FlowClient.fetch`."""
        request = pb.FetchRequest(flow=flow, trace_id=trace_id)
        response: pb.FetchResponse = await self._unary(self._stub.Fetch, request, timeout)
        return _convert.fetch_result_from_proto(response, trace_id)

    async def call(
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
        """See :meth:`penguiflow_client.FlowClient.call`."""
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
        response: pb.CallResponse = await self._unary(self._stub.Call, request, timeout)
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
    ) -> AsyncTraceStream:
        """See :meth:`penguiflow_client.FlowClient.call_stream`; use with ``async for``.

        Arguments are validated at once; the RPC starts on first iteration.
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
        return AsyncTraceStream(
            self._starter(self._stub.CallStream, request, self._opts.timeout(timeout)), trace_id or ""
        )

    def stream_trace(self, flow: str, trace_id: str, *, timeout: float | None = None) -> AsyncTraceStream:
        """See :meth:`penguiflow_client.FlowClient.stream_trace`; use with ``async for``."""
        request = pb.StreamTraceRequest(flow=flow, trace_id=trace_id)
        return AsyncTraceStream(self._starter(self._stub.StreamTrace, request, self._opts.timeout(timeout)), trace_id)

    async def cancel(self, flow: str, trace_id: str, *, timeout: float | None = None) -> bool:
        """See :meth:`penguiflow_client.FlowClient.cancel`."""
        request = pb.CancelRequest(flow=flow, trace_id=trace_id)
        response: pb.CancelResponse = await self._unary(self._stub.Cancel, request, timeout)
        return response.cancelled

    def subscribe_events(
        self,
        flow: str | None = None,
        *,
        trace_ids: Iterable[str] | str | None = None,
        event_types: Iterable[str] | str | None = None,
        after_seq: int = 0,
        timeout: float | None = None,
    ) -> AsyncEventStream:
        """See :meth:`penguiflow_client.FlowClient.subscribe_events`; use with ``async for``."""
        request = _convert.build_subscribe_request(flow, trace_ids, event_types, after_seq)
        return AsyncEventStream(
            self._starter(self._stub.SubscribeEvents, request, self._opts.stream_timeout(timeout))
        )

    async def get_history(self, flow: str, trace_id: str, *, timeout: float | None = None) -> list[FlowEventData]:
        """See :meth:`penguiflow_client.FlowClient.get_history`."""
        request = pb.GetHistoryRequest(flow=flow, trace_id=trace_id)
        response: pb.GetHistoryResponse = await self._unary(self._stub.GetHistory, request, timeout)
        return [_convert.event_from_proto(e) for e in response.events]

    async def list_flows(self, *, timeout: float | None = None) -> list[FlowInfo]:
        """See :meth:`penguiflow_client.FlowClient.list_flows`."""
        response: pb.ListFlowsResponse = await self._unary(self._stub.ListFlows, pb.ListFlowsRequest(), timeout)
        return [_convert.flow_info_from_proto(f) for f in response.flows]
