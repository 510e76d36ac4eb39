package penguiflow_test

// Tests against the real PenguiFlow server (see main_test.go) and its demo
// flows: echo, chain5, stream {chunks, delayMs}, fanout, slow {ms} and
// flaky {failures}. Every test runs as its own tenant (x-tenant-id, trusted
// in auth mode none), so tests running in parallel never see each other's
// traces or events.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	penguiflow "github.com/penguiflow/penguiflow-ts/clients/go"
	pb "github.com/penguiflow/penguiflow-ts/clients/go/gen/penguiflow/v1"
)

var (
	tenantUnsafe = regexp.MustCompile(`[^A-Za-z0-9._:-]`)
	// runID keeps tenants unique across test processes sharing one server
	// (PENGUIFLOW_TARGET); tenantSeq across repeated runs (-count).
	runID     = fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	tenantSeq atomic.Int64
	tenants   sync.Map // *testing.T -> string
)

// tenantOf returns the test's own tenant: unique per test run, derived from
// the test's name, valid for the server's tenant charset.
func tenantOf(t *testing.T) string {
	if v, ok := tenants.Load(t); ok {
		return v.(string)
	}
	name := tenantUnsafe.ReplaceAllString(t.Name(), ".")
	if len(name) > 90 {
		name = name[len(name)-90:]
	}
	v, _ := tenants.LoadOrStore(t, fmt.Sprintf("go.%s.%d.%s", runID, tenantSeq.Add(1), name))
	return v.(string)
}

// liveClient connects to the live server as the test's own tenant.
func liveClient(t *testing.T) *penguiflow.Client {
	t.Helper()
	return liveClientAs(t, tenantOf(t))
}

func liveClientAs(t *testing.T, tenant string) *penguiflow.Client {
	t.Helper()
	c, err := penguiflow.Dial(context.Background(), liveTarget, penguiflow.WithInsecure(), penguiflow.WithTenant(tenant))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// collect ranges over a trace stream and returns its updates, failing the
// test on an error.
func collect(t *testing.T, seq func(func(*penguiflow.TraceUpdate, error) bool)) []*penguiflow.TraceUpdate {
	t.Helper()
	var out []*penguiflow.TraceUpdate
	for u, err := range seq {
		if err != nil {
			t.Fatalf("stream failed after %d updates: %v", len(out), err)
		}
		out = append(out, u)
	}
	return out
}

// waitForEvent polls GetHistory until an event of type typ appears.
func waitForEvent(t *testing.T, c *penguiflow.Client, flow, traceID, typ string) []penguiflow.FlowEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		evs, err := c.GetHistory(ctx, flow, traceID)
		cancel()
		if err != nil {
			t.Fatalf("GetHistory: %v", err)
		}
		if slices.ContainsFunc(evs, func(e penguiflow.FlowEvent) bool { return e.Type == typ }) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event for trace %s; history: %v", typ, traceID, eventTypes(evs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func eventTypes(evs []penguiflow.FlowEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func TestListFlows(t *testing.T) {
	t.Parallel()
	c := liveClient(t)
	flows, err := c.ListFlows(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]penguiflow.FlowInfo{}
	var names []string
	for _, f := range flows {
		byName[f.Name] = f
		names = append(names, f.Name)
	}
	for _, want := range []string{"chain5", "echo", "fanout", "flaky", "slow", "stream"} {
		if _, ok := byName[want]; !ok {
			t.Fatalf("flow %s missing from %v", want, names)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("flows not sorted by name: %v", names)
	}
	echo := byName["echo"]
	if len(echo.Nodes) != 1 || echo.Nodes[0].Name != "echo" || echo.Nodes[0].ID == "" ||
		!slices.Equal(echo.Ingress, []string{"echo"}) || !slices.Equal(echo.Egress, []string{"echo"}) || echo.Description == "" {
		t.Errorf("echo = %+v", echo)
	}
	chain := byName["chain5"]
	if len(chain.Nodes) != 5 || len(chain.Edges) != 4 || chain.Edges[0] != (penguiflow.Edge{Source: "hop1", Target: "hop2"}) {
		t.Errorf("chain5 = %+v", chain)
	}
	fan := byName["fanout"]
	if len(fan.Nodes) != 7 || len(fan.Edges) != 9 || !slices.Equal(fan.Ingress, []string{"split"}) || !slices.Equal(fan.Egress, []string{"final"}) {
		t.Errorf("fanout = %+v", fan)
	}
	flaky := byName["flaky"].Nodes[0].Policy
	if flaky.MaxRetries != 3 || flaky.BackoffBase != 10*time.Millisecond || flaky.BackoffMult != 2 || flaky.MaxConcurrency != 64 || flaky.Validate == "" {
		t.Errorf("flaky policy = %+v", flaky)
	}
}

func TestEmitAndFetch(t *testing.T) {
	t.Parallel()
	c := liveClient(t)
	ctx := ctxFor(t, 10*time.Second)
	payload := map[string]any{"text": "hello", "n": 1.5, "list": []any{true, nil, "x"}}
	res, err := c.Emit(ctx, "echo", payload)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(res.TraceID) || res.Deduplicated {
		t.Fatalf("EmitResult = %+v; want a 32-hex server-generated trace id", res)
	}
	u, err := c.Fetch(ctx, "echo", res.TraceID)
	if err != nil {
		t.Fatal(err)
	}
	if u.Output == nil || u.TraceID != res.TraceID || u.Output.TraceID != res.TraceID {
		t.Fatalf("first fetch = %+v", u)
	}
	if fmt.Sprint(u.Output.Payload) != fmt.Sprint(payload) {
		t.Errorf("payload = %v, want %v", u.Output.Payload, payload)
	}
	if u.Output.Headers.Tenant != tenantOf(t) || u.Output.Time.IsZero() {
		t.Errorf("output headers/time = %+v / %v", u.Output.Headers, u.Output.Time)
	}
	// The trace has ended: every later Fetch returns the same End at once.
	for range 2 {
		u, err = c.Fetch(ctx, "echo", res.TraceID)
		if err != nil {
			t.Fatal(err)
		}
		if u.End == nil || u.End.Status != penguiflow.TraceCompleted || u.End.Error != nil {
			t.Fatalf("fetch after the output = %+v", u)
		}
	}
}

func TestCallDemoFlows(t *testing.T) {
	t.Parallel()
	c := liveClient(t)
	ctx := ctxFor(t, 20*time.Second)

	t.Run("echo keeps payload, meta, topic and trace id", func(t *testing.T) {
		res, err := c.Call(ctx, "echo", map[string]any{"q": "hi"},
			penguiflow.WithTraceID("go-call-echo.1"), penguiflow.WithTopic("news"), penguiflow.WithPriority(3),
			penguiflow.WithMeta(map[string]any{"k": "v"}))
		if err != nil {
			t.Fatal(err)
		}
		out := res.Output
		if res.TraceID != "go-call-echo.1" || res.Error != nil || out == nil {
			t.Fatalf("result = %+v", res)
		}
		if out.Payload.(map[string]any)["q"] != "hi" || out.Headers.Topic != "news" || out.Headers.Priority != 3 || out.Meta["k"] != "v" {
			t.Errorf("output = %+v", out)
		}
		// The call's deadline became the message deadline (as the server
		// saw it: grpc-timeout is relative, so allow for transit time).
		dl, _ := ctx.Deadline()
		if skew := out.Deadline.Sub(dl); out.Deadline.IsZero() || skew > 250*time.Millisecond || skew < -250*time.Millisecond {
			t.Errorf("message deadline = %v, call deadline = %v", out.Deadline, dl)
		}
	})

	t.Run("chain5", func(t *testing.T) {
		res, err := c.Call(ctx, "chain5", []any{1.0, "two"})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(res.Output.Payload) != "[1 two]" {
			t.Errorf("payload = %v", res.Output.Payload)
		}
	})

	t.Run("fanout joins four workers", func(t *testing.T) {
		res, err := c.Call(ctx, "fanout", "x")
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Input   string `json:"input"`
			Results []int  `json:"results"`
		}
		if err := res.Output.Decode(&got); err != nil {
			t.Fatal(err)
		}
		if got.Input != "x" || !slices.Equal(got.Results, []int{0, 1, 2, 3}) {
			t.Errorf("fanout result = %+v", got)
		}
	})

	t.Run("slow", func(t *testing.T) {
		start := time.Now()
		res, err := c.Call(ctx, "slow", map[string]any{"ms": 200})
		if err != nil {
			t.Fatal(err)
		}
		if res.Output.Payload.(map[string]any)["sleptMs"] != 200.0 || time.Since(start) < 200*time.Millisecond {
			t.Errorf("slow = %v after %v", res.Output.Payload, time.Since(start))
		}
	})

	t.Run("binary body", func(t *testing.T) {
		res, err := c.Call(ctx, "echo", []byte{0xff, 0x00, 0x01})
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Output.Binary) != "\xff\x00\x01" || res.Output.Payload != nil {
			t.Errorf("binary echo = %+v", res.Output)
		}
	})
}

func TestFlakyFlow(t *testing.T) {
	t.Parallel()
	c := liveClient(t)
	ctx := ctxFor(t, 20*time.Second)

	t.Run("recovers within its retries", func(t *testing.T) {
		res, err := c.Call(ctx, "flaky", map[string]any{"failures": 2})
		if err != nil {
			t.Fatal(err)
		}
		if res.Error != nil || res.Output.Payload.(map[string]any)["attempts"] != 3.0 {
			t.Fatalf("result = %+v / %+v", res.Output, res.Error)
		}
		evs := waitForEvent(t, c, "flaky", res.TraceID, penguiflow.EventNodeSuccess)
		if n := strings.Count(strings.Join(eventTypes(evs), " "), penguiflow.EventNodeRetry); n != 2 {
			t.Errorf("node_retry events = %d, want 2; history %v", n, eventTypes(evs))
		}
	})

	t.Run("Call returns the FlowError as data", func(t *testing.T) {
		res, err := c.Call(ctx, "flaky", map[string]any{"failures": 4})
		if err != nil {
			t.Fatalf("a node failure must not be an RPC error: %v", err)
		}
		fe := res.Error
		if res.Output != nil || fe == nil || fe.Code != penguiflow.FlowErrorNodeException || fe.NodeName != "flaky" ||
			fe.NodeID == "" || fe.TraceID != res.TraceID || fe.Message == "" {
			t.Fatalf("result = %+v, error = %+v", res, fe)
		}
		// After the error output the trace ends as FAILED.
		u, err := c.Fetch(ctx, "flaky", res.TraceID)
		if err != nil {
			t.Fatal(err)
		}
		if u.End == nil || u.End.Status != penguiflow.TraceFailed || u.End.Error == nil || u.End.Error.Code != penguiflow.FlowErrorNodeException {
			t.Fatalf("fetch after the error = %+v", u)
		}
	})

	t.Run("CallStream yields the error then a FAILED end", func(t *testing.T) {
		ups := collect(t, c.CallStream(ctx, "flaky", map[string]any{"failures": 10}))
		if len(ups) != 2 || ups[0].Error == nil || ups[1].End == nil || ups[1].End.Status != penguiflow.TraceFailed ||
			ups[1].End.Error == nil || ups[1].End.Error.Code != penguiflow.FlowErrorNodeException {
			t.Fatalf("updates = %s", describe(ups))
		}
	})
}

func TestCallStreamChunks(t *testing.T) {
	t.Parallel()
	c := liveClient(t)
	ups := collect(t, c.CallStream(ctxFor(t, 20*time.Second), "stream", map[string]any{"chunks": 5}))
	if len(ups) != 7 {
		t.Fatalf("updates = %s; want 5 chunks, 1 output, 1 end", describe(ups))
	}
	traceID := ups[0].TraceID
	if traceID == "" {
		t.Fatal("empty trace id")
	}
	var text strings.Builder
	for i, u := range ups[:5] {
		if u.TraceID != traceID || u.Chunk == nil || u.Chunk.Seq != int64(i) || u.Chunk.Done != (i == 4) || u.Chunk.StreamID != traceID {
			t.Fatalf("update %d = %s", i, describe([]*penguiflow.TraceUpdate{u}))
		}
		text.WriteString(u.Chunk.Text)
	}
	out := ups[5].Output
	if out == nil || out.Payload.(map[string]any)["text"] != text.String() || out.Payload.(map[string]any)["chunks"] != 5.0 {
		t.Fatalf("output = %s", describe(ups[5:6]))
	}
	if ups[6].End == nil || ups[6].End.Status != penguiflow.TraceCompleted || ups[6].TraceID != traceID {
		t.Fatalf("end = %s", describe(ups[6:]))
	}
}

func TestStreamTrace(t *testing.T) {
	t.Parallel()
	c := liveClient(t)
	ctx := ctxFor(t, 20*time.Second)
	res, err := c.Emit(ctx, "stream", map[string]any{"chunks": 3, "delayMs": 20})
	if err != nil {
		t.Fatal(err)
	}
	ups := collect(t, c.StreamTrace(ctx, "stream", res.TraceID))
	if len(ups) != 5 || ups[0].Chunk == nil || ups[0].Chunk.Seq != 0 || ups[3].Output == nil || ups[4].End.Status != penguiflow.TraceCompleted {
		t.Fatalf("updates = %s", describe(ups))
	}
	for _, u := range ups {
		if u.TraceID != res.TraceID {
			t.Fatalf("update of trace %q, want %q", u.TraceID, res.TraceID)
		}
	}
	// Everything was delivered: a second StreamTrace gets only the end, at once.
	ups = collect(t, c.StreamTrace(ctx, "stream", res.TraceID))
	if len(ups) != 1 || ups[0].End == nil || ups[0].End.Status != penguiflow.TraceCompleted {
		t.Fatalf("second StreamTrace = %s", describe(ups))
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	c := liveClient(t)
	ctx := ctxFor(t, 20*time.Second)
	res, err := c.Emit(ctx, "slow", map[string]any{"ms": 60_000})
	if err != nil {
		t.Fatal(err)
	}
	// A StreamTrace attached before the cancel ends with a CANCELLED end.
	streamDone := make(chan []*penguiflow.TraceUpdate, 1)
	streamErr := make(chan error, 1)
	go func() {
		var ups []*penguiflow.TraceUpdate
		for u, err := range c.StreamTrace(ctx, "slow", res.TraceID) {
			if err != nil {
				streamErr <- err
				return
			}
			ups = append(ups, u)
		}
		streamDone <- ups
	}()
	waitForEvent(t, c, "slow", res.TraceID, penguiflow.EventNodeStart)

	cancelled, err := c.Cancel(ctx, "slow", res.TraceID)
	if err != nil || !cancelled {
		t.Fatalf("Cancel = %v, %v; want true", cancelled, err)
	}
	cancelled, err = c.Cancel(ctx, "slow", res.TraceID)
	if err != nil || cancelled {
		t.Fatalf("second Cancel = %v, %v; want false (already cancelled)", cancelled, err)
	}
	select {
	case ups := <-streamDone:
		if len(ups) != 1 || ups[0].End == nil || ups[0].End.Status != penguiflow.TraceCancelled {
			t.Fatalf("StreamTrace of the cancelled trace = %s", describe(ups))
		}
	case err := <-streamErr:
		t.Fatalf("StreamTrace failed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("StreamTrace did not end after Cancel")
	}
	_, err = c.Fetch(ctx, "slow", res.TraceID)
	if perr := asError(t, err, codes.Canceled); errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled trace must not look like a cancelled context: %+v", perr)
	}
	evs := waitForEvent(t, c, "slow", res.TraceID, penguiflow.EventTraceCancelFinish)
	if n := strings.Count(strings.Join(eventTypes(evs), " "), penguiflow.EventTraceCancelStart); n != 1 {
		t.Errorf("trace_cancel_start events = %d; history %v", n, eventTypes(evs))
	}
}

func TestCallStreamCancelledMidStream(t *testing.T) {
	t.Parallel()
	c := liveClient(t)

	check := func(t *testing.T, traceID string) {
		t.Helper()
		// The server cancels the trace when the client leaves (cancel on disconnect).
		waitForEvent(t, c, "stream", traceID, penguiflow.EventTraceCancelFinish)
		ctx := ctxFor(t, 10*time.Second)
		cancelled, err := c.Cancel(ctx, "stream", traceID)
		if err != nil || cancelled {
			t.Fatalf("Cancel after the client left = %v, %v; want false (already cancelled)", cancelled, err)
		}
	}

	t.Run("break out of the loop", func(t *testing.T) {
		var traceID string
		n := 0
		for u, err := range c.CallStream(ctxFor(t, 20*time.Second), "stream", map[string]any{"chunks": 1000, "delayMs": 20}) {
			if err != nil {
				t.Fatal(err)
			}
			if u.Chunk == nil || u.Chunk.Seq != int64(n) {
				t.Fatalf("update %d = %s", n, describe([]*penguiflow.TraceUpdate{u}))
			}
			traceID = u.TraceID
			if n++; n == 3 {
				break
			}
		}
		check(t, traceID)
	})

	t.Run("cancel the context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var traceID string
		var lastErr error
		n := 0
		for u, err := range c.CallStream(ctx, "stream", map[string]any{"chunks": 1000, "delayMs": 20}) {
			if err != nil {
				lastErr = err
				continue
			}
			traceID = u.TraceID
			if n++; n == 2 {
				cancel()
			}
		}
		asError(t, lastErr, codes.Canceled)
		if !errors.Is(lastErr, context.Canceled) {
			t.Fatalf("errors.Is(err, context.Canceled) = false for %v", lastErr)
		}
		check(t, traceID)
	})
}

func TestDeadlines(t *testing.T) {
	t.Parallel()
	c := liveClient(t)

	t.Run("Call past its deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Call(ctx, "slow", map[string]any{"ms": 10_000})
		asError(t, err, codes.DeadlineExceeded)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("errors.Is(err, context.DeadlineExceeded) = false for %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Call returned after %v", d)
		}
	})

	t.Run("CallStream past its deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		var lastErr error
		var ends []*penguiflow.TraceEnd
		for u, err := range c.CallStream(ctx, "slow", map[string]any{"ms": 10_000}) {
			if err != nil {
				lastErr = err
			} else if u.End != nil {
				ends = append(ends, u.End)
			}
		}
		// Either the RPC deadline fires first (DEADLINE_EXCEEDED status), or
		// the message deadline does (TraceEnd DEADLINE_EXCEEDED).
		if lastErr != nil {
			asError(t, lastErr, codes.DeadlineExceeded)
		} else if len(ends) != 1 || ends[0].Status != penguiflow.TraceDeadlineExceeded {
			t.Fatalf("stream ended without error; ends = %+v", ends)
		}
	})

	t.Run("Fetch times out and the trace keeps running", func(t *testing.T) {
		ctx := ctxFor(t, 10*time.Second)
		res, err := c.Emit(ctx, "slow", map[string]any{"ms": 700})
		if err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err = c.Fetch(short, "slow", res.TraceID)
		asError(t, err, codes.DeadlineExceeded)
		u, err := c.Fetch(ctx, "slow", res.TraceID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Output == nil || u.Output.Payload.(map[string]any)["sleptMs"] != 700.0 {
			t.Fatalf("later fetch = %s", describe([]*penguiflow.TraceUpdate{u}))
		}
	})

	t.Run("message deadline passes while the node runs", func(t *testing.T) {
		ctx := ctxFor(t, 10*time.Second)
		res, err := c.Emit(ctx, "slow", map[string]any{"ms": 5000}, penguiflow.WithMessageDeadline(time.Now().Add(300*time.Millisecond)))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ups := collect(t, c.StreamTrace(ctx, "slow", res.TraceID))
		if len(ups) != 2 || ups[0].Output == nil || ups[0].Output.Payload.(map[string]any)["text"] != "Deadline exceeded" ||
			ups[1].End == nil || ups[1].End.Status != penguiflow.TraceDeadlineExceeded || ups[1].End.Error != nil {
			t.Fatalf("updates = %s; want the FinalAnswer and a DEADLINE_EXCEEDED end", describe(ups))
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("the node was not aborted at the deadline (trace ended after %v)", d)
		}
	})

	t.Run("message deadline passes before the node runs", func(t *testing.T) {
		ctx := ctxFor(t, 10*time.Second)
		// Emit with an already-passed message deadline: the runtime skips the
		// node and answers with the "Deadline exceeded" FinalAnswer.
		res, err := c.Emit(ctx, "echo", "late", penguiflow.WithMessageDeadline(time.Now().Add(-time.Second)))
		if err != nil {
			t.Fatal(err)
		}
		ups := collect(t, c.StreamTrace(ctx, "echo", res.TraceID))
		last := ups[len(ups)-1]
		if last.End == nil || last.End.Status != penguiflow.TraceDeadlineExceeded {
			t.Fatalf("updates = %s", describe(ups))
		}
		if len(ups) < 2 || ups[len(ups)-2].Output == nil || ups[len(ups)-2].Output.Payload.(map[string]any)["text"] != "Deadline exceeded" {
			t.Fatalf("updates = %s; want the FinalAnswer before the end", describe(ups))
		}
		waitForEvent(t, c, "echo", res.TraceID, penguiflow.EventDeadlineSkip)
	})
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	c := liveClient(t)
	ctx := ctxFor(t, 10*time.Second)
	const unknown = "no-such-trace-0123"
	checks := map[string]func() error{
		"Emit unknown flow": func() error { _, err := c.Emit(ctx, "nope", 1); return err },
		"Call unknown flow": func() error { _, err := c.Call(ctx, "nope", 1); return err },
		"CallStream unknown flow": func() error {
			for _, err := range c.CallStream(ctx, "nope", 1) {
				return err
			}
			return nil
		},
		"Fetch unknown trace":      func() error { _, err := c.Fetch(ctx, "echo", unknown); return err },
		"Cancel unknown trace":     func() error { _, err := c.Cancel(ctx, "echo", unknown); return err },
		"GetHistory unknown trace": func() error { _, err := c.GetHistory(ctx, "echo", unknown); return err },
		"StreamTrace unknown trace": func() error {
			for _, err := range c.StreamTrace(ctx, "echo", unknown) {
				return err
			}
			return nil
		},
		"SubscribeEvents unknown flow": func() error {
			for _, err := range c.SubscribeEvents(ctx, penguiflow.EventFilter{Flow: "nope"}) {
				return err
			}
			return nil
		},
	}
	for name, run := range checks {
		t.Run(name, func(t *testing.T) {
			perr := asError(t, run(), codes.NotFound)
			if perr.ErrorInfo == nil || perr.ErrorInfo.GetDomain() != penguiflow.ErrorDomain || perr.Reason() == "" {
				t.Errorf("ErrorInfo = %v", perr.ErrorInfo)
			}
		})
	}
}

func TestInvalidArgument(t *testing.T) {
	t.Parallel()
	c := liveClient(t)
	ctx := ctxFor(t, 10*time.Second)
	violation := func(t *testing.T, err error, field string) {
		t.Helper()
		perr := asError(t, err, codes.InvalidArgument)
		if perr.ClientSide {
			t.Fatal("rejected client-side; the test wants the server's answer")
		}
		for _, v := range perr.FieldViolations() {
			if v.GetField() == field {
				return
			}
		}
		t.Fatalf("no field violation on %q: %v", field, perr.FieldViolations())
	}
	_, err := c.Emit(ctx, "echo", 1, penguiflow.WithTraceID("bad id!"))
	violation(t, err, "message.trace_id")
	_, err = c.Call(ctx, "echo", 1, penguiflow.WithTraceID("bad id!"))
	violation(t, err, "message.trace_id")
	_, err = c.Fetch(ctx, "echo", "bad id!")
	violation(t, err, "trace_id")
	_, err = c.Cancel(ctx, "echo", "bad id!")
	violation(t, err, "trace_id")
	_, err = c.GetHistory(ctx, "echo", "")
	violation(t, err, "trace_id")
	for _, err := range c.StreamTrace(ctx, "echo", "bad id!") {
		violation(t, err, "trace_id")
	}
	for _, err := range c.SubscribeEvents(ctx, penguiflow.EventFilter{EventTypes: []string{penguiflow.EventNodeStart, "node_exploded"}}) {
		violation(t, err, "event_types[1]")
	}
	// Both payload and binary set: only reachable through the raw stub.
	_, err = c.Raw().Emit(ctx, &pb.EmitRequest{Flow: "echo", Message: &pb.Message{Binary: []byte{1}, Payload: structpb.NewStringValue("x")}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "message.binary") {
		t.Fatalf("payload and binary both set: %v; want INVALID_ARGUMENT on message.binary", err)
	}
}

func TestIdempotentEmit(t *testing.T) {
	t.Parallel()
	c := liveClient(t)
	ctx := ctxFor(t, 10*time.Second)
	first, err := c.Emit(ctx, "echo", "a", penguiflow.WithIdempotencyKey("key-1"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Emit(ctx, "echo", "b", penguiflow.WithIdempotencyKey("key-1"))
	if err != nil {
		t.Fatal(err)
	}
	if first.Deduplicated || !second.Deduplicated || second.TraceID != first.TraceID {
		t.Fatalf("first = %+v, second = %+v", first, second)
	}
}

func TestGetHistory(t *testing.T) {
	t.Parallel()
	c := liveClient(t)
	ctx := ctxFor(t, 10*time.Second)
	res, err := c.Call(ctx, "chain5", "x")
	if err != nil {
		t.Fatal(err)
	}
	evs := waitForEvent(t, c, "chain5", res.TraceID, penguiflow.EventNodeSuccess)
	// Wait for all five hops.
	for range 100 {
		if strings.Count(strings.Join(eventTypes(evs), " "), penguiflow.EventNodeSuccess) == 5 {
			break
		}
		time.Sleep(20 * time.Millisecond)
		if evs, err = c.GetHistory(ctx, "chain5", res.TraceID); err != nil {
			t.Fatal(err)
		}
	}
	if len(evs) < 10 {
		t.Fatalf("history = %v; want node_start/node_success for 5 hops", eventTypes(evs))
	}
	for i, e := range evs {
		if e.Seq != uint64(i+1) || e.TraceID != res.TraceID || e.Flow != "chain5" || e.Tenant != tenantOf(t) || e.Time.IsZero() {
			t.Fatalf("event %d = %+v", i, e)
		}
		if e.Type == penguiflow.EventNodeSuccess && (e.Latency == nil || e.NodeName == "" || e.NodeID == "") {
			t.Fatalf("node_success without latency/node: %+v", e)
		}
		if e.Type == penguiflow.EventNodeStart && e.Latency != nil {
			t.Fatalf("node_start with a latency: %+v", e)
		}
	}
}

func TestSubscribeEvents(t *testing.T) {
	t.Parallel()
	c := liveClient(t)
	ctx := ctxFor(t, 20*time.Second)
	const traceID = "go-subscribe.1"

	// Subscribe to a trace before it exists, then emit into it: the
	// subscription replays (nothing yet) then continues live, with no gap.
	type result struct {
		evs []*penguiflow.FlowEvent
		err error
	}
	got := make(chan result, 1)
	go func() {
		var r result
		for ev, err := range c.SubscribeEvents(ctx, penguiflow.EventFilter{Flow: "fanout", TraceIDs: []string{traceID}}) {
			if err != nil {
				r.err = err
				break
			}
			r.evs = append(r.evs, ev)
			if ev.Type == penguiflow.EventNodeSuccess && ev.NodeName == "final" {
				break
			}
		}
		got <- r
	}()
	time.Sleep(100 * time.Millisecond)
	if _, err := c.Call(ctx, "fanout", "x", penguiflow.WithTraceID(traceID)); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-got:
	case <-time.After(15 * time.Second):
		t.Fatal("subscription did not see the trace's events")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	for i, ev := range r.evs {
		if ev.Seq != uint64(i+1) || ev.TraceID != traceID || ev.Flow != "fanout" || ev.Tenant != tenantOf(t) {
			t.Fatalf("event %d = %+v", i, ev)
		}
	}

	// Resume after seq 3 with an event-type filter: a replay of the stored
	// history, live-continued (leave after the replay).
	history, err := c.GetHistory(ctx, "fanout", traceID)
	if err != nil {
		t.Fatal(err)
	}
	var wantSeqs []uint64
	for _, e := range history {
		if e.Seq > 3 && e.Type == penguiflow.EventNodeStart {
			wantSeqs = append(wantSeqs, e.Seq)
		}
	}
	var gotSeqs []uint64
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for ev, err := range c.SubscribeEvents(rctx, penguiflow.EventFilter{TraceIDs: []string{traceID}, EventTypes: []string{penguiflow.EventNodeStart}, AfterSeq: 3}) {
		if err != nil {
			// The subscription stays open; its context ends it.
			asError(t, err, codes.DeadlineExceeded)
			break
		}
		if ev.Type != penguiflow.EventNodeStart {
			t.Fatalf("filtered subscription sent %s", ev.Type)
		}
		gotSeqs = append(gotSeqs, ev.Seq)
		if len(gotSeqs) == len(wantSeqs) {
			break
		}
	}
	if !slices.Equal(gotSeqs, wantSeqs) || len(wantSeqs) == 0 {
		t.Fatalf("resumed seqs = %v, want %v", gotSeqs, wantSeqs)
	}

	// A live subscription without trace ids sees new traces of the tenant.
	live := make(chan string, 1)
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	go func() {
		for ev, err := range c.SubscribeEvents(lctx, penguiflow.EventFilter{Flow: "echo", EventTypes: []string{penguiflow.EventNodeSuccess}}) {
			if err != nil {
				live <- "error: " + err.Error()
				return
			}
			live <- ev.TraceID
			return
		}
	}()
	// The subscription is live only from when the server registers it, so
	// keep emitting until it reports one of the traces.
	sent := map[string]bool{}
	for {
		res, err := c.Call(ctx, "echo", "ping")
		if err != nil {
			t.Fatal(err)
		}
		sent[res.TraceID] = true
		select {
		case id := <-live:
			if !sent[id] {
				t.Fatalf("live subscription got %q; sent %v", id, sent)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		if ctx.Err() != nil {
			t.Fatal("live subscription saw nothing")
		}
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	a := liveClientAs(t, tenantOf(t)+".a")
	b := liveClientAs(t, tenantOf(t)+".b")
	ctx := ctxFor(t, 10*time.Second)
	res, err := a.Emit(ctx, "slow", map[string]any{"ms": 300}, penguiflow.WithTraceID("shared-id"))
	if err != nil {
		t.Fatal(err)
	}
	// Tenant b sees nothing of tenant a's trace: the same answer as unknown.
	_, err = b.Fetch(ctx, "slow", res.TraceID)
	asError(t, err, codes.NotFound)
	_, err = b.Cancel(ctx, "slow", res.TraceID)
	asError(t, err, codes.NotFound)
	_, err = b.GetHistory(ctx, "slow", res.TraceID)
	asError(t, err, codes.NotFound)
	// ...and may use the same trace id without colliding.
	rb, err := b.Call(ctx, "echo", "from b", penguiflow.WithTraceID("shared-id"))
	if err != nil || rb.Output.Payload != "from b" {
		t.Fatalf("tenant b call = %+v, %v", rb, err)
	}
	ua, err := a.Fetch(ctx, "slow", res.TraceID)
	if err != nil || ua.Output == nil || ua.Output.Headers.Tenant != tenantOf(t)+".a" {
		t.Fatalf("tenant a fetch = %+v, %v", ua, err)
	}
	// A message naming another tenant is PERMISSION_DENIED (raw stub: the
	// typed API never sets headers.tenant).
	_, err = a.Raw().Emit(ctx, &pb.EmitRequest{Flow: "echo", Message: &pb.Message{Headers: &pb.Headers{Tenant: "someone-else"}}})
	if code := status.Code(err); code != codes.PermissionDenied {
		t.Fatalf("foreign headers.tenant: code %v, want PermissionDenied (%v)", code, err)
	}
}

// describe renders updates for failure messages.
func describe(ups []*penguiflow.TraceUpdate) string {
	var parts []string
	for _, u := range ups {
		switch {
		case u == nil:
			parts = append(parts, "<nil>")
		case u.Chunk != nil:
			parts = append(parts, fmt.Sprintf("chunk{%s #%d %q done=%v}", u.Chunk.StreamID, u.Chunk.Seq, u.Chunk.Text, u.Chunk.Done))
		case u.Output != nil:
			parts = append(parts, fmt.Sprintf("output{%v}", u.Output.Payload))
		case u.Error != nil:
			parts = append(parts, fmt.Sprintf("error{%s %s}", u.Error.Code, u.Error.Message))
		case u.End != nil:
			parts = append(parts, fmt.Sprintf("end{%s}", u.End.Status))
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
