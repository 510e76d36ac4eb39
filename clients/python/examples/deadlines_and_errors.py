"""Deadlines, cancellation and error handling with the sync client."""

import os

from penguiflow_client import FlowClient, FlowClientError, FlowErrorData

with FlowClient(os.environ.get("PENGUIFLOW_TARGET", "localhost:50051")) as client:
    # 1. A deadline: the call fails with DEADLINE_EXCEEDED (and the server cancels the trace).
    try:
        client.call("slow", {"ms": 5000}, timeout=0.5)
    except FlowClientError as err:
        print("deadline:", err.code.name)

    # 2. Emit now, fetch later; cancel a trace from anywhere by its id.
    trace = client.emit("slow", {"ms": 60_000}, timeout=5)
    print("cancelled:", client.cancel("slow", trace.trace_id, timeout=5))
    try:
        client.fetch("slow", trace.trace_id, timeout=5)
    except FlowClientError as err:
        print("fetch:", err.code.name, err.reason)

    # 3. A node failing for good is data (the RPC succeeded), not an exception.
    result = client.call("flaky", {"failures": 10}, timeout=10)
    if isinstance(result.result, FlowErrorData):
        print("flow error:", result.result.code, "in node", result.result.node_name)

    # 4. RPC failures carry the server's parsed google.rpc details.
    try:
        client.fetch("echo", "bad id!", timeout=5)
    except FlowClientError as err:
        print("invalid:", err.code.name, [v.field for v in err.field_violations])
