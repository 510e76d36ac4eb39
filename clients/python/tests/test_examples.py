"""The README's example and the other examples/ scripts, run against the live server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CLIENT_DIR = Path(__file__).resolve().parent.parent
EXAMPLES = CLIENT_DIR / "examples"
README = CLIENT_DIR / "README.md"


def run_example(name: str, target: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        env={**os.environ, "PENGUIFLOW_TARGET": target},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_readme_embeds_quickstart_verbatim() -> None:
    readme = README.read_text()
    match = re.search(
        r"<!-- quickstart:begin -->\n```python\n(.*?)```\n<!-- quickstart:end -->", readme, re.DOTALL
    )
    assert match, "README.md lost its quickstart markers"
    assert match.group(1) == (EXAMPLES / "quickstart.py").read_text(), (
        "README.md quickstart differs from examples/quickstart.py; copy the file between the markers"
    )
    assert len((EXAMPLES / "quickstart.py").read_text().strip().splitlines()) <= 12


def test_readme_quickstart_output(server_target: str) -> None:
    lines = run_example("quickstart.py", server_target)
    assert lines == [
        "echo: {'text': 'hello'}",
        "chunk 0: chunk-0",
        "chunk 1: chunk-1",
        "chunk 2: chunk-2",
        "end: COMPLETED",
    ]
    # ... and the README shows that same output
    assert "\n".join(lines) in README.read_text()


def test_deadlines_and_errors_example(server_target: str) -> None:
    assert run_example("deadlines_and_errors.py", server_target) == [
        "deadline: DEADLINE_EXCEEDED",
        "cancelled: True",
        "fetch: CANCELLED TRACE_CANCELLED",
        "flow error: NODE_EXCEPTION in node flaky",
        "invalid: INVALID_ARGUMENT ['trace_id']",
    ]


def test_async_example(server_target: str) -> None:
    assert run_example("async_quickstart.py", server_target) == [
        "echo: [{'n': 0}, {'n': 1}, {'n': 2}]",
        "chunk: chunk-0",
        "chunk: chunk-1",
        "output: {'chunks': 2, 'text': 'chunk-0 chunk-1 '}",
        "gave up after 0.5 s",
        "history: NOT_FOUND",
    ]


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_is_covered(name: str) -> None:
    assert name in {"quickstart.py", "deadlines_and_errors.py", "async_quickstart.py"}
