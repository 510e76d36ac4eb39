"""Packaging checks: generated stubs are fresh, the public API type-checks
strictly, and the google.rpc messages are googleapis-common-protos' own."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CLIENT_DIR = Path(__file__).resolve().parent.parent


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)


def test_generated_stubs_are_not_stale() -> None:
    result = subprocess.run(
        [sys.executable, str(CLIENT_DIR / "scripts" / "generate.py"), "--check"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_public_api_type_checks_strictly() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install -e 'clients/python[test]')")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "penguiflow_client", "examples", "tests/typing_check.py"],
        cwd=CLIENT_DIR, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_py_typed_and_stub_files_ship() -> None:
    pkg = CLIENT_DIR / "penguiflow_client"
    assert (pkg / "py.typed").exists()
    assert (pkg / "gen" / "penguiflow" / "v1" / "flow_service_pb2.pyi").exists()


def test_google_rpc_comes_from_googleapis_common_protos() -> None:
    # protobuf's descriptor pool refuses two different files named
    # google/rpc/status.proto, so the client ships no copy of google/rpc: it
    # shares googleapis-common-protos' modules with grpcio-status (which
    # decodes the rich status) and with any other library in the process.
    result = _python("""
        import penguiflow_client.errors as errors
        import google.rpc.error_details_pb2, google.rpc.status_pb2
        from grpc_status import rpc_status
        assert errors.status_pb2 is google.rpc.status_pb2
        assert errors.error_details_pb2 is google.rpc.error_details_pb2
        assert rpc_status.status_pb2 is google.rpc.status_pb2
        print("ok")
    """)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    assert not (CLIENT_DIR / "penguiflow_client" / "gen" / "google").exists()
