"""Fixtures: a live PenguiFlow server (spawned from dist/ or PENGUIFLOW_TARGET)
and an in-process fake server for the offline tests."""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # before grpc loads: no C-core INFO lines in the output

from penguiflow_client import AsyncFlowClient, FlowClient  # noqa: E402

CLIENT_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = CLIENT_DIR.parent.parent
SERVER_MAIN = REPO_ROOT / "dist" / "server" / "main.js"
STARTUP_TIMEOUT_S = 30.0

sys.path.insert(0, str(Path(__file__).resolve().parent))


class LiveServer:
    """A `node dist/server/main.js` child process on an ephemeral port."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is not on PATH: the live tests spawn `node dist/server/main.js`", pytrace=False)
        env = {k: v for k, v in os.environ.items() if k != "NODE_ENV"}  # auth=none is refused in production
        env.update(
            PENGUIFLOW_PORT="0",
            PENGUIFLOW_HOST="127.0.0.1",
            PENGUIFLOW_OPS_PORT="0",
            PENGUIFLOW_AUTH="none",
            PENGUIFLOW_LOG_LEVEL="info",
            PENGUIFLOW_DEMO_FLOWS="true",
            PENGUIFLOW_DRAIN_TIMEOUT_MS="2000",
        )
        for name in ("PENGUIFLOW_CONFIG_FILE", "PENGUIFLOW_FLOWS"):
            env.pop(name, None)
        self.output: collections.deque[str] = collections.deque(maxlen=200)
        self.proc = subprocess.Popen(
            [node, str(SERVER_MAIN)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._port: int | None = None
        self._port_seen = threading.Event()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._drain, args=(stream,), daemon=True).start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._port_seen.wait(0.05):
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the drain threads collect the last lines
                self.fail_with_log(f"the server exited with code {self.proc.returncode} before logging its port")
            if time.monotonic() > deadline:
                self.stop()
                self.fail_with_log(f"the server did not log its bound port within {STARTUP_TIMEOUT_S:.0f}s")

    def _drain(self, stream: IO[str]) -> None:
        for line in stream:
            self.output.append(line.rstrip("\n"))
            if self._port is None:
                port = bound_port(line)
                if port is not None:
                    self._port = port
                    self._port_seen.set()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self._port}"

    def fail_with_log(self, why: str) -> None:
        log = "\n".join(self.output)
        pytest.fail(f"{why} ({SERVER_MAIN}). Server output:\n{log}", pytrace=False)

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: the server drains and exits 0
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.proc.returncode


def bound_port(line: str) -> int | None:
    """The port of the server's JSON "listening" log line, else None.

    src/server/main.ts logs (pino, one JSON object per line) ``{"port":
    <bound port>, "host": ..., "msg": "penguiflow server listening on
    host:port", ...}`` once it listens; PENGUIFLOW_PORT=0 makes it an
    ephemeral port.
    """
    try:
        record: Any = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    port = record.get("port")
    if "listening" in str(record.get("msg", "")) and isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536:
        return port
    return None


@pytest.fixture(scope="session")
def server_target() -> Iterator[str]:
    """host:port of a live server: $PENGUIFLOW_TARGET, else a spawned dist/server/main.js."""
    target = os.environ.get("PENGUIFLOW_TARGET")
    if target:
        yield target
        return
    if not SERVER_MAIN.exists():
        pytest.fail(
            f"{SERVER_MAIN} does not exist: build the server first with `npm run build` "
            f"(in {REPO_ROOT}), or set PENGUIFLOW_TARGET=host:port to test against a running server",
            pytrace=False,
        )
    server = LiveServer()
    try:
        yield server.target
    finally:
        code = server.stop()
        if code not in (0, None, -15):
            print(f"\n[penguiflow server exited with code {code}]\n" + "\n".join(server.output), file=sys.stderr)


@pytest.fixture(scope="session")
def client(server_target: str) -> Iterator[FlowClient]:
    """A sync client of the live server. The default deadline keeps a broken server from hanging the suite."""
    with FlowClient(server_target, default_timeout=30) as c:
        yield c


@pytest.fixture
async def aclient(server_target: str) -> AsyncIterator[AsyncFlowClient]:
    """An async client of the live server (one per test: each test has its own event loop)."""
    async with AsyncFlowClient(server_target, default_timeout=30) as c:
        yield c


@pytest.fixture
def fake() -> Iterator[Any]:
    """An in-process fake FlowService (see tests/_fake.py)."""
    from _fake import FakeServer

    server = FakeServer()
    try:
        yield server
    finally:
        server.stop()
