// Package penguiflow is the Go client of PenguiFlow, a gRPC flow-execution
// service: put messages into hosted flows, get their outputs, stream chunks
// and FlowEvents, cancel traces.
//
// # Connecting
//
// [Dial] returns a [*Client] for one server address. Choose the transport
// explicitly: [WithInsecure] (plaintext, local development or a mesh sidecar
// on localhost), [WithTLS] or [WithMTLS]; with none of them the client uses
// TLS with the system roots. Credentials are [WithToken] or [WithTokenSource]
// (bearer JWT) and [WithTenant] (the x-tenant-id header trusted by servers in
// "header" auth mode). A Client is safe for concurrent use; [Client.Close]
// releases its connection, after which every call fails with a client-side
// FAILED_PRECONDITION "the client is closed".
//
// # Payloads
//
// Message bodies are plain Go values that encode as JSON: nil, bool, numbers,
// strings, []any, map[string]any, and anything else encoding/json accepts
// (structs with json tags, typed slices and maps). They travel as
// google.protobuf.Value, so every number becomes a float64 (integers above
// 2^53 lose precision) and NaN/±Inf are rejected. A []byte body is sent as the
// Message's raw `binary` field instead. Output payloads come back as the
// generic JSON shapes (map[string]any, []any, float64, string, bool, nil);
// [Message.Decode] converts one into a typed value.
//
// # Deadlines and cancellation
//
// Every method takes a [context.Context]. Its deadline is the gRPC deadline
// of the call and, for Emit, Call and CallStream, also becomes the message
// deadline on the server. Cancelling the context of a Call or CallStream (or
// its deadline passing) makes the server cancel the trace; cancelling Fetch,
// StreamTrace or SubscribeEvents only ends that call. Use [Client.Cancel] to
// cancel a trace explicitly.
//
// # Errors
//
// A failed RPC returns a [*Error] (find it with [errors.As]): the gRPC code,
// the server's message, and the decoded google.rpc details (ErrorInfo reason,
// BadRequest field violations, RetryInfo, QuotaFailure). [*Error] also
// implements GRPCStatus, so [google.golang.org/grpc/status.Code] works on it,
// and it unwraps to [context.DeadlineExceeded] or [context.Canceled] when the
// caller's own context ended the call.
//
// A node failing for good is not an error of the RPC: it is returned as data,
// a [*FlowError] in [CallResult.Error], [TraceUpdate.Error] or
// [TraceEnd.Error], with a nil error.
//
// # Streams
//
// CallStream, StreamTrace and SubscribeEvents return Go 1.23 iterators,
// [iter.Seq2] of (item, error), to be used with range:
//
//	for u, err := range client.CallStream(ctx, "stream", map[string]any{"chunks": 3}) {
//		if err != nil {
//			return err // a *Error; the sequence ends after it
//		}
//		// u.Chunk, u.Output, u.Error or u.End is set
//	}
//
// The RPC starts when the loop starts, and every range over the sequence
// makes a new RPC (for CallStream that means emitting a new message). A
// failure is yielded once, as (nil, err), and ends the sequence. Leaving the
// loop early (break, return, panic) cancels the RPC and releases its
// resources, so there is nothing to close. Trace streams end after the
// update carrying [TraceEnd]; SubscribeEvents runs until the context ends or
// the loop is left.
package penguiflow
