package penguiflow_test

// Runnable examples, executed by `go test` against the live server (see
// main_test.go, which sets PENGUIFLOW_TARGET). README.md shows their bodies
// verbatim; TestReadmeShowsExamples keeps the two in sync.

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"google.golang.org/grpc/status"

	penguiflow "github.com/penguiflow/penguiflow-ts/clients/go"
)

func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := penguiflow.Dial(ctx, os.Getenv("PENGUIFLOW_TARGET"), penguiflow.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	res, err := client.Call(ctx, "echo", map[string]any{"text": "hello"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Output.Payload) // map[text:hello]
	// Output: map[text:hello]
}

func ExampleClient_CallStream() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := penguiflow.Dial(ctx, os.Getenv("PENGUIFLOW_TARGET"), penguiflow.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	for u, err := range client.CallStream(ctx, "stream", map[string]any{"chunks": 3}) {
		if err != nil {
			log.Fatal(err) // a *penguiflow.Error; the loop ends after it
		}
		switch {
		case u.Chunk != nil:
			fmt.Printf("chunk %d: %q\n", u.Chunk.Seq, u.Chunk.Text)
		case u.Output != nil:
			fmt.Println("output:", u.Output.Payload)
		case u.Error != nil:
			fmt.Println("node failed:", u.Error.Code, u.Error.Message)
		case u.End != nil:
			fmt.Println("end:", u.End.Status)
		}
	}
	// Output:
	// chunk 0: "chunk-0 "
	// chunk 1: "chunk-1 "
	// chunk 2: "chunk-2 "
	// output: map[chunks:3 text:chunk-0 chunk-1 chunk-2 ]
	// end: COMPLETED
}

func Example_deadline() {
	client, err := penguiflow.Dial(context.Background(), os.Getenv("PENGUIFLOW_TARGET"), penguiflow.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// The context's deadline bounds the call and becomes the message deadline;
	// when it passes first, the server also cancels the trace.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = client.Call(ctx, "slow", map[string]any{"ms": 5000})

	var perr *penguiflow.Error
	if errors.As(err, &perr) {
		fmt.Println(perr.Code, errors.Is(err, context.DeadlineExceeded))
	}
	// Output: DeadlineExceeded true
}

func ExampleClient_Cancel() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := penguiflow.Dial(ctx, os.Getenv("PENGUIFLOW_TARGET"), penguiflow.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	res, err := client.Emit(ctx, "slow", map[string]any{"ms": 60000})
	if err != nil {
		log.Fatal(err)
	}
	cancelled, err := client.Cancel(ctx, "slow", res.TraceID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("cancelled:", cancelled)

	// Pending and later Fetches of a cancelled trace fail with CANCELLED.
	_, err = client.Fetch(ctx, "slow", res.TraceID)
	fmt.Println(status.Code(err))
	// Output:
	// cancelled: true
	// Canceled
}

func ExampleError() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := penguiflow.Dial(ctx, os.Getenv("PENGUIFLOW_TARGET"), penguiflow.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	_, err = client.Emit(ctx, "echo", "hi", penguiflow.WithTraceID("bad id!"))
	var perr *penguiflow.Error
	if errors.As(err, &perr) {
		fmt.Println(perr.Code, perr.Reason())
		for _, v := range perr.FieldViolations() {
			fmt.Println(v.GetField())
		}
	}

	_, err = client.Fetch(ctx, "echo", "no-such-trace")
	if errors.As(err, &perr) {
		fmt.Println(perr.Code, perr.Reason())
	}

	// A node failing for good is data, not an error.
	res, err := client.Call(ctx, "flaky", map[string]any{"failures": 10})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Error.Code, res.Error.NodeName)
	// Output:
	// InvalidArgument INVALID_REQUEST
	// message.trace_id
	// NotFound TRACE_NOT_FOUND
	// NODE_EXCEPTION flaky
}
