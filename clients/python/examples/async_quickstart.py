"""The asyncio client: same methods, awaited; streams are async iterators."""

import asyncio
import os

from penguiflow_client import AsyncFlowClient, Chunk, FlowClientError, Output


async def main() -> None:
    async with AsyncFlowClient(os.environ.get("PENGUIFLOW_TARGET", "localhost:50051")) as client:
        results = await asyncio.gather(*(client.call("echo", {"n": n}, timeout=5) for n in range(3)))
        print("echo:", [r.payload for r in results])

        async for update in client.call_stream("stream", {"chunks": 2}, timeout=10):
            if isinstance(update, Chunk):
                print("chunk:", update.text.strip())
            elif isinstance(update, Output):
                print("output:", update.payload)

        # Cancelling the awaiting task (here via asyncio.timeout) cancels the RPC;
        # for call and call_stream the server then cancels the trace too.
        try:
            async with asyncio.timeout(0.5):
                await client.call("slow", {"ms": 5000})
        except TimeoutError:
            print("gave up after 0.5 s")

        try:
            await client.get_history("echo", "no-such-trace", timeout=5)
        except FlowClientError as err:
            print("history:", err.code.name)


asyncio.run(main())
