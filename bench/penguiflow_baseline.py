"""PenguiFlow (Python) baseline for bench/runtime.ts.

Runs the same four workloads as bench/runtime.ts against the real PenguiFlow
library (``pip install penguiflow==3.11.2``) and prints exactly one JSON object
on stdout, with the same shape:

    {"sequential_5hop": {"p50_us", "p99_us", "per_s"},
     "concurrent64_5hop": {"traces_per_s"},
     "streaming_32": {"chunks_per_s"},
     "fanout4_join": {"p50_us", "per_s"}}

Each figure is the median over BENCH_RUNS runs (env, default 3). Events are on
as in normal operation: no middleware, no state store, default logging (no
logging configuration, so the ``penguiflow.core`` INFO/DEBUG event records are
built and then filtered by the logger's level, exactly as in an application
that never configured logging).

Run with the bench virtualenv: ``.venv-bench/bin/python bench/penguiflow_baseline.py``
(``npm run bench:runtime:compare`` creates it and runs this file).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import time
from typing import Any

from penguiflow import Headers, Message, Node, NodePolicy, create, join_k

SEQ_WARMUP = 200
SEQ_N = 3000
CONC_TOTAL = 20_000
CONC_CALLERS = 64
STREAM_WARMUP = 20
STREAM_N = 300
STREAM_CHUNKS = 32
FANOUT_N = 3000


async def identity(msg: Any, ctx: Any) -> Any:
    return msg


def node(func: Any, name: str) -> Node:
    # Default policy, as `new Node(fn, { name })` in bench/runtime.ts. No registry is
    # passed to run(), so validate="both" does no validation work in either runtime.
    return Node(func, name=name, policy=NodePolicy())


def chain5():
    nodes = [node(identity, f"hop{i}") for i in range(5)]
    adj = [n.to(nodes[i + 1]) if i < len(nodes) - 1 else n.to() for i, n in enumerate(nodes)]
    return create(*adj)


def percentile(sorted_xs: list[float], p: float) -> float:
    # Same nearest-rank definition as bench/runtime.ts.
    idx = min(len(sorted_xs) - 1, max(0, math.ceil((p / 100) * len(sorted_xs)) - 1))
    return sorted_xs[idx]


def msg(i: int) -> Message:
    return Message(payload=i, headers=Headers(tenant="bench"))


def rnd(x: float) -> float:
    return round(x * 10) / 10


async def round_trip(flow: Any, i: int) -> None:
    m = msg(i)
    await flow.emit(m, trace_id=m.trace_id)
    await flow.fetch(trace_id=m.trace_id)


async def sequential_5hop() -> dict[str, float]:
    flow = chain5()
    flow.run()
    for i in range(SEQ_WARMUP):
        await round_trip(flow, i)
    lat: list[float] = []
    t0 = time.perf_counter()
    for i in range(SEQ_N):
        s = time.perf_counter()
        await round_trip(flow, i)
        lat.append((time.perf_counter() - s) * 1e6)
    total = time.perf_counter() - t0
    await flow.stop()
    lat.sort()
    return {"p50_us": rnd(percentile(lat, 50)), "p99_us": rnd(percentile(lat, 99)), "per_s": rnd(SEQ_N / total)}


async def concurrent_5hop() -> dict[str, float]:
    flow = chain5()
    flow.run()
    next_i = 0

    async def caller() -> None:
        nonlocal next_i
        while next_i < CONC_TOTAL:
            i = next_i
            next_i += 1
            await round_trip(flow, i)

    for i in range(SEQ_WARMUP):
        await round_trip(flow, i)
    t0 = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(CONC_CALLERS)))
    secs = time.perf_counter() - t0
    await flow.stop()
    return {"traces_per_s": rnd(CONC_TOTAL / secs)}


async def streamer(msg: Message, ctx: Any) -> None:
    for i in range(STREAM_CHUNKS):
        await ctx.emit_chunk(parent=msg, text=f"t{i}", done=i == STREAM_CHUNKS - 1)
    return None


async def streaming_32() -> dict[str, float]:
    s = node(streamer, "streamer")
    flow = create(s.to())
    flow.run()

    async def run(i: int) -> int:
        m = msg(i)
        await flow.emit(m, trace_id=m.trace_id)
        for _ in range(STREAM_CHUNKS):
            await flow.fetch(trace_id=m.trace_id)
        return STREAM_CHUNKS

    for i in range(STREAM_WARMUP):
        await run(i)
    t0 = time.perf_counter()
    chunks = 0
    for i in range(STREAM_N):
        chunks += await run(i)
    secs = time.perf_counter() - t0
    await flow.stop()
    return {"chunks_per_s": rnd(chunks / secs)}


async def fanout4_join() -> dict[str, float]:
    source = node(identity, "source")
    workers = [node(identity, f"w{i}") for i in range(4)]
    join = join_k("join", 4)
    final = node(identity, "final")
    flow = create(source.to(*workers), *(w.to(join) for w in workers), join.to(final), final.to())
    flow.run()
    for i in range(SEQ_WARMUP):
        await round_trip(flow, i)
    lat: list[float] = []
    t0 = time.perf_counter()
    for i in range(FANOUT_N):
        s = time.perf_counter()
        await round_trip(flow, i)
        lat.append((time.perf_counter() - s) * 1e6)
    total = time.perf_counter() - t0
    await flow.stop()
    lat.sort()
    return {"p50_us": rnd(percentile(lat, 50)), "per_s": rnd(FANOUT_N / total)}


async def once() -> dict[str, dict[str, float]]:
    return {
        "sequential_5hop": await sequential_5hop(),
        "concurrent64_5hop": await concurrent_5hop(),
        "streaming_32": await streaming_32(),
        "fanout4_join": await fanout4_join(),
    }


def median(xs: list[float]) -> float:
    # Upper median, as bench/runtime.ts (s[floor(n/2)]).
    s = sorted(xs)
    return s[len(s) // 2]


def main() -> None:
    runs = max(1, int(os.environ.get("BENCH_RUNS", "3") or "3"))
    results = [asyncio.run(once()) for _ in range(runs)]
    out = {
        key: {field: median([r[key][field] for r in results]) for field in results[0][key]}
        for key in results[0]
    }
    print(json.dumps(out, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
