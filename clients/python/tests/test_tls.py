"""TLS and mTLS options against an in-process fake server with certificates
made by the openssl CLI (skipped when openssl is missing)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from penguiflow_client import AsyncFlowClient, FlowClient, FlowClientError

SERVER_NAME = "penguiflow.test"  # the only name in the server certificate

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI to make certificates")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(name: str, cn: str, ext: str, cwd: Path) -> None:
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=cwd)
    (cwd / f"{name}.ext").write_text(ext)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=cwd)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("certs")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=penguiflow-test-ca", cwd=d)
    _issue("server", SERVER_NAME, f"subjectAltName=DNS:{SERVER_NAME}\nextendedKeyUsage=serverAuth\n", d)
    _issue("client", "tenant-acme", "extendedKeyUsage=clientAuth\n", d)
    return {p.stem + p.suffix: p.read_bytes() for p in d.iterdir() if p.suffix in (".pem", ".key")}


def _server(certs: dict[str, bytes], *, require_client_auth: bool) -> Any:
    from _fake import FakeServer

    creds = grpc.ssl_server_credentials(
        [(certs["server.key"], certs["server.pem"])],
        root_certificates=certs["ca.pem"] if require_client_auth else None,
        require_client_auth=require_client_auth,
    )
    return FakeServer(creds)


@pytest.fixture
def tls_server(certs: dict[str, bytes]) -> Iterator[Any]:
    server = _server(certs, require_client_auth=False)
    yield server
    server.stop()


@pytest.fixture
def mtls_server(certs: dict[str, bytes]) -> Iterator[Any]:
    server = _server(certs, require_client_auth=True)
    yield server
    server.stop()


def test_tls_with_custom_root_and_server_name(certs: dict[str, bytes], tls_server: Any) -> None:
    with FlowClient(tls_server.target, root_certificates=certs["ca.pem"], tls_server_name=SERVER_NAME) as client:
        assert [f.name for f in client.list_flows(timeout=5)] == ["fake"]
        assert "tls=True" in repr(client)


def test_tls_rejects_a_name_mismatch(certs: dict[str, bytes], tls_server: Any) -> None:
    # 127.0.0.1 is not in the certificate: without tls_server_name the handshake fails
    with FlowClient(tls_server.target, root_certificates=certs["ca.pem"]) as client:
        with pytest.raises(FlowClientError) as info:
            client.list_flows(timeout=3)
    assert info.value.code == grpc.StatusCode.UNAVAILABLE


def test_plaintext_client_cannot_talk_to_tls_server(tls_server: Any) -> None:
    with FlowClient(tls_server.target) as client:
        with pytest.raises(FlowClientError) as info:
            client.list_flows(timeout=3)
    assert info.value.code == grpc.StatusCode.UNAVAILABLE


def test_mtls_presents_the_client_certificate(certs: dict[str, bytes], mtls_server: Any) -> None:
    with FlowClient(
        mtls_server.target,
        root_certificates=certs["ca.pem"],
        private_key=certs["client.key"],
        certificate_chain=certs["client.pem"],
        tls_server_name=SERVER_NAME,
    ) as client:
        client.list_flows(timeout=5)
    assert mtls_server.service.last("ListFlows").peer_cn == "tenant-acme"


def test_mtls_without_client_certificate_fails(certs: dict[str, bytes], mtls_server: Any) -> None:
    with FlowClient(mtls_server.target, root_certificates=certs["ca.pem"], tls_server_name=SERVER_NAME) as client:
        with pytest.raises(FlowClientError) as info:
            client.list_flows(timeout=3)
    assert info.value.code == grpc.StatusCode.UNAVAILABLE


async def test_async_mtls(certs: dict[str, bytes], mtls_server: Any) -> None:
    async with AsyncFlowClient(
        mtls_server.target,
        root_certificates=certs["ca.pem"],
        private_key=certs["client.key"],
        certificate_chain=certs["client.pem"],
        tls_server_name=SERVER_NAME,
        token="tok",
    ) as client:
        assert (await client.call("echo", {"ok": True}, timeout=5)).payload == {"ok": True}
    rec = mtls_server.service.last("Call")
    assert rec.peer_cn == "tenant-acme" and rec.metadata["authorization"] == "Bearer tok"
