"""Packaging checks: generated stubs are fresh, the public API type-checks
strictly, and the client coexists with googleapis-common-protos."""

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


@pytest.mark.parametrize("googleapis_first", [True, False])
def test_coexists_with_googleapis_common_protos(googleapis_first: bool) -> None:
    if importlib.util.find_spec("google.rpc.status_pb2") is None:
        pytest.skip("googleapis-common-protos is not installed")
    first, second = ("import google.rpc.error_details_pb2, google.rpc.status_pb2", "import penguiflow_client")
    if not googleapis_first:
        first, second = second, first
    result = _python(f"""
        {first}
        {second}
        from penguiflow_client.gen.google.rpc import status_pb2
        import google.rpc.status_pb2 as canonical
        assert status_pb2.Status is canonical.Status
        print("ok")
    """)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_bundled_google_rpc_without_googleapis() -> None:
    # Hide googleapis-common-protos: the bundled copy must load and decode details.
    result = _python("""
        import sys
        sys.modules["google.rpc.status_pb2"] = None
        sys.modules["google.rpc.error_details_pb2"] = None
        from google.protobuf import any_pb2, duration_pb2
        from penguiflow_client.errors import decode_status_details
        from penguiflow_client.gen.google.rpc import error_details_pb2, status_pb2
        assert status_pb2.Status.__module__.startswith("penguiflow_client.gen.google.rpc")
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=2)))
        info = any_pb2.Any()
        info.Pack(error_details_pb2.ErrorInfo(reason="R", domain="d", metadata={"k": "v"}))
        out = decode_status_details(status_pb2.Status(code=8, details=[detail, info]).SerializeToString())
        assert out["retry_delay"] == 2.0 and out["error_info"].reason == "R", out
        print("ok")
    """)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
