"""Connection options shared by the sync and async clients: channel
credentials (TLS / mTLS), per-RPC metadata (bearer token, tenant) and
deadlines."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc

from penguiflow_client.errors import FlowClientError

__version__ = "0.1.0"

USER_AGENT = f"penguiflow-client-python/{__version__}"

Metadata = list[tuple[str, str]]

TokenProvider = Callable[[], str | None]
"""Called before every RPC; returns the bearer token to send (``None``/``""`` = send none)."""

AsyncTokenProvider = Callable[[], str | None | Awaitable[str | None]]
"""Like :data:`TokenProvider`, but may also be a coroutine function (async client only)."""


class ClientOptions:
    """Validated constructor options of both clients (internal)."""

    def __init__(
        self,
        target: str,
        *,
        token: str | None,
        credentials: Callable[[], Any] | None,
        tenant: str | None,
        tls: bool | None,
        root_certificates: bytes | None,
        private_key: bytes | None,
        certificate_chain: bytes | None,
        tls_server_name: str | None,
        default_timeout: float | None,
        metadata: Sequence[tuple[str, str]] | None,
        options: Sequence[tuple[str, Any]] | None,
    ) -> None:
        if not isinstance(target, str) or not target:
            raise TypeError("target must be a non-empty 'host:port' string")
        if token is not None and credentials is not None:
            raise TypeError("pass either token= or credentials=, not both")
        if credentials is not None and not callable(credentials):
            raise TypeError("credentials must be a callable returning the bearer token")
        if (private_key is None) != (certificate_chain is None):
            raise TypeError("mTLS needs both private_key and certificate_chain")
        if tls is False and any(v is not None for v in (root_certificates, private_key, certificate_chain)):
            raise TypeError("certificates were given but tls=False")
        self.target = target
        self.token = token
        self.credentials = credentials
        self.tenant = tenant
        self.tls = bool(tls) or any(v is not None for v in (root_certificates, private_key, certificate_chain))
        self.root_certificates = root_certificates
        self.private_key = private_key
        self.certificate_chain = certificate_chain
        self.tls_server_name = tls_server_name
        self.default_timeout = _check_timeout(default_timeout, "default_timeout")
        self.extra_metadata: Metadata = [(k.lower(), v) for k, v in (metadata or ())]
        channel_options: list[tuple[str, Any]] = [("grpc.primary_user_agent", USER_AGENT)]
        if tls_server_name:
            channel_options.append(("grpc.ssl_target_name_override", tls_server_name))
        channel_options.extend(options or ())
        self.channel_options = channel_options

    def channel_credentials(self) -> grpc.ChannelCredentials | None:
        if not self.tls:
            return None
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates,
            private_key=self.private_key,
            certificate_chain=self.certificate_chain,
        )

    def timeout(self, timeout: float | None) -> float | None:
        """The deadline of one call: its own ``timeout`` or the client's default."""
        if timeout is None:
            return self.default_timeout
        return _check_timeout(timeout, "timeout")

    def stream_timeout(self, timeout: float | None) -> float | None:
        """The deadline of an open-ended stream: only its own ``timeout`` (no default)."""
        return _check_timeout(timeout, "timeout")

    def metadata_with(self, token: str | None) -> Metadata:
        md: Metadata = list(self.extra_metadata)
        if token:
            md.append(("authorization", f"Bearer {token}"))
        if self.tenant:
            md.append(("x-tenant-id", self.tenant))
        return md

    def sync_metadata(self) -> Metadata:
        """Per-RPC metadata; calls the credentials callback (once per RPC)."""
        if self.credentials is None:
            return self.metadata_with(self.token)
        try:
            token = self.credentials()
        except Exception as exc:  # noqa: BLE001 - reported as the call's failure
            raise credentials_failed(exc) from exc
        if token is not None and not isinstance(token, str):
            raise credentials_failed(TypeError(f"credentials callback returned {type(token).__name__}, not str"))
        return self.metadata_with(token)

    async def async_metadata(self) -> Metadata:
        """Per-RPC metadata; calls (and awaits, if needed) the credentials callback."""
        if self.credentials is None:
            return self.metadata_with(self.token)
        try:
            token = self.credentials()
            if isinstance(token, Awaitable):
                token = await token
        except Exception as exc:  # noqa: BLE001 - reported as the call's failure
            raise credentials_failed(exc) from exc
        if token is not None and not isinstance(token, str):
            raise credentials_failed(TypeError(f"credentials callback returned {type(token).__name__}, not str"))
        return self.metadata_with(token)


def credentials_failed(exc: BaseException) -> FlowClientError:
    return FlowClientError(
        grpc.StatusCode.UNAUTHENTICATED,
        f"credentials callback failed: {type(exc).__name__}: {exc}",
        client_side=True,
    )


def _check_timeout(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise TypeError(f"{name} must be a number of seconds or None")
    return float(value)
