"""The client's single exception type, :class:`FlowClientError`, and the decoding
of the ``google.rpc.Status`` details the server attaches to failed calls.

The server puts a binary ``google.rpc.Status`` in the
``grpc-status-details-bin`` trailer of every failed call. gRPC's own
``grpcio-status`` (``rpc_status.from_call``) reads it from the call; its
``details`` are ``google.protobuf.Any`` messages, unpacked here into the
``googleapis-common-protos`` types ``google.rpc.ErrorInfo``,
``google.rpc.BadRequest``, ``google.rpc.RetryInfo`` and
``google.rpc.QuotaFailure``. Other detail types are kept raw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message
# Module imports: with types-protobuf installed, mypy resolves `from google.rpc
# import ...` against its google-stubs, which have no rpc package.
import google.rpc.error_details_pb2 as error_details_pb2
import google.rpc.status_pb2 as status_pb2
from grpc_status import rpc_status

from penguiflow_client._types import FlowErrorCode

STATUS_DETAILS_KEY = "grpc-status-details-bin"
"""Trailer that carries the binary ``google.rpc.Status``."""

_M = TypeVar("_M", bound=Message)


@dataclass(frozen=True)
class ErrorInfo:
    """``google.rpc.ErrorInfo``: a machine-readable reason for the failure."""

    reason: str
    """Stable UPPER_SNAKE_CASE reason, e.g. ``FLOW_NOT_FOUND`` or a FlowErrorCode."""
    domain: str
    """Logical source of the error (``penguiflow.dev`` for this service)."""
    metadata: dict[str, str] = field(default_factory=dict)
    """Additional structured details, e.g. ``flow``, ``trace_id``."""


@dataclass(frozen=True)
class FieldViolation:
    """One entry of ``google.rpc.BadRequest.field_violations``."""

    field: str
    """Path of the offending request field, e.g. ``message.trace_id``."""
    description: str
    """Why the value is invalid."""


@dataclass(frozen=True)
class QuotaViolation:
    """One entry of ``google.rpc.QuotaFailure.violations``."""

    subject: str
    """What the quota applies to, e.g. ``tenant:acme``."""
    description: str
    """How the quota was exceeded."""


@dataclass(frozen=True)
class RawErrorDetail:
    """An error detail of a type this client does not decode (or could not parse)."""

    type_url: str
    value: bytes


class FlowClientError(Exception):
    """The only exception the client raises (also from stream iterators).

    Raised when the RPC itself fails: bad request, credentials, unknown flow
    or trace, deadline (``timeout=``), cancellation, unreachable or draining
    server; and for arguments the client rejects before sending (those have
    code ``INVALID_ARGUMENT`` and :attr:`client_side` ``True``).

    A node failing for good is *not* an exception: it is returned as data
    (:class:`~penguiflow_client.FlowErrorData`).

    Codes worth handling: ``DEADLINE_EXCEEDED`` (the call's ``timeout``
    passed), ``CANCELLED`` (the trace was cancelled, or the call was),
    ``NOT_FOUND`` (unknown flow or trace), ``INVALID_ARGUMENT`` (see
    :attr:`field_violations`), ``RESOURCE_EXHAUSTED`` (retry after
    :attr:`retry_delay`), ``UNAVAILABLE`` (server draining or unreachable:
    retry; safe for ``emit`` with an ``idempotency_key``),
    ``FAILED_PRECONDITION`` (client-side: the client was already closed).
    """

    code: grpc.StatusCode
    """gRPC status code."""
    message: str
    """Status message as sent by the server (without the code prefix)."""
    error_info: ErrorInfo | None
    """The ``google.rpc.ErrorInfo`` detail, if sent."""
    field_violations: tuple[FieldViolation, ...]
    """``google.rpc.BadRequest`` field violations (INVALID_ARGUMENT)."""
    retry_delay: float | None
    """``google.rpc.RetryInfo.retry_delay`` in seconds (RESOURCE_EXHAUSTED)."""
    quota_violations: tuple[QuotaViolation, ...]
    """``google.rpc.QuotaFailure`` violations (RESOURCE_EXHAUSTED)."""
    raw_details: tuple[RawErrorDetail, ...]
    """Details of other types, undecoded."""
    client_side: bool
    """True when the client rejected the request before sending it."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        error_info: ErrorInfo | None = None,
        field_violations: Iterable[FieldViolation] = (),
        retry_delay: float | None = None,
        quota_violations: Iterable[QuotaViolation] = (),
        raw_details: Iterable[RawErrorDetail] = (),
        client_side: bool = False,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.error_info = error_info
        self.field_violations = tuple(field_violations)
        self.retry_delay = retry_delay
        self.quota_violations = tuple(quota_violations)
        self.raw_details = tuple(raw_details)
        self.client_side = client_side

    @property
    def reason(self) -> str | None:
        """``ErrorInfo.reason`` (e.g. ``TRACE_NOT_FOUND``), or ``None`` when not sent."""
        return self.error_info.reason if self.error_info is not None else None

    @property
    def metadata(self) -> dict[str, str]:
        """``ErrorInfo.metadata`` (``{}`` when not sent)."""
        return dict(self.error_info.metadata) if self.error_info is not None else {}

    @property
    def flow_error_code(self) -> FlowErrorCode | None:
        """The FlowErrorCode named by ``ErrorInfo.reason`` (or its ``flow_error_code`` metadata), if any."""
        if self.error_info is None:
            return None
        return _parse_flow_error_code(self.error_info.reason) or _parse_flow_error_code(
            self.error_info.metadata.get("flow_error_code", "")
        )

    def __repr__(self) -> str:
        parts = [f"code={self.code.name}", f"message={self.message!r}"]
        if self.error_info is not None:
            parts.append(f"reason={self.error_info.reason!r}")
        if self.field_violations:
            parts.append(f"field_violations={list(self.field_violations)!r}")
        if self.retry_delay is not None:
            parts.append(f"retry_delay={self.retry_delay!r}")
        if self.client_side:
            parts.append("client_side=True")
        return f"FlowClientError({', '.join(parts)})"

    @classmethod
    def from_rpc_error(cls, error: BaseException) -> FlowClientError:
        """Convert an exception caught around an RPC (``grpc.RpcError``,
        ``grpc.aio.AioRpcError``) into a FlowClientError with decoded details.

        A FlowClientError is returned as is; anything that is not a gRPC call
        error becomes ``UNKNOWN``. The original is kept as ``__cause__`` by
        the callers (``raise ... from error``).
        """
        if isinstance(error, FlowClientError):
            return error
        code_fn = getattr(error, "code", None)
        details_fn = getattr(error, "details", None)
        if not callable(code_fn):
            return cls(grpc.StatusCode.UNKNOWN, f"{type(error).__name__}: {error}")
        code = code_fn()
        if not isinstance(code, grpc.StatusCode):
            code = grpc.StatusCode.UNKNOWN
        message = details_fn() if callable(details_fn) else None
        decoded = _decode_status(_rich_status(error))
        return cls(code, message or "", client_side=False, **decoded)


def invalid_argument(field_path: str, description: str) -> FlowClientError:
    """A client-side INVALID_ARGUMENT, raised before anything is sent."""
    return FlowClientError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"{field_path}: {description}",
        field_violations=[FieldViolation(field_path, description)],
        client_side=True,
    )


def closed_error() -> FlowClientError:
    """The error of a call made after ``close()``: FAILED_PRECONDITION, client-side.

    The same answer as the TypeScript and Go clients; calls that were in
    flight when the client was closed end with CANCELLED instead.
    """
    return FlowClientError(grpc.StatusCode.FAILED_PRECONDITION, "the client is closed", client_side=True)


def _parse_flow_error_code(value: str) -> FlowErrorCode | None:
    name = value.removeprefix("FLOW_ERROR_CODE_")
    try:
        return FlowErrorCode(name)
    except ValueError:
        return None


def _rich_status(error: BaseException) -> status_pb2.Status | None:
    """The call's ``google.rpc.Status`` via ``grpc_status.rpc_status.from_call``.

    ``from_call`` wants a call (``code()``, ``details()``,
    ``trailing_metadata()``: ``grpc.RpcError`` of both APIs has them). A
    trailer that does not parse, or whose code or message contradicts the
    call's own status (``ValueError``), yields no details rather than a crash.
    """
    if not callable(getattr(error, "trailing_metadata", None)):
        return None
    try:
        status: status_pb2.Status | None = rpc_status.from_call(cast(grpc.Call, error))
    except (DecodeError, ValueError):
        return None
    return status


def decode_status_details(data: bytes | None) -> dict[str, Any]:
    """Decode a binary ``google.rpc.Status`` into FlowClientError keyword arguments.

    Never raises: undecodable bytes yield no details, an undecodable detail
    is kept in ``raw_details``. When a detail type appears more than once,
    the first wins for single-valued fields and lists are concatenated.
    """
    if not data:
        return _decode_status(None)
    try:
        return _decode_status(status_pb2.Status.FromString(data))
    except DecodeError:
        return _decode_status(None)


def _unpack(detail: any_pb2.Any, message_type: type[_M]) -> _M | None:
    """``detail`` unpacked as ``message_type``, or None when it is another type.

    Raises ``DecodeError`` when the type matches but the bytes do not parse.
    """
    message = message_type()
    return message if detail.Unpack(message) else None


def _decode_status(status: status_pb2.Status | None) -> dict[str, Any]:
    """The FlowClientError keyword arguments of a ``google.rpc.Status`` (see :func:`decode_status_details`)."""
    error_info: ErrorInfo | None = None
    field_violations: list[FieldViolation] = []
    retry_delay: float | None = None
    quota_violations: list[QuotaViolation] = []
    raw_details: list[RawErrorDetail] = []
    for detail in status.details if status is not None else ():
        try:
            if (info := _unpack(detail, error_details_pb2.ErrorInfo)) is not None:
                if error_info is None:
                    error_info = ErrorInfo(info.reason, info.domain, dict(info.metadata))
            elif (bad := _unpack(detail, error_details_pb2.BadRequest)) is not None:
                field_violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
            elif (retry := _unpack(detail, error_details_pb2.RetryInfo)) is not None:
                if retry_delay is None and retry.HasField("retry_delay"):
                    retry_delay = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
            elif (quota := _unpack(detail, error_details_pb2.QuotaFailure)) is not None:
                quota_violations += [QuotaViolation(v.subject, v.description) for v in quota.violations]
            else:
                raw_details.append(RawErrorDetail(detail.type_url, bytes(detail.value)))
        except DecodeError:  # a known type whose bytes do not parse: keep it raw
            raw_details.append(RawErrorDetail(detail.type_url, bytes(detail.value)))
    return {
        "error_info": error_info,
        "field_violations": field_violations,
        "retry_delay": retry_delay,
        "quota_violations": quota_violations,
        "raw_details": raw_details,
    }
