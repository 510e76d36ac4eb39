package penguiflow_test

// Tests against the in-process fake server (fake_server_test.go): what the
// client sends and how it decodes exactly controlled answers. Named
// TestOffline* so that `go test -run Offline` runs them alone.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	penguiflow "github.com/penguiflow/penguiflow-ts/clients/go"
	pb "github.com/penguiflow/penguiflow-ts/clients/go/gen/penguiflow/v1"
)

func dialFake(t *testing.T, addr string, opts ...penguiflow.Option) *penguiflow.Client {
	t.Helper()
	if len(opts) == 0 {
		opts = []penguiflow.Option{penguiflow.WithInsecure()}
	}
	c, err := penguiflow.Dial(context.Background(), addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// asError asserts err is a *penguiflow.Error with the given code.
func asError(t *testing.T, err error, code codes.Code) *penguiflow.Error {
	t.Helper()
	var perr *penguiflow.Error
	if !errors.As(err, &perr) {
		t.Fatalf("error %v (%T) is not a *penguiflow.Error", err, err)
	}
	if perr.Code != code {
		t.Fatalf("code = %v, want %v (error: %v)", perr.Code, code, err)
	}
	if status.Code(err) != code {
		t.Fatalf("status.Code(err) = %v, want %v", status.Code(err), code)
	}
	return perr
}

func TestOfflinePayloadEncoding(t *testing.T) {
	var got *pb.Message
	addr := startFake(t, &fakeServer{emit: func(_ context.Context, r *pb.EmitRequest) (*pb.EmitResponse, error) {
		got = r.GetMessage()
		return &pb.EmitResponse{TraceId: "t1"}, nil
	}})
	c := dialFake(t, addr)
	ctx := ctxFor(t, 5*time.Second)

	type doc struct {
		Title string   `json:"title"`
		Tags  []string `json:"tags"`
		Skip  string   `json:"-"`
	}
	cases := []struct {
		name    string
		payload any
		want    string // protojson of the sent Value
	}{
		{"nil", nil, `null`},
		{"string", "hi", `"hi"`},
		{"int", 42, `42`},
		{"generic map", map[string]any{"a": []any{1.5, true, nil}}, `{"a":[1.5,true,null]}`},
		{"struct with tags", doc{Title: "x", Tags: []string{"a", "b"}, Skip: "no"}, `{"tags":["a","b"],"title":"x"}`},
		{"typed map", map[string]int{"n": 1}, `{"n":1}`},
		{"raw JSON", json.RawMessage(`{"k":[1,2]}`), `{"k":[1,2]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Emit(ctx, "f", tc.payload); err != nil {
				t.Fatal(err)
			}
			if len(got.GetBinary()) != 0 {
				t.Fatalf("binary set for a JSON payload")
			}
			if !jsonEqual(t, protoJSON(t, got.GetPayload()), tc.want) {
				t.Fatalf("payload = %s, want %s", protoJSON(t, got.GetPayload()), tc.want)
			}
		})
	}

	t.Run("bytes go to binary", func(t *testing.T) {
		if _, err := c.Emit(ctx, "f", []byte{0, 1, 2}); err != nil {
			t.Fatal(err)
		}
		if string(got.GetBinary()) != "\x00\x01\x02" || got.GetPayload() != nil {
			t.Fatalf("binary = %v, payload = %v", got.GetBinary(), got.GetPayload())
		}
	})

	t.Run("send options", func(t *testing.T) {
		dl := time.Now().Add(time.Hour).Truncate(time.Millisecond)
		_, err := c.Emit(ctx, "f", "x",
			penguiflow.WithTraceID("my-trace"), penguiflow.WithTopic("news"), penguiflow.WithPriority(7),
			penguiflow.WithMeta(map[string]any{"k": "v"}), penguiflow.WithMessageDeadline(dl))
		if err != nil {
			t.Fatal(err)
		}
		if got.GetTraceId() != "my-trace" || got.GetHeaders().GetTopic() != "news" || got.GetHeaders().GetPriority() != 7 ||
			got.GetHeaders().GetTenant() != "" || got.GetMeta().AsMap()["k"] != "v" || !got.GetDeadline().AsTime().Equal(dl) {
			t.Fatalf("message = %v", got)
		}
	})
}

func TestOfflineInvalidPayloadIsRejectedBeforeSending(t *testing.T) {
	sent := false
	addr := startFake(t, &fakeServer{
		emit: func(context.Context, *pb.EmitRequest) (*pb.EmitResponse, error) {
			sent = true
			return &pb.EmitResponse{}, nil
		},
		callStream: func(*pb.CallStreamRequest, grpc.ServerStreamingServer[pb.CallStreamResponse]) error {
			sent = true
			return nil
		},
	})
	c := dialFake(t, addr)
	ctx := ctxFor(t, 5*time.Second)
	for name, payload := range map[string]any{
		"NaN":      map[string]any{"x": math.NaN()},
		"Inf":      []any{math.Inf(1)},
		"channel":  make(chan int),
		"func":     func() {},
		"bad JSON": json.RawMessage(`{`),
	} {
		_, err := c.Emit(ctx, "f", payload)
		perr := asError(t, err, codes.InvalidArgument)
		if !perr.ClientSide || len(perr.FieldViolations()) != 1 || perr.FieldViolations()[0].GetField() != "message.payload" {
			t.Fatalf("%s: error = %+v", name, perr)
		}
	}
	_, err := c.Emit(ctx, "f", "x", penguiflow.WithMeta(map[string]any{"bad": math.NaN()}))
	if perr := asError(t, err, codes.InvalidArgument); perr.FieldViolations()[0].GetField() != "message.meta" {
		t.Fatalf("meta violation = %v", perr.FieldViolations())
	}
	for u, err := range c.CallStream(ctx, "f", make(chan int)) {
		if u != nil {
			t.Fatalf("update %v", u)
		}
		asError(t, err, codes.InvalidArgument)
	}
	if sent {
		t.Fatal("an invalid request reached the server")
	}
}

func TestOfflineErrorDetailsAreDecoded(t *testing.T) {
	st := status.New(codes.ResourceExhausted, "tenant acme is over its quota")
	st, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: "QUOTA_EXCEEDED", Domain: penguiflow.ErrorDomain, Metadata: map[string]string{"flow": "echo"}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)},
		&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{Subject: "tenant:acme", Description: "too many traces"}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := status.New(codes.InvalidArgument, "message.trace_id: bad").WithDetails(
		&errdetails.ErrorInfo{Reason: "INVALID_REQUEST", Domain: penguiflow.ErrorDomain},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "message.trace_id", Description: "bad"}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	addr := startFake(t, &fakeServer{
		emit: func(context.Context, *pb.EmitRequest) (*pb.EmitResponse, error) { return nil, st.Err() },
		call: func(context.Context, *pb.CallRequest) (*pb.CallResponse, error) { return nil, bad.Err() },
	})
	c := dialFake(t, addr)
	ctx := ctxFor(t, 5*time.Second)

	_, err = c.Emit(ctx, "echo", "x")
	perr := asError(t, err, codes.ResourceExhausted)
	if perr.Reason() != "QUOTA_EXCEEDED" || perr.ErrorInfo.GetDomain() != penguiflow.ErrorDomain || perr.ErrorInfo.GetMetadata()["flow"] != "echo" {
		t.Fatalf("ErrorInfo = %v", perr.ErrorInfo)
	}
	if d, ok := perr.RetryDelay(); !ok || d != 1500*time.Millisecond {
		t.Fatalf("RetryDelay = %v, %v", d, ok)
	}
	if perr.QuotaFailure.GetViolations()[0].GetSubject() != "tenant:acme" {
		t.Fatalf("QuotaFailure = %v", perr.QuotaFailure)
	}
	if perr.Message != "tenant acme is over its quota" || perr.Error() != "penguiflow: RESOURCE_EXHAUSTED: tenant acme is over its quota" {
		t.Fatalf("Message = %q, Error() = %q", perr.Message, perr.Error())
	}
	if perr.ClientSide || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Fatal("a server error must not look client-side or like a context error")
	}
	if got := perr.GRPCStatus().Proto(); !proto.Equal(got, st.Proto()) {
		t.Fatalf("GRPCStatus = %v, want %v", got, st.Proto())
	}

	_, err = c.Call(ctx, "echo", "x")
	perr = asError(t, err, codes.InvalidArgument)
	if len(perr.FieldViolations()) != 1 || perr.FieldViolations()[0].GetField() != "message.trace_id" {
		t.Fatalf("violations = %v", perr.FieldViolations())
	}
	if _, ok := perr.RetryDelay(); ok {
		t.Fatal("RetryDelay reported without RetryInfo")
	}
}

func TestOfflineContextDeadlineAndCancel(t *testing.T) {
	addr := startFake(t, &fakeServer{
		fetch: func(ctx context.Context, _ *pb.FetchRequest) (*pb.FetchResponse, error) {
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		},
	})
	c := dialFake(t, addr)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Fetch(ctx, "f", "t")
	asError(t, err, codes.DeadlineExceeded)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("errors.Is(err, context.DeadlineExceeded) = false")
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel2)
	_, err = c.Fetch(ctx2, "f", "t")
	asError(t, err, codes.Canceled)
	if !errors.Is(err, context.Canceled) {
		t.Fatal("errors.Is(err, context.Canceled) = false")
	}
}

func TestOfflineFlowErrorIsData(t *testing.T) {
	addr := startFake(t, &fakeServer{
		call: func(_ context.Context, r *pb.CallRequest) (*pb.CallResponse, error) {
			return &pb.CallResponse{TraceId: "t1", Result: &pb.CallResponse_Error{Error: &pb.FlowError{
				Code: pb.FlowErrorCode_FLOW_ERROR_CODE_UNSPECIFIED, Message: "boom", TraceId: "t1",
				NodeName: "n", NodeId: "id", ExceptionType: "TypeError",
				Metadata: mustStruct(t, map[string]any{"attempts": 4}),
			}}}, nil
		},
		fetch: func(_ context.Context, r *pb.FetchRequest) (*pb.FetchResponse, error) {
			return &pb.FetchResponse{Result: &pb.FetchResponse_End{End: &pb.TraceEnd{
				Status: pb.TraceStatus_TRACE_STATUS_FAILED,
				Error:  &pb.FlowError{Code: pb.FlowErrorCode_FLOW_ERROR_CODE_NODE_TIMEOUT, Message: "slow"},
			}}}, nil
		},
	})
	c := dialFake(t, addr)
	ctx := ctxFor(t, 5*time.Second)
	res, err := c.Call(ctx, "f", "x")
	if err != nil {
		t.Fatal(err)
	}
	fe := res.Error
	if res.Output != nil || fe == nil || fe.Code != penguiflow.FlowErrorNodeException || fe.Message != "boom" ||
		fe.NodeName != "n" || fe.NodeID != "id" || fe.ExceptionType != "TypeError" || fe.Metadata["attempts"] != 4.0 || fe.TraceID != "t1" {
		t.Fatalf("result = %+v, error = %+v", res, fe)
	}
	if !strings.Contains(fe.Error(), "NODE_EXCEPTION") {
		t.Fatalf("FlowError.Error() = %q", fe.Error())
	}
	u, err := c.Fetch(ctx, "f", "t1")
	if err != nil {
		t.Fatal(err)
	}
	if u.TraceID != "t1" || u.End == nil || u.End.Status != penguiflow.TraceFailed || u.End.Error.Code != penguiflow.FlowErrorNodeTimeout {
		t.Fatalf("update = %+v", u)
	}
}

func TestOfflineOutputMessageDecoding(t *testing.T) {
	ts := time.Date(2030, 1, 2, 3, 4, 5, 6e6, time.UTC)
	addr := startFake(t, &fakeServer{
		fetch: func(_ context.Context, r *pb.FetchRequest) (*pb.FetchResponse, error) {
			if r.GetTraceId() == "bin" {
				return &pb.FetchResponse{Result: &pb.FetchResponse_Output{Output: &pb.Message{Binary: []byte("raw"), TraceId: "bin"}}}, nil
			}
			payload, _ := structpb.NewValue(map[string]any{"title": "x", "n": 3})
			return &pb.FetchResponse{Result: &pb.FetchResponse_Output{Output: &pb.Message{
				Payload: payload, TraceId: r.GetTraceId(), Ts: timestamppb.New(ts), Deadline: timestamppb.New(ts.Add(time.Second)),
				Headers: &pb.Headers{Tenant: "acme", Topic: "tp", Priority: 2},
			}}}, nil
		},
	})
	c := dialFake(t, addr)
	ctx := ctxFor(t, 5*time.Second)
	u, err := c.Fetch(ctx, "f", "t1")
	if err != nil {
		t.Fatal(err)
	}
	m := u.Output
	want := &penguiflow.Message{
		Payload: map[string]any{"title": "x", "n": 3.0}, TraceID: "t1", Time: ts, Deadline: ts.Add(time.Second),
		Headers: penguiflow.Headers{Tenant: "acme", Topic: "tp", Priority: 2}, Meta: map[string]any{},
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("message = %+v, want %+v", m, want)
	}
	var into struct {
		Title string `json:"title"`
		N     int    `json:"n"`
	}
	if err := m.Decode(&into); err != nil || into.Title != "x" || into.N != 3 {
		t.Fatalf("Decode = %+v, %v", into, err)
	}
	u, err = c.Fetch(ctx, "f", "bin")
	if err != nil {
		t.Fatal(err)
	}
	if string(u.Output.Binary) != "raw" || u.Output.Payload != nil {
		t.Fatalf("binary output = %+v", u.Output)
	}
	if err := u.Output.Decode(&into); err == nil {
		t.Fatal("Decode of a binary message succeeded")
	}
}

func TestOfflineCredentialsMetadata(t *testing.T) {
	var mu sync.Mutex
	var seen []metadata.MD
	addr := startFake(t, &fakeServer{listFlows: func(ctx context.Context, _ *pb.ListFlowsRequest) (*pb.ListFlowsResponse, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		mu.Lock()
		seen = append(seen, md)
		mu.Unlock()
		return &pb.ListFlowsResponse{}, nil
	}})
	ctx := ctxFor(t, 5*time.Second)
	last := func() metadata.MD {
		mu.Lock()
		defer mu.Unlock()
		return seen[len(seen)-1]
	}

	c := dialFake(t, addr, penguiflow.WithInsecure(), penguiflow.WithToken("tok1"), penguiflow.WithTenant("acme"))
	if _, err := c.ListFlows(ctx); err != nil {
		t.Fatal(err)
	}
	if md := last(); strings.Join(md.Get("authorization"), ",") != "Bearer tok1" || strings.Join(md.Get("x-tenant-id"), ",") != "acme" {
		t.Fatalf("metadata = %v", md)
	}

	n := 0
	c2 := dialFake(t, addr, penguiflow.WithInsecure(), penguiflow.WithTokenSource(func(ctx context.Context) (string, error) {
		n++
		if n == 3 {
			return "", errors.New("identity provider down")
		}
		if _, ok := ctx.Deadline(); !ok {
			t.Error("token source did not get the call's context")
		}
		return "tok-" + string(rune('0'+n)), nil
	}))
	for i, want := range []string{"Bearer tok-1", "Bearer tok-2"} {
		if _, err := c2.ListFlows(ctx); err != nil {
			t.Fatal(err)
		}
		if md := last(); strings.Join(md.Get("authorization"), ",") != want || len(md.Get("x-tenant-id")) != 0 {
			t.Fatalf("call %d metadata = %v", i, md)
		}
	}
	_, err := c2.ListFlows(ctx)
	if perr := asError(t, err, codes.Unauthenticated); !strings.Contains(perr.Message, "identity provider down") {
		t.Fatalf("message = %q", perr.Message)
	}
}

func TestOfflineTLSAndMTLS(t *testing.T) {
	pki := newTestPKI(t)
	var clientCN string
	f := &fakeServer{listFlows: func(ctx context.Context, _ *pb.ListFlowsRequest) (*pb.ListFlowsResponse, error) {
		clientCN = ""
		if p, ok := peer.FromContext(ctx); ok {
			if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
				clientCN = ti.State.PeerCertificates[0].Subject.CommonName
			}
		}
		return &pb.ListFlowsResponse{Flows: []*pb.FlowInfo{{Name: "echo"}}}, nil
	}}
	ctx := ctxFor(t, 10*time.Second)

	t.Run("TLS", func(t *testing.T) {
		addr := startFake(t, f, pki.serverCreds(t, false))
		c := dialFake(t, addr, penguiflow.WithTLS(&tls.Config{RootCAs: pki.pool, MinVersion: tls.VersionTLS12}), penguiflow.WithToken("secret"))
		flows, err := c.ListFlows(ctx)
		if err != nil || len(flows) != 1 || flows[0].Name != "echo" {
			t.Fatalf("ListFlows = %v, %v", flows, err)
		}
		// Plaintext to a TLS server fails.
		_, err = dialFake(t, addr).ListFlows(ctx)
		asError(t, err, codes.Unavailable)
	})

	t.Run("mTLS", func(t *testing.T) {
		addr := startFake(t, f, pki.serverCreds(t, true))
		c := dialFake(t, addr, penguiflow.WithMTLS(pki.clientCert, pki.clientKey, pki.caFile))
		if _, err := c.ListFlows(ctx); err != nil {
			t.Fatal(err)
		}
		if clientCN != "tenant-a" {
			t.Fatalf("server saw client certificate %q", clientCN)
		}
		// Without a client certificate the handshake fails.
		_, err := dialFake(t, addr, penguiflow.WithTLS(&tls.Config{RootCAs: pki.pool, MinVersion: tls.VersionTLS12})).ListFlows(ctx)
		asError(t, err, codes.Unavailable)
	})

	t.Run("default transport is TLS with the system roots", func(t *testing.T) {
		addr := startFake(t, f, pki.serverCreds(t, false))
		// The system roots do not trust the test CA.
		c, err := penguiflow.Dial(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.ListFlows(ctx)
		if perr := asError(t, err, codes.Unavailable); !strings.Contains(perr.Message, "certificate") {
			t.Fatalf("message = %q, want a certificate verification failure", perr.Message)
		}
	})
}

func TestOfflineDialRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	for name, opts := range map[string][]penguiflow.Option{
		"insecure+TLS":    {penguiflow.WithInsecure(), penguiflow.WithTLS(nil)},
		"TLS+mTLS":        {penguiflow.WithTLS(nil), penguiflow.WithMTLS("a", "b", "")},
		"missing mTLS":    {penguiflow.WithMTLS("/nonexistent/cert.pem", "/nonexistent/key.pem", "")},
		"nil tokenSource": {penguiflow.WithInsecure(), penguiflow.WithTokenSource(nil)},
	} {
		if c, err := penguiflow.Dial(ctx, "127.0.0.1:1", opts...); err == nil {
			_ = c.Close()
			t.Errorf("%s: Dial succeeded", name)
		}
	}
	// WithBlock gives up when Dial's context ends.
	bctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err := penguiflow.Dial(bctx, "127.0.0.1:1", penguiflow.WithInsecure(), penguiflow.WithBlock())
	asError(t, err, codes.DeadlineExceeded)
}

func TestOfflineStreamContract(t *testing.T) {
	sendUpdates := func(s grpc.ServerStreamingServer[pb.StreamTraceResponse], updates ...*pb.TraceUpdate) error {
		for _, u := range updates {
			if err := s.Send(&pb.StreamTraceResponse{TraceId: "t1", Update: u}); err != nil {
				return err
			}
		}
		return nil
	}
	chunk := &pb.TraceUpdate{Update: &pb.TraceUpdate_Chunk{Chunk: &pb.StreamChunk{StreamId: "s", Seq: 0, Text: "a"}}}
	end := &pb.TraceUpdate{Update: &pb.TraceUpdate_End{End: &pb.TraceEnd{Status: pb.TraceStatus_TRACE_STATUS_COMPLETED}}}
	mode := ""
	addr := startFake(t, &fakeServer{streamTrace: func(r *pb.StreamTraceRequest, s grpc.ServerStreamingServer[pb.StreamTraceResponse]) error {
		switch mode {
		case "no end":
			return sendUpdates(s, chunk)
		case "after end":
			return sendUpdates(s, chunk, end, chunk)
		case "error":
			_ = sendUpdates(s, chunk)
			return status.Error(codes.Unavailable, "draining")
		default:
			return sendUpdates(s, chunk, &pb.TraceUpdate{}, end)
		}
	}})
	c := dialFake(t, addr)
	ctx := ctxFor(t, 5*time.Second)
	collect := func() ([]*penguiflow.TraceUpdate, error) {
		var out []*penguiflow.TraceUpdate
		for u, err := range c.StreamTrace(ctx, "f", "t1") {
			if err != nil {
				if u != nil {
					t.Fatal("non-nil update with an error")
				}
				return out, err
			}
			out = append(out, u)
		}
		return out, nil
	}

	ups, err := collect()
	if err != nil || len(ups) != 2 || ups[0].Chunk.Text != "a" || ups[1].End.Status != penguiflow.TraceCompleted || ups[1].TraceID != "t1" {
		t.Fatalf("updates = %+v, err = %v", ups, err)
	}
	mode = "no end"
	_, err = collect()
	asError(t, err, codes.Internal)
	mode = "after end"
	_, err = collect()
	asError(t, err, codes.Internal)
	mode = "error"
	ups, err = collect()
	asError(t, err, codes.Unavailable)
	if len(ups) != 1 {
		t.Fatalf("updates before the error = %d", len(ups))
	}
}

func TestOfflineBreakCancelsTheStream(t *testing.T) {
	done := make(chan error, 1)
	addr := startFake(t, &fakeServer{callStream: func(r *pb.CallStreamRequest, s grpc.ServerStreamingServer[pb.CallStreamResponse]) error {
		for i := int64(0); ; i++ {
			u := &pb.TraceUpdate{Update: &pb.TraceUpdate_Chunk{Chunk: &pb.StreamChunk{Seq: i}}}
			if err := s.Send(&pb.CallStreamResponse{TraceId: "t1", Update: u}); err != nil {
				done <- err
				return err
			}
			select {
			case <-s.Context().Done():
				done <- s.Context().Err()
				return s.Context().Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	}})
	c := dialFake(t, addr)
	ctx := ctxFor(t, 5*time.Second)
	n := 0
	for u, err := range c.CallStream(ctx, "f", "x") {
		if err != nil {
			t.Fatal(err)
		}
		if u.Chunk.Seq != int64(n) {
			t.Fatalf("seq %d, want %d", u.Chunk.Seq, n)
		}
		if n++; n == 3 {
			break
		}
	}
	select {
	case err := <-done:
		if status.Code(err) != codes.Canceled && !errors.Is(err, context.Canceled) {
			t.Fatalf("server stream ended with %v, want cancelled", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the server stream was not cancelled after break")
	}
}

func TestOfflineSubscribeEventsConversion(t *testing.T) {
	var req *pb.SubscribeEventsRequest
	addr := startFake(t, &fakeServer{subscribe: func(r *pb.SubscribeEventsRequest, s grpc.ServerStreamingServer[pb.SubscribeEventsResponse]) error {
		req = r
		lat, pending := 12.5, int32(2)
		_ = s.Send(&pb.SubscribeEventsResponse{})
		return s.Send(&pb.SubscribeEventsResponse{Event: &pb.FlowEvent{
			EventType: "node_success", NodeName: "n", TraceId: "t", Attempt: 1, LatencyMs: &lat, TracePending: &pending,
			Flow: "f", Tenant: "acme", Seq: 9, Ts: timestamppb.New(time.UnixMilli(1000)),
		}})
	}})
	c := dialFake(t, addr)
	ctx := ctxFor(t, 5*time.Second)
	var evs []*penguiflow.FlowEvent
	for ev, err := range c.SubscribeEvents(ctx, penguiflow.EventFilter{Flow: "f", TraceIDs: []string{"t"}, EventTypes: []string{penguiflow.EventNodeSuccess}, AfterSeq: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if req.GetFlow() != "f" || req.GetTraceIds()[0] != "t" || req.GetEventTypes()[0] != "node_success" || req.GetAfterSeq() != 3 {
		t.Fatalf("request = %v", req)
	}
	if len(evs) != 1 {
		t.Fatalf("events = %d", len(evs))
	}
	ev := evs[0]
	if ev.Type != "node_success" || *ev.Latency != 12500*time.Microsecond || *ev.TracePending != 2 || ev.TraceInflight != nil ||
		ev.Seq != 9 || ev.Tenant != "acme" || !ev.Time.Equal(time.UnixMilli(1000)) || ev.Extra == nil {
		t.Fatalf("event = %+v", ev)
	}
}

func TestOfflineCloseCancelsCallsInFlight(t *testing.T) {
	entered := make(chan struct{})
	addr := startFake(t, &fakeServer{fetch: func(ctx context.Context, _ *pb.FetchRequest) (*pb.FetchResponse, error) {
		close(entered)
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	c, err := penguiflow.Dial(context.Background(), addr, penguiflow.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Fetch(ctxFor(t, 10*time.Second), "echo", "t")
		done <- err
	}()
	<-entered
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	asError(t, <-done, codes.Canceled)
}

func TestOfflineCallsAfterCloseFailWithFailedPrecondition(t *testing.T) {
	var received atomic.Int32
	count := grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		received.Add(1)
		return h(ctx, req)
	})
	countStreams := grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		received.Add(1)
		return h(srv, ss)
	})
	addr := startFake(t, &fakeServer{}, count, countStreams)
	var tokenCalls atomic.Int32
	c, err := penguiflow.Dial(context.Background(), addr, penguiflow.WithInsecure(),
		penguiflow.WithTokenSource(func(context.Context) (string, error) { tokenCalls.Add(1); return "tok", nil }))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := ctxFor(t, 5*time.Second)
	firstErr := func(seq func(func(*penguiflow.TraceUpdate, error) bool)) error {
		for _, err := range seq {
			if err != nil {
				return err
			}
		}
		return nil
	}
	calls := map[string]func() error{
		"Emit":        func() error { _, err := c.Emit(ctx, "echo", 1); return err },
		"Fetch":       func() error { _, err := c.Fetch(ctx, "echo", "t"); return err },
		"Call":        func() error { _, err := c.Call(ctx, "echo", 1); return err },
		"Cancel":      func() error { _, err := c.Cancel(ctx, "echo", "t"); return err },
		"GetHistory":  func() error { _, err := c.GetHistory(ctx, "echo", "t"); return err },
		"ListFlows":   func() error { _, err := c.ListFlows(ctx); return err },
		"CallStream":  func() error { return firstErr(c.CallStream(ctx, "echo", 1)) },
		"StreamTrace": func() error { return firstErr(c.StreamTrace(ctx, "echo", "t")) },
		"SubscribeEvents": func() error {
			for _, err := range c.SubscribeEvents(ctx, penguiflow.EventFilter{}) {
				return err
			}
			return nil
		},
	}
	for name, call := range calls {
		perr := asError(t, call(), codes.FailedPrecondition)
		if perr.Message != "the client is closed" || !perr.ClientSide || perr.Error() != "penguiflow: FAILED_PRECONDITION: the client is closed" {
			t.Errorf("%s: error = %+v", name, perr)
		}
		if errors.Is(perr, context.Canceled) {
			t.Errorf("%s: a closed client is not the caller's cancellation", name)
		}
	}
	// The escape hatch shares the connection and the answer.
	_, err = c.Raw().ListFlows(ctx, &pb.ListFlowsRequest{})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("Raw().ListFlows after Close: %v", err)
	}
	if n, m := received.Load(), tokenCalls.Load(); n != 0 || m != 0 {
		t.Fatalf("after Close the server received %d calls and the token source ran %d times; want none", n, m)
	}
}

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func protoJSON(t *testing.T, v *structpb.Value) string {
	t.Helper()
	b, err := v.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}
