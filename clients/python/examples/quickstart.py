import os

from penguiflow_client import Chunk, FlowClient, TraceEnd

with FlowClient(os.environ.get("PENGUIFLOW_TARGET", "localhost:50051")) as client:
    result = client.call("echo", {"text": "hello"}, timeout=5)
    print("echo:", result.payload)
    for update in client.call_stream("stream", {"chunks": 3}, timeout=10):
        if isinstance(update, Chunk):
            print(f"chunk {update.seq}: {update.text.strip()}")
        elif isinstance(update, TraceEnd):
            print("end:", update.status)
