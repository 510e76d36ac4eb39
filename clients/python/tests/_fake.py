"""An in-process fake FlowService (Python grpc server) for the offline tests.

It records what the client sends (requests, metadata) and answers with
canned responses, including failures that carry ``grpc-status-details-bin``
details the real server only sends under load (RetryInfo, QuotaFailure), so
the client's wire handling is tested without the Node server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2, struct_pb2

from google.rpc import error_details_pb2, status_pb2
from penguiflow_client.gen.penguiflow.v1 import (
    events_pb2,
    flow_info_pb2,
    messages_pb2,
)
from penguiflow_client.gen.penguiflow.v1 import (
    flow_service_pb2 as pb,
)
from penguiflow_client.gen.penguiflow.v1 import (
    flow_service_pb2_grpc as pb_grpc,
)


def packed(msg: Any) -> any_pb2.Any:
    a = any_pb2.Any()
    a.Pack(msg)
    return a


def abort_with_details(context: grpc.ServicerContext, code: grpc.StatusCode, message: str, *details: Any) -> None:
    status = status_pb2.Status(code=code.value[0], message=message, details=[packed(d) for d in details])
    context.set_trailing_metadata([("grpc-status-details-bin", status.SerializeToString())])
    context.abort(code, message)


@dataclass
class Recorded:
    method: str
    request: Any
    metadata: dict[str, str]
    deadline_left: float | None
    peer_cn: str | None = None


@dataclass
class FakeService(pb_grpc.FlowServiceServicer):
    calls: list[Recorded] = field(default_factory=list)
    stream_cancelled: threading.Event = field(default_factory=threading.Event)

    def _record(self, method: str, request: Any, context: grpc.ServicerContext) -> None:
        md = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        left = context.time_remaining()
        cn = context.auth_context().get("x509_common_name")
        self.calls.append(
            Recorded(method, request, md, left if left is not None and left < 1e6 else None, cn[0].decode() if cn else None)
        )

    def last(self, method: str) -> Recorded:
        return [c for c in self.calls if c.method == method][-1]

    # -- unary -------------------------------------------------------------

    def Emit(self, request: pb.EmitRequest, context: grpc.ServicerContext) -> pb.EmitResponse:
        self._record("Emit", request, context)
        if request.flow == "exhausted":
            abort_with_details(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "tenant acme is over its quota",
                error_details_pb2.ErrorInfo(reason="TENANT_QUOTA", domain="penguiflow.dev", metadata={"flow": "echo"}),
                error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=1, nanos=500_000_000)),
                error_details_pb2.QuotaFailure(
                    violations=[error_details_pb2.QuotaFailure.Violation(subject="tenant:acme", description="too many")]
                ),
            )
        if request.flow == "bad":
            abort_with_details(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "message.trace_id: bad",
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(field="message.trace_id", description="bad"),
                        error_details_pb2.BadRequest.FieldViolation(field="message.meta", description="too deep"),
                    ]
                ),
                struct_pb2.Value(string_value="an unknown detail type"),
            )
        if request.flow == "garbage-details":
            context.set_trailing_metadata([("grpc-status-details-bin", b"\xff\x00not a status")])
            context.abort(grpc.StatusCode.INTERNAL, "broken trailer")
        if request.flow == "mismatched-details":
            # A Status whose code contradicts the call's: rpc_status.from_call rejects it.
            status = status_pb2.Status(
                code=grpc.StatusCode.NOT_FOUND.value[0],
                message="stale",
                details=[packed(error_details_pb2.ErrorInfo(reason="STALE"))],
            )
            context.set_trailing_metadata([("grpc-status-details-bin", status.SerializeToString())])
            context.abort(grpc.StatusCode.UNAVAILABLE, "draining")
        if request.flow == "plain":
            context.abort(grpc.StatusCode.NOT_FOUND, "no details at all")
        return pb.EmitResponse(trace_id=request.message.trace_id or "generated-id", deduplicated=request.flow == "dedup")

    def Fetch(self, request: pb.FetchRequest, context: grpc.ServicerContext) -> pb.FetchResponse:
        self._record("Fetch", request, context)
        if request.trace_id == "empty":
            return pb.FetchResponse()  # protocol violation: no result
        msg = messages_pb2.Message(trace_id=request.trace_id, binary=b"\x00\x01")
        msg.headers.tenant = "t1"
        msg.ts.FromMilliseconds(1_700_000_000_123)
        return pb.FetchResponse(output=msg)

    def Call(self, request: pb.CallRequest, context: grpc.ServicerContext) -> pb.CallResponse:
        self._record("Call", request, context)
        if request.flow == "none":
            return pb.CallResponse(trace_id="t-none")
        if request.flow == "sleep":
            time.sleep(5)
        if request.flow == "error":
            err = messages_pb2.FlowError(code=0, message="boom", trace_id="t-err", node_name="n", exception_type="Error")
            return pb.CallResponse(trace_id="t-err", error=err)
        out = messages_pb2.Message(trace_id="t-out", payload=request.message.payload, meta=request.message.meta)
        return pb.CallResponse(trace_id="t-out", output=out)

    def Cancel(self, request: pb.CancelRequest, context: grpc.ServicerContext) -> pb.CancelResponse:
        self._record("Cancel", request, context)
        return pb.CancelResponse(cancelled=True)

    def GetHistory(self, request: pb.GetHistoryRequest, context: grpc.ServicerContext) -> pb.GetHistoryResponse:
        self._record("GetHistory", request, context)
        ev = events_pb2.FlowEvent(event_type="node_start", trace_id=request.trace_id, seq=1, flow=request.flow)
        ev.extra.update({"k": 1})
        ev2 = events_pb2.FlowEvent(event_type="node_success", trace_id=request.trace_id, seq=2, latency_ms=2.5, trace_pending=0)
        return pb.GetHistoryResponse(events=[ev, ev2])

    def ListFlows(self, request: pb.ListFlowsRequest, context: grpc.ServicerContext) -> pb.ListFlowsResponse:
        self._record("ListFlows", request, context)
        node = flow_info_pb2.NodeInfo(name="a", id="id-a", policy=flow_info_pb2.NodePolicyInfo(validate="both", max_retries=2, timeout_ms=100))
        info = flow_info_pb2.FlowInfo(name="fake", nodes=[node, flow_info_pb2.NodeInfo(name="b", id="id-b")],
                                      edges=[flow_info_pb2.EdgeInfo(source="a", target="b")], ingress=["a"], egress=["b"])
        return pb.ListFlowsResponse(flows=[info])

    # -- streams -----------------------------------------------------------

    def CallStream(self, request: pb.CallStreamRequest, context: grpc.ServicerContext) -> Iterator[pb.CallStreamResponse]:
        self._record("CallStream", request, context)
        if request.flow == "hang":
            context.add_callback(self.stream_cancelled.set)
            yield pb.CallStreamResponse(
                trace_id="t-hang", update=messages_pb2.TraceUpdate(chunk=messages_pb2.StreamChunk(stream_id="s", text="first"))
            )
            while context.is_active():
                time.sleep(0.01)
            return
        if request.flow == "broken":
            yield pb.CallStreamResponse(trace_id="t-b", update=messages_pb2.TraceUpdate())
            return
        yield pb.CallStreamResponse(
            trace_id="t-s", update=messages_pb2.TraceUpdate(chunk=messages_pb2.StreamChunk(stream_id="s", seq=0, text="a"))
        )
        yield pb.CallStreamResponse(
            trace_id="t-s", update=messages_pb2.TraceUpdate(end=messages_pb2.TraceEnd(status=messages_pb2.TRACE_STATUS_COMPLETED))
        )

    def StreamTrace(self, request: pb.StreamTraceRequest, context: grpc.ServicerContext) -> Iterator[pb.StreamTraceResponse]:
        self._record("StreamTrace", request, context)
        yield pb.StreamTraceResponse(
            trace_id=request.trace_id,
            update=messages_pb2.TraceUpdate(end=messages_pb2.TraceEnd(status=99)),  # unknown status
        )

    def SubscribeEvents(
        self, request: pb.SubscribeEventsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.SubscribeEventsResponse]:
        self._record("SubscribeEvents", request, context)
        context.add_callback(self.stream_cancelled.set)
        seq = request.after_seq
        while context.is_active():
            seq += 1
            yield pb.SubscribeEventsResponse(event=events_pb2.FlowEvent(event_type="node_start", trace_id="t", seq=seq))
            time.sleep(0.01)


class FakeServer:
    """Runs :class:`FakeService` on 127.0.0.1 (optionally with TLS / mTLS)."""

    def __init__(self, server_credentials: grpc.ServerCredentials | None = None) -> None:
        self.service = FakeService()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        pb_grpc.add_FlowServiceServicer_to_server(self.service, self.server)
        if server_credentials is None:
            self.port = self.server.add_insecure_port("127.0.0.1:0")
        else:
            self.port = self.server.add_secure_port("127.0.0.1:0", server_credentials)
        self.server.start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop(grace=None).wait()
