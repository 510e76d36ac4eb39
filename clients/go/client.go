package penguiflow

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"iter"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/penguiflow/penguiflow-ts/clients/go/gen/penguiflow/v1"
)

// Client is a connection to a PenguiFlow server. It is safe for concurrent
// use by multiple goroutines; create one per server and reuse it.
type Client struct {
	conn      *grpc.ClientConn
	svc       pb.FlowServiceClient
	guard     *closedGuard
	closeOnce sync.Once
	closeErr  error
}

// Dial creates a Client for target, a gRPC target such as "localhost:50051"
// or "dns:///flows.internal:443". Unless [WithBlock] is given, Dial does not
// wait for the connection (ctx is then unused) and the first call connects.
// It fails on invalid options (for example WithInsecure together with
// WithTLS, or unreadable WithMTLS files).
func Dial(ctx context.Context, target string, opts ...Option) (*Client, error) {
	cfg := &dialConfig{}
	for _, o := range opts {
		o(cfg)
	}
	if len(cfg.errs) > 0 {
		return nil, fmt.Errorf("penguiflow: %w", errors.Join(cfg.errs...))
	}
	tlsConfig := cfg.tlsConfig
	if cfg.mtlsFiles != nil {
		if tlsConfig != nil {
			return nil, errors.New("penguiflow: WithTLS and WithMTLS are mutually exclusive")
		}
		c, err := MTLSConfig(cfg.mtlsFiles[0], cfg.mtlsFiles[1], cfg.mtlsFiles[2])
		if err != nil {
			return nil, err
		}
		tlsConfig = c
	}
	var dialOpts []grpc.DialOption
	switch {
	case cfg.insecure && tlsConfig != nil:
		return nil, errors.New("penguiflow: WithInsecure cannot be combined with WithTLS or WithMTLS")
	case cfg.insecure:
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	default:
		if tlsConfig == nil {
			tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
	}
	if cfg.token != nil || cfg.tenant != "" {
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(&callCredentials{
			token:      cfg.token,
			tenant:     cfg.tenant,
			requireTLS: !cfg.insecure,
		}))
	}
	guard := &closedGuard{}
	dialOpts = append(dialOpts,
		grpc.WithChainUnaryInterceptor(guard.unary),
		grpc.WithChainStreamInterceptor(guard.stream),
	)
	dialOpts = append(dialOpts, cfg.dialOptions...)
	conn, err := grpc.NewClient(target, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("penguiflow: %w", err)
	}
	if cfg.block {
		if err := waitReady(ctx, conn); err != nil {
			_ = conn.Close()
			return nil, err
		}
	}
	return &Client{conn: conn, svc: pb.NewFlowServiceClient(conn), guard: guard}, nil
}

func waitReady(ctx context.Context, conn *grpc.ClientConn) error {
	conn.Connect()
	for {
		s := conn.GetState()
		if s == connectivity.Ready {
			return nil
		}
		if !conn.WaitForStateChange(ctx, s) {
			return wrapError(ctx, status.FromContextError(ctx.Err()).Err())
		}
	}
}

// callCredentials adds the bearer token and the tenant header to every call.
type callCredentials struct {
	token      func(context.Context) (string, error)
	tenant     string
	requireTLS bool
}

func (c *callCredentials) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	md := map[string]string{}
	if c.tenant != "" {
		md["x-tenant-id"] = c.tenant
	}
	if c.token != nil {
		tok, err := c.token(ctx)
		if err != nil {
			return nil, status.Errorf(codes.Unauthenticated, "token source failed: %v", err)
		}
		if tok != "" {
			md["authorization"] = "Bearer " + tok
		}
	}
	return md, nil
}

func (c *callCredentials) RequireTransportSecurity() bool { return c.requireTLS }

// Close closes the connection: calls and streams in flight fail with
// CANCELLED, and every call made afterwards (also through [Client.Raw])
// fails with a client-side FAILED_PRECONDITION [*Error] "the client is
// closed" without being sent, as in the TypeScript and Python clients. It is
// idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.guard.closed.Store(true)
		c.closeErr = c.conn.Close()
	})
	return c.closeErr
}

// closedGuard is the first interceptor of every call on the connection: once
// the Client is closed it answers [closedError] itself. grpc-go alone would
// answer CANCELLED ("the client connection is closing"), the code this
// client keeps for calls that were in flight at Close.
type closedGuard struct{ closed atomic.Bool }

func (g *closedGuard) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if g.closed.Load() {
		return closedError()
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (g *closedGuard) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if g.closed.Load() {
		return nil, closedError()
	}
	return streamer(ctx, desc, cc, method, opts...)
}

// Conn returns the underlying gRPC connection, e.g. to call the standard
// grpc.health.v1.Health service on the same connection.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Raw returns the generated FlowService stub on the client's connection, for
// what the typed methods do not cover. Its errors are plain gRPC statuses,
// except after Close: then the [*Error] of the typed methods, whose
// GRPCStatus is FAILED_PRECONDITION.
func (c *Client) Raw() pb.FlowServiceClient { return c.svc }

func newSendConfig(opts []SendOption) *sendConfig {
	cfg := &sendConfig{}
	for _, o := range opts {
		o(cfg)
	}
	return cfg
}

// Emit puts a message with payload into flow and returns its trace id
// without waiting for any output. It returns once the message is admitted.
// ctx's deadline also becomes the message deadline; cancelling ctx after
// Emit returned does not affect the trace.
//
// Errors ([*Error]): NOT_FOUND (unknown flow), INVALID_ARGUMENT (bad trace
// id, payload too large or deep, or not JSON-compatible), RESOURCE_EXHAUSTED
// (see [Error.RetryDelay]), PERMISSION_DENIED, UNAUTHENTICATED,
// DEADLINE_EXCEEDED, UNAVAILABLE.
func (c *Client) Emit(ctx context.Context, flow string, payload any, opts ...SendOption) (*EmitResult, error) {
	cfg := newSendConfig(opts)
	msg, err := buildMessage(payload, cfg)
	if err != nil {
		return nil, err
	}
	res, err := c.svc.Emit(ctx, &pb.EmitRequest{Flow: flow, Message: msg, IdempotencyKey: cfg.idempotencyKey})
	if err != nil {
		return nil, wrapError(ctx, err)
	}
	return &EmitResult{TraceID: res.GetTraceId(), Deduplicated: res.GetDeduplicated()}, nil
}

// Fetch returns the next output of a trace (an Output, a node Error, a
// Chunk, or the trace's End), waiting for one up to ctx's deadline. Each
// output is delivered once across all fetchers; once the trace has ended and
// everything was fetched, Fetch returns the End at once.
//
// Errors ([*Error]): DEADLINE_EXCEEDED (nothing before the deadline; the
// trace keeps running and a later Fetch can still get the output),
// CANCELLED (the trace was cancelled, or ctx was), NOT_FOUND (unknown flow or
// trace), INVALID_ARGUMENT (malformed trace id).
func (c *Client) Fetch(ctx context.Context, flow, traceID string) (*TraceUpdate, error) {
	res, err := c.svc.Fetch(ctx, &pb.FetchRequest{Flow: flow, TraceId: traceID})
	if err != nil {
		return nil, wrapError(ctx, err)
	}
	u := fromFetchResponse(traceID, res)
	if u == nil {
		return nil, internalError("the server sent a FetchResponse with no result")
	}
	return u, nil
}

// Call is Emit and Fetch in one round trip: it puts a message with payload
// into flow and returns the trace id with the trace's first output (an
// Output message, or a FlowError as data; neither when the trace ended
// without output). Chunks before the first output are dropped; later
// outputs stay available to Fetch and StreamTrace. ctx's deadline becomes
// the message deadline, and if ctx ends before the response the server
// cancels the trace (server-configurable).
//
// Errors ([*Error]): those of [Client.Emit], plus CANCELLED (the trace was
// cancelled, or ctx was).
func (c *Client) Call(ctx context.Context, flow string, payload any, opts ...SendOption) (*CallResult, error) {
	cfg := newSendConfig(opts)
	msg, err := buildMessage(payload, cfg)
	if err != nil {
		return nil, err
	}
	res, err := c.svc.Call(ctx, &pb.CallRequest{Flow: flow, Message: msg, IdempotencyKey: cfg.idempotencyKey})
	if err != nil {
		return nil, wrapError(ctx, err)
	}
	return fromCallResponse(res), nil
}

// CallStream emits a message with payload into flow and yields every chunk,
// output and node error of the trace, ending with exactly one update whose
// End is set (also for cancelled or deadline-exceeded traces, with the
// matching status). Every update carries the trace id.
//
// Each range over the returned sequence makes a new CallStream RPC, that is
// emits a new message. ctx's deadline bounds the whole stream and becomes
// the message deadline. Leaving the loop before the End, or ctx ending,
// cancels the RPC and makes the server cancel the trace
// (server-configurable).
//
// Errors (yielded once, ending the sequence; [*Error]): those of
// [Client.Emit], CANCELLED (ctx cancelled), and INTERNAL if the server closed
// the stream without a TraceEnd.
func (c *Client) CallStream(ctx context.Context, flow string, payload any, opts ...SendOption) iter.Seq2[*TraceUpdate, error] {
	cfg := newSendConfig(opts)
	return func(yield func(*TraceUpdate, error) bool) {
		msg, err := buildMessage(payload, cfg)
		if err != nil {
			yield(nil, err)
			return
		}
		req := &pb.CallStreamRequest{Flow: flow, Message: msg, IdempotencyKey: cfg.idempotencyKey}
		traceStream(ctx, yield, func(ctx context.Context) (recvStream[*pb.CallStreamResponse], error) {
			return c.svc.CallStream(ctx, req)
		})
	}
}

// StreamTrace yields the not-yet-delivered chunks, outputs and node errors of
// a trace that was already emitted, ending with exactly one update whose End
// is set (at once for a trace that already ended). Outputs already taken by
// Fetch or Call are not repeated. Leaving the loop or ctx ending does NOT
// cancel the trace; use [Client.Cancel]. Each range makes a new RPC.
//
// Errors (yielded once, ending the sequence; [*Error]): NOT_FOUND (unknown
// flow or trace), INVALID_ARGUMENT (malformed trace id), DEADLINE_EXCEEDED,
// CANCELLED (ctx cancelled), INTERNAL (closed without a TraceEnd).
func (c *Client) StreamTrace(ctx context.Context, flow, traceID string) iter.Seq2[*TraceUpdate, error] {
	return func(yield func(*TraceUpdate, error) bool) {
		req := &pb.StreamTraceRequest{Flow: flow, TraceId: traceID}
		traceStream(ctx, yield, func(ctx context.Context) (recvStream[*pb.StreamTraceResponse], error) {
			return c.svc.StreamTrace(ctx, req)
		})
	}
}

// Cancel cancels a trace: its queued messages are dropped, its running nodes
// aborted, its pending Fetch and Call fail with CANCELLED and its streams end
// with a TraceEnd of status CANCELLED. It returns true when this call
// cancelled a running trace and false when the trace had already finished or
// been cancelled (while the server still remembers it).
//
// Errors ([*Error]): NOT_FOUND (unknown flow; a trace the server does not
// know or has forgotten; another tenant's trace), INVALID_ARGUMENT
// (malformed trace id).
func (c *Client) Cancel(ctx context.Context, flow, traceID string) (bool, error) {
	res, err := c.svc.Cancel(ctx, &pb.CancelRequest{Flow: flow, TraceId: traceID})
	if err != nil {
		return false, wrapError(ctx, err)
	}
	return res.GetCancelled(), nil
}

// SubscribeEvents yields the live FlowEvents of the caller's tenant that
// match filter. With filter.TraceIDs set, the server first replays the
// stored events after filter.AfterSeq, then continues live with no gap and
// no duplicate. The sequence never ends on its own: stop it by leaving the
// loop (no error is yielded then) or with ctx (the sequence then ends with a
// CANCELLED or DEADLINE_EXCEEDED [*Error]). Each range makes a new RPC. If
// the server drains (UNAVAILABLE) or drops a slow subscriber
// (RESOURCE_EXHAUSTED), resume with AfterSeq set to the last Seq received.
//
// Errors (yielded once, ending the sequence; [*Error]): NOT_FOUND (unknown
// flow), INVALID_ARGUMENT (unknown event type), RESOURCE_EXHAUSTED,
// UNAVAILABLE, CANCELLED, DEADLINE_EXCEEDED.
func (c *Client) SubscribeEvents(ctx context.Context, filter EventFilter) iter.Seq2[*FlowEvent, error] {
	req := &pb.SubscribeEventsRequest{
		Flow:       filter.Flow,
		TraceIds:   append([]string(nil), filter.TraceIDs...),
		EventTypes: append([]string(nil), filter.EventTypes...),
		AfterSeq:   filter.AfterSeq,
	}
	return func(yield func(*FlowEvent, error) bool) {
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := c.svc.SubscribeEvents(sctx, req)
		if err != nil {
			yield(nil, wrapError(ctx, err))
			return
		}
		for {
			res, err := stream.Recv()
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(nil, wrapError(ctx, err))
				return
			}
			if res.GetEvent() == nil {
				continue
			}
			ev := fromFlowEvent(res.GetEvent())
			if !yield(&ev, nil) {
				return
			}
		}
	}
}

// GetHistory returns a trace's stored events in seq order (1, 2, 3, ...),
// for running and finished traces.
//
// Errors ([*Error]): NOT_FOUND (unknown flow or trace), INVALID_ARGUMENT
// (malformed trace id).
func (c *Client) GetHistory(ctx context.Context, flow, traceID string) ([]FlowEvent, error) {
	res, err := c.svc.GetHistory(ctx, &pb.GetHistoryRequest{Flow: flow, TraceId: traceID})
	if err != nil {
		return nil, wrapError(ctx, err)
	}
	out := make([]FlowEvent, 0, len(res.GetEvents()))
	for _, e := range res.GetEvents() {
		out = append(out, fromFlowEvent(e))
	}
	return out, nil
}

// ListFlows returns the flows hosted by the server, sorted by name, with
// their nodes, edges and policies.
func (c *Client) ListFlows(ctx context.Context) ([]FlowInfo, error) {
	res, err := c.svc.ListFlows(ctx, &pb.ListFlowsRequest{})
	if err != nil {
		return nil, wrapError(ctx, err)
	}
	out := make([]FlowInfo, 0, len(res.GetFlows()))
	for _, f := range res.GetFlows() {
		out = append(out, fromFlowInfo(f))
	}
	return out, nil
}

// recvStream is the receiving side of a server stream of trace updates.
type recvStream[R traceResponse] interface {
	Recv() (R, error)
}

// traceResponse is a CallStreamResponse or a StreamTraceResponse.
type traceResponse interface {
	GetTraceId() string
	GetUpdate() *pb.TraceUpdate
}

// traceStream runs one trace stream RPC and yields its updates. It stops
// after the TraceEnd and the server's OK, on the first error, or when the
// consumer stops; in every case the RPC is cancelled on return.
func traceStream[R traceResponse](ctx context.Context, yield func(*TraceUpdate, error) bool, open func(context.Context) (recvStream[R], error)) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := open(sctx)
	if err != nil {
		yield(nil, wrapError(ctx, err))
		return
	}
	sawEnd := false
	for {
		res, err := stream.Recv()
		if err == io.EOF {
			if !sawEnd {
				yield(nil, internalError("the server closed the trace stream without a TraceEnd"))
			}
			return
		}
		if err != nil {
			yield(nil, wrapError(ctx, err))
			return
		}
		if sawEnd {
			yield(nil, internalError("the server sent an update after the TraceEnd"))
			return
		}
		u := fromTraceUpdate(res.GetTraceId(), res.GetUpdate())
		if u == nil {
			continue
		}
		sawEnd = u.End != nil
		if !yield(u, nil) {
			return
		}
	}
}
