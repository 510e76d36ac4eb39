// Command runner-go is the conformance runner for the Go client (package
// penguiflow in clients/go, used through a replace directive).
//
//	cd test/conformance/runner-go && go run . <host:port>
//
// It reads test/conformance/cases.json (format: README.md one folder up),
// runs every case against the server at <host:port> through the client's
// public API, prints one line per case and, last, exactly
// "go: <n> passed, <m> failed". It exits 1 on any failure.
//
// Environment: PENGUIFLOW_CONFORMANCE_AUTH (none | header | jwt; default
// none), PENGUIFLOW_CONFORMANCE_JWT_SECRET (jwt mode),
// PENGUIFLOW_CONFORMANCE_JWT_ISSUER / _AUDIENCE (optional claims),
// PENGUIFLOW_CONFORMANCE_CASES (another case file),
// PENGUIFLOW_CONFORMANCE_ONLY (comma-separated case names).
//
// conformance-runner: {"name": "go", "order": 3, "needs": ["go"], "hint": "Install Go 1.26 or later from https://go.dev/dl/ (e.g. curl -fsSL https://go.dev/dl/go1.26.0.linux-amd64.tar.gz | sudo tar -C /usr/local -xz; export PATH=$PATH:/usr/local/go/bin)", "cwd": "test/conformance/runner-go", "setup": ["go", "build", "-o", "{tmp}/runner-go", "."], "command": ["{tmp}/runner-go", "{target}"]}
package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	penguiflow "github.com/penguiflow/penguiflow-ts/clients/go"
)

const lang = "go"

var runID = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

type obj = map[string]any

type caseError struct{ msg string }

func (e *caseError) Error() string { return e.msg }

func caseErrorf(format string, args ...any) error {
	return &caseError{fmt.Sprintf(format, args...)}
}

func tenantName(logical string) string { return logical + "." + lang + "." + runID }

// ------------------------------------------------------------------ identity

type settings struct {
	target, auth, secret, issuer, audience string
	defaultTimeoutMs                       float64
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mintJWT(secret string, claims obj) string {
	head, _ := json.Marshal(obj{"alg": "HS256", "typ": "JWT"})
	body, _ := json.Marshal(claims)
	signing := b64url(head) + "." + b64url(body)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + b64url(mac.Sum(nil))
}

func strField(m obj, key, fallback string) string {
	if s, ok := m[key].(string); ok {
		return s
	}
	return fallback
}

func tokenFor(s *settings, identity obj) string {
	kind := strField(identity, "token", "valid")
	if kind == "missing" {
		return ""
	}
	now := time.Now().Unix()
	claims := obj{
		"sub":    "conformance-" + lang,
		"tenant": tenantName(strField(identity, "tenant", "default")),
		"iat":    now,
		"exp":    now + 3600,
	}
	if kind == "expired" {
		claims["iat"] = now - 7200
		claims["exp"] = now - 3600
	}
	if s.issuer != "" {
		claims["iss"] = s.issuer
	}
	if s.audience != "" {
		claims["aud"] = s.audience
	}
	secret := s.secret
	if kind == "wrong" {
		secret = "wrong-" + s.secret
	}
	return mintJWT(secret, claims)
}

var clients = map[string]*penguiflow.Client{}

func clientFor(s *settings, identity obj) (*penguiflow.Client, error) {
	keyBytes, _ := json.Marshal([]any{identity["tenant"], identity["token"], identity["tenantHeader"]})
	key := string(keyBytes)
	if c, ok := clients[key]; ok {
		return c, nil
	}
	c, err := newClient(s, identity)
	if err != nil {
		return nil, err
	}
	clients[key] = c
	return c, nil
}

// closedClientFor serves a step with "closedClient": true: a fresh client of
// the step's identity, closed before the call.
func closedClientFor(s *settings, identity obj) (*penguiflow.Client, error) {
	c, err := newClient(s, identity)
	if err != nil {
		return nil, err
	}
	return c, c.Close()
}

func newClient(s *settings, identity obj) (*penguiflow.Client, error) {
	opts := []penguiflow.Option{penguiflow.WithInsecure()}
	switch {
	case identity["tenantHeader"] != nil:
		opts = append(opts, penguiflow.WithTenant(strField(identity, "tenantHeader", "")))
	case s.auth == "jwt":
		if tok := tokenFor(s, identity); tok != "" {
			opts = append(opts, penguiflow.WithToken(tok))
		}
	default:
		opts = append(opts, penguiflow.WithTenant(tenantName(strField(identity, "tenant", "default"))))
	}
	return penguiflow.Dial(context.Background(), s.target, opts...)
}

// ------------------------------------------------------------------ variables

var varRE = regexp.MustCompile(`^\$[A-Za-z_][A-Za-z0-9_]*$`)

func subst(v any, vars obj) (any, error) {
	switch x := v.(type) {
	case string:
		if varRE.MatchString(x) && x != "$any" && x != "$nonempty" {
			val, ok := vars[x[1:]]
			if !ok {
				return nil, caseErrorf("undefined variable %s", x)
			}
			return val, nil
		}
		return x, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := subst(e, vars)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case obj:
		out := obj{}
		for k, e := range x {
			if k == "payload" || k == "meta" || k == "binary" {
				out[k] = e
				continue
			}
			r, err := subst(e, vars)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

type missingT struct{}

var missing = missingT{}

func pathGet(v any, path string) any {
	cur := v
	for _, part := range strings.Split(path, ".") {
		switch x := cur.(type) {
		case []any:
			var i int
			if _, err := fmt.Sscanf(part, "%d", &i); err != nil || i < 0 || i >= len(x) {
				return missing
			}
			cur = x[i]
		case obj:
			e, ok := x[part]
			if !ok {
				return missing
			}
			cur = e
		default:
			return missing
		}
	}
	return cur
}

// ------------------------------------------------------------------ matching

// jsonEqual is exact JSON equality: key order is irrelevant, numbers compare
// by value.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case obj:
		y, ok := b.(obj)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, e := range x {
			f, ok := y[k]
			if !ok || !jsonEqual(e, f) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}

func show(v any) string {
	if v == missing {
		return "nothing"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// match returns "" when actual matches pattern, else the first mismatch.
func match(pattern, actual any, path string) string {
	if pattern == "$any" {
		return ""
	}
	if pattern == "$nonempty" {
		if s, ok := actual.(string); ok && s != "" {
			return ""
		}
		return fmt.Sprintf("%s: expected a non-empty string, got %s", path, show(actual))
	}
	if p, ok := pattern.(obj); ok && len(p) == 1 && (p["$contains"] != nil || p["$prefix"] != nil) {
		arr, ok := actual.([]any)
		if !ok {
			return fmt.Sprintf("%s: expected an array, got %s", path, show(actual))
		}
		if want, ok := p["$contains"].([]any); ok {
			for _, w := range want {
				if !slices.ContainsFunc(arr, func(a any) bool { return jsonEqual(w, a) }) {
					return fmt.Sprintf("%s: %s missing from %s", path, show(w), show(arr))
				}
			}
			return ""
		}
		prefix, _ := p["$prefix"].([]any)
		if len(arr) < len(prefix) {
			return fmt.Sprintf("%s: expected to start with %s, got %s", path, show(prefix), show(arr))
		}
		for i := range prefix {
			if !jsonEqual(prefix[i], arr[i]) {
				return fmt.Sprintf("%s: expected to start with %s, got %s", path, show(prefix), show(arr))
			}
		}
		return ""
	}
	switch p := pattern.(type) {
	case obj:
		a, ok := actual.(obj)
		if !ok {
			return fmt.Sprintf("%s: expected an object, got %s", path, show(actual))
		}
		keys := make([]string, 0, len(p))
		for k := range p {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			want := p[k]
			got, present := a[k]
			if !present {
				got = missing
			}
			where := path + "." + k
			if k == "payload" || k == "meta" {
				if !present || !jsonEqual(want, got) {
					return fmt.Sprintf("%s: expected %s, got %s", where, show(want), show(got))
				}
			} else if s, isStr := want.(string); k == "tenant" && isStr && !strings.HasPrefix(s, "$") {
				if got != tenantName(s) {
					return fmt.Sprintf("%s: expected tenant %s, got %s", where, tenantName(s), show(got))
				}
			} else if m := match(want, got, where); m != "" {
				return m
			}
		}
		return ""
	case []any:
		a, ok := actual.([]any)
		if !ok || len(a) != len(p) {
			return fmt.Sprintf("%s: expected %s, got %s", path, show(pattern), show(actual))
		}
		for i := range p {
			if m := match(p[i], a[i], fmt.Sprintf("%s[%d]", path, i)); m != "" {
				return m
			}
		}
		return ""
	}
	if actual == missing || !jsonEqual(pattern, actual) {
		return fmt.Sprintf("%s: expected %s, got %s", path, show(pattern), show(actual))
	}
	return ""
}

// ------------------------------------------------------------------ observations

func errorObs(err error) obj {
	var perr *penguiflow.Error
	if !errors.As(err, &perr) {
		return obj{"error": "NOT_A_PENGUIFLOW_ERROR", "message": err.Error()}
	}
	fields := []any{}
	for _, v := range perr.FieldViolations() {
		fields = append(fields, v.GetField())
	}
	return obj{"error": penguiflow.CodeName(perr.Code), "reason": perr.Reason(), "fieldViolations": fields, "message": perr.Message, "clientSide": perr.ClientSide}
}

// normJSON turns client values (map[string]any, []any, float64, ...) into
// the same generic shapes the case file decodes to.
func normJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("unencodable %T", v)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Sprintf("undecodable %T", v)
	}
	return out
}

func messageObs(m *penguiflow.Message) obj {
	o := obj{"kind": "output", "traceId": m.TraceID, "payload": nil, "binary": nil, "meta": normJSON(m.Meta), "tenant": m.Headers.Tenant}
	if m.Binary != nil {
		o["binary"] = base64.StdEncoding.EncodeToString(m.Binary)
	} else {
		o["payload"] = normJSON(m.Payload)
	}
	return o
}

func flowErrorObs(e *penguiflow.FlowError) obj {
	return obj{"kind": "error", "traceId": e.TraceID, "code": string(e.Code), "nodeName": e.NodeName, "message": e.Message}
}

func updateObs(u *penguiflow.TraceUpdate) obj {
	switch {
	case u.Output != nil:
		return messageObs(u.Output)
	case u.Chunk != nil:
		return obj{"kind": "chunk", "streamId": u.Chunk.StreamID, "seq": float64(u.Chunk.Seq), "text": u.Chunk.Text, "done": u.Chunk.Done}
	case u.Error != nil:
		return flowErrorObs(u.Error)
	case u.End != nil:
		var code any
		if u.End.Error != nil {
			code = string(u.End.Error.Code)
		}
		return obj{"kind": "end", "status": string(u.End.Status), "errorCode": code}
	}
	return obj{"kind": "empty"}
}

func streamObs(updates []*penguiflow.TraceUpdate, cancelled any) obj {
	ups, kinds, texts, seqs, done, outputs := []any{}, []any{}, []any{}, []any{}, []any{}, []any{}
	var end, lastKind any
	consistent := true
	first := ""
	for i, u := range updates {
		if i == 0 {
			first = u.TraceID
		}
		if u.TraceID != first || u.TraceID == "" {
			consistent = false
		}
		o := updateObs(u)
		ups = append(ups, o)
		kinds = append(kinds, o["kind"])
		lastKind = o["kind"]
		switch o["kind"] {
		case "chunk":
			texts, seqs, done = append(texts, o["text"]), append(seqs, o["seq"]), append(done, o["done"])
		case "output":
			outputs = append(outputs, o["payload"])
		case "end":
			if end == nil {
				end = o["status"]
			}
		}
	}
	return obj{
		"traceId": first, "traceIdsConsistent": consistent, "updates": ups, "kinds": kinds,
		"chunkTexts": texts, "chunkSeqs": seqs, "chunkDone": done, "outputs": outputs,
		"end": end, "lastKind": lastKind, "cancelled": cancelled,
	}
}

func eventsObs(events []penguiflow.FlowEvent) obj {
	evs, types, seqs := []any{}, []any{}, []any{}
	contiguous := true
	var last any
	for i, e := range events {
		evs = append(evs, obj{"eventType": e.Type, "seq": float64(e.Seq), "nodeName": e.NodeName, "traceId": e.TraceID, "flow": e.Flow, "tenant": e.Tenant, "attempt": float64(e.Attempt)})
		types = append(types, e.Type)
		seqs = append(seqs, float64(e.Seq))
		if i > 0 && e.Seq != events[i-1].Seq+1 {
			contiguous = false
		}
		last = float64(e.Seq)
	}
	return obj{"events": evs, "eventTypes": types, "seqs": seqs, "lastSeq": last, "seqsContiguous": contiguous}
}

func flowsObs(flows []penguiflow.FlowInfo) obj {
	names := []any{}
	byName := obj{}
	sorted := true
	for i, f := range flows {
		names = append(names, f.Name)
		if i > 0 && flows[i-1].Name > f.Name {
			sorted = false
		}
		nodes, ingress, egress, edges := []any{}, []any{}, []any{}, []any{}
		for _, n := range f.Nodes {
			nodes = append(nodes, n.Name)
		}
		for _, n := range f.Ingress {
			ingress = append(ingress, n)
		}
		for _, n := range f.Egress {
			egress = append(egress, n)
		}
		for _, e := range f.Edges {
			edges = append(edges, e.Source+"->"+e.Target)
		}
		byName[f.Name] = obj{"nodes": nodes, "ingress": ingress, "egress": egress, "edges": edges}
	}
	return obj{"flowNames": names, "flowNamesSorted": sorted, "flows": byName}
}

// ------------------------------------------------------------------ steps

func body(step obj) (any, error) {
	if b, ok := step["binary"].(string); ok {
		return base64.StdEncoding.DecodeString(b)
	}
	return step["payload"], nil
}

func sendOptions(step obj) []penguiflow.SendOption {
	var opts []penguiflow.SendOption
	if t, ok := step["traceId"].(string); ok {
		opts = append(opts, penguiflow.WithTraceID(t))
	}
	if k, ok := step["idempotencyKey"].(string); ok {
		opts = append(opts, penguiflow.WithIdempotencyKey(k))
	}
	if m, ok := step["meta"].(obj); ok {
		opts = append(opts, penguiflow.WithMeta(m))
	}
	return opts
}

func num(step obj, key string) (float64, bool) {
	f, ok := step[key].(float64)
	return f, ok
}

func collectStream(ctx context.Context, c *penguiflow.Client, step obj, flow, knownTraceID string, seq func(context.Context) func(func(*penguiflow.TraceUpdate, error) bool)) (obj, error) {
	var updates []*penguiflow.TraceUpdate
	var mu sync.Mutex
	var cancelled any
	setCancelled := func(ok bool, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			cancelled = errorObs(err)
		} else {
			cancelled = ok
		}
	}
	cancelTrace := func(traceID string) {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		setCancelled(c.Cancel(cctx, flow, traceID))
	}
	afterUpdates, hasAfterUpdates := num(step, "cancelAfterUpdates")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if afterMs, ok := num(step, "cancelAfterMs"); ok {
		if knownTraceID == "" {
			return nil, caseErrorf("cancelAfterMs needs a traceId on the step")
		}
		timer := time.NewTimer(time.Duration(afterMs) * time.Millisecond)
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-timer.C:
				cancelTrace(knownTraceID)
			case <-stop:
				timer.Stop()
			}
		}()
	}
	var streamErr error
	for u, err := range seq(ctx) {
		if err != nil {
			streamErr = err
			break
		}
		updates = append(updates, u)
		if hasAfterUpdates && len(updates) == int(afterUpdates) {
			cancelTrace(u.TraceID)
		}
	}
	close(stop)
	wg.Wait()
	if streamErr != nil {
		return errorObs(streamErr), nil
	}
	return streamObs(updates, cancelled), nil
}

func runStep(s *settings, identity obj, step obj) (obj, error) {
	op, _ := step["op"].(string)
	timeoutMs, ok := num(step, "timeoutMs")
	if !ok {
		timeoutMs = s.defaultTimeoutMs
	}
	if op == "sleep" {
		ms, _ := num(step, "ms")
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return nil, nil
	}
	getClient := clientFor
	if closed, _ := step["closedClient"].(bool); closed {
		getClient = closedClientFor
	}
	c, err := getClient(s, identity)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeoutMs*float64(time.Millisecond)))
	defer cancel()
	flow := strField(step, "flow", "")
	traceID := strField(step, "traceId", "")
	if ht, ok := step["headersTenant"].(string); ok {
		// The Go client has no option for headers.tenant; use the documented
		// escape hatch (the generated stub on the same connection).
		return rawWithHeadersTenant(ctx, c, op, flow, step, tenantName(ht))
	}
	switch op {
	case "emit", "call", "callStream":
		payload, err := body(step)
		if err != nil {
			return nil, caseErrorf("bad binary: %v", err)
		}
		opts := sendOptions(step)
		switch op {
		case "emit":
			r, err := c.Emit(ctx, flow, payload, opts...)
			if err != nil {
				return errorObs(err), nil
			}
			return obj{"traceId": r.TraceID, "deduplicated": r.Deduplicated}, nil
		case "call":
			r, err := c.Call(ctx, flow, payload, opts...)
			if err != nil {
				return errorObs(err), nil
			}
			var o obj
			switch {
			case r.Output != nil:
				o = messageObs(r.Output)
			case r.Error != nil:
				o = flowErrorObs(r.Error)
			default:
				o = obj{"kind": "none"}
			}
			o["traceId"] = r.TraceID
			return o, nil
		default:
			return collectStream(ctx, c, step, flow, traceID, func(sctx context.Context) func(func(*penguiflow.TraceUpdate, error) bool) {
				return c.CallStream(sctx, flow, payload, opts...)
			})
		}
	case "fetch":
		u, err := c.Fetch(ctx, flow, traceID)
		if err != nil {
			return errorObs(err), nil
		}
		return updateObs(u), nil
	case "streamTrace":
		return collectStream(ctx, c, step, flow, traceID, func(sctx context.Context) func(func(*penguiflow.TraceUpdate, error) bool) {
			return c.StreamTrace(sctx, flow, traceID)
		})
	case "cancel":
		ok, err := c.Cancel(ctx, flow, traceID)
		if err != nil {
			return errorObs(err), nil
		}
		return obj{"cancelled": ok}, nil
	case "subscribeEvents":
		count, ok := num(step, "count")
		if !ok {
			return nil, caseErrorf(`subscribeEvents needs "count"`)
		}
		filter := penguiflow.EventFilter{Flow: flow}
		if a, ok := num(step, "afterSeq"); ok {
			filter.AfterSeq = uint64(a)
		}
		for _, t := range asStrings(step["traceIds"]) {
			filter.TraceIDs = append(filter.TraceIDs, t)
		}
		filter.EventTypes = asStrings(step["eventTypes"])
		var events []penguiflow.FlowEvent
		for e, err := range c.SubscribeEvents(ctx, filter) {
			if err != nil {
				return errorObs(err), nil
			}
			events = append(events, *e)
			if len(events) >= int(count) {
				break
			}
		}
		return eventsObs(events), nil
	case "getHistory":
		evs, err := c.GetHistory(ctx, flow, traceID)
		if err != nil {
			return errorObs(err), nil
		}
		return eventsObs(evs), nil
	case "listFlows":
		flows, err := c.ListFlows(ctx)
		if err != nil {
			return errorObs(err), nil
		}
		return flowsObs(flows), nil
	}
	return nil, caseErrorf("unknown op %q", op)
}

func asStrings(v any) []string {
	arr, _ := v.([]any)
	out := []string{}
	for _, e := range arr {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func runCase(s *settings, c obj) (string, error) {
	vars := obj{}
	steps, _ := c["steps"].([]any)
	caseIdentity, _ := c["identity"].(obj)
	for i, raw := range steps {
		sv, err := subst(raw, vars)
		if err != nil {
			return "", err
		}
		step, _ := sv.(obj)
		identity := caseIdentity
		if id, ok := step["identity"].(obj); ok {
			identity = id
		}
		if identity == nil {
			identity = obj{}
		}
		o, err := runStep(s, identity, step)
		if err != nil {
			return "", err
		}
		label := fmt.Sprintf("step %d (%v)", i+1, step["op"])
		if o == nil {
			continue
		}
		if expect, ok := step["expect"]; ok {
			if m := match(expect, any(o), "result"); m != "" {
				return label + ": " + m, nil
			}
		} else if _, isErr := o["error"]; isErr {
			return fmt.Sprintf("%s: unexpected error %s", label, show(o)), nil
		}
		if save, ok := step["save"].(obj); ok {
			for name, p := range save {
				path, _ := p.(string)
				v := pathGet(any(o), path)
				if v == missing {
					return fmt.Sprintf("%s: cannot save %s: no %s in %s", label, name, path, show(o)), nil
				}
				vars[name] = v
			}
		}
	}
	return "", nil
}

func casesPath() string {
	if p := os.Getenv("PENGUIFLOW_CONFORMANCE_CASES"); p != "" {
		return p
	}
	_, file, _, ok := runtime.Caller(0)
	if ok {
		if p := filepath.Join(filepath.Dir(file), "..", "cases.json"); fileExists(p) {
			return p
		}
	}
	return filepath.Join("..", "cases.json")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func run() int {
	target := os.Getenv("PENGUIFLOW_TARGET")
	if len(os.Args) > 1 {
		target = os.Args[1]
	}
	if target == "" {
		fmt.Fprintln(os.Stderr, "usage: runner-go <host:port>  (or set PENGUIFLOW_TARGET)")
		return 2
	}
	data, err := os.ReadFile(casesPath())
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot read the case file:", err)
		return 2
	}
	var doc obj
	if err := json.Unmarshal(data, &doc); err != nil {
		fmt.Fprintln(os.Stderr, "invalid case file:", err)
		return 2
	}
	s := &settings{
		target:           target,
		auth:             os.Getenv("PENGUIFLOW_CONFORMANCE_AUTH"),
		secret:           os.Getenv("PENGUIFLOW_CONFORMANCE_JWT_SECRET"),
		issuer:           os.Getenv("PENGUIFLOW_CONFORMANCE_JWT_ISSUER"),
		audience:         os.Getenv("PENGUIFLOW_CONFORMANCE_JWT_AUDIENCE"),
		defaultTimeoutMs: 10_000,
	}
	if s.auth == "" {
		s.auth = "none"
	}
	if d, ok := doc["defaults"].(obj); ok {
		if t, ok := d["timeoutMs"].(float64); ok {
			s.defaultTimeoutMs = t
		}
	}
	if s.auth == "jwt" && s.secret == "" {
		fmt.Fprintln(os.Stderr, "PENGUIFLOW_CONFORMANCE_AUTH=jwt needs PENGUIFLOW_CONFORMANCE_JWT_SECRET")
		return 2
	}
	var only []string
	for _, n := range strings.Split(os.Getenv("PENGUIFLOW_CONFORMANCE_ONLY"), ",") {
		if n != "" {
			only = append(only, n)
		}
	}
	passed, failed, skipped := 0, 0, 0
	cases, _ := doc["cases"].([]any)
	for _, raw := range cases {
		c, _ := raw.(obj)
		name := strField(c, "name", "?")
		if len(only) > 0 && !slices.Contains(only, name) {
			continue
		}
		if req, ok := c["requires"].(obj); ok {
			if needs, ok := req["auth"].([]any); ok && !slices.Contains(needs, any(s.auth)) {
				skipped++
				fmt.Printf("SKIP %s (requires auth %s; running with %s)\n", name, strings.Join(asStrings(needs), "|"), s.auth)
				continue
			}
		}
		start := time.Now()
		problem, err := runCase(s, c)
		if err != nil {
			problem = "runner error: " + err.Error()
		}
		ms := time.Since(start).Milliseconds()
		if problem == "" {
			passed++
			fmt.Printf("PASS %s (%d ms)\n", name, ms)
		} else {
			failed++
			fmt.Printf("FAIL %s (%d ms): %s\n", name, ms, problem)
		}
	}
	for _, c := range clients {
		_ = c.Close()
	}
	if skipped > 0 {
		fmt.Printf("(%d skipped)\n", skipped)
	}
	fmt.Printf("%s: %d passed, %d failed\n", lang, passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

func main() { os.Exit(run()) }
