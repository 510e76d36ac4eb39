package penguiflow

import (
	"encoding/json"
	"fmt"
	"time"
)

// Headers are the routing and tenancy headers of a [Message].
type Headers struct {
	// Tenant that owns the message; always set on outputs.
	Tenant string
	// Topic used by routers inside the flow; "" = no topic.
	Topic string
	// Priority (informational, larger = more important); 0 = default.
	Priority int32
}

// Message is an output message of a trace, as returned by Fetch, Call,
// CallStream and StreamTrace.
//
// Exactly one of Payload and Binary carries the body: a binary body has
// Binary set and Payload nil; a JSON body has Binary nil and Payload set to
// the JSON value (nil for JSON null or when the server sent no body).
type Message struct {
	// Payload is the JSON body as generic Go values: map[string]any, []any,
	// float64, string, bool or nil.
	Payload any
	// Binary is the raw body when the message carries bytes instead of JSON.
	Binary []byte
	// Headers are the message's routing and tenancy headers.
	Headers Headers
	// TraceID is the trace the message belongs to.
	TraceID string
	// Time is the message's creation time (zero only if the server omitted it).
	Time time.Time
	// Deadline is the message's absolute deadline; zero = none.
	Deadline time.Time
	// Meta is the free-form metadata travelling with the message; never nil.
	Meta map[string]any
}

// Decode stores the JSON payload of m in the value pointed to by v, with
// encoding/json rules (v may be a struct with json tags, a map, a slice...).
// It fails when the message carries a binary body.
func (m *Message) Decode(v any) error {
	if m.Binary != nil {
		return fmt.Errorf("penguiflow: message has a binary body (%d bytes), not a JSON payload", len(m.Binary))
	}
	b, err := json.Marshal(m.Payload)
	if err != nil {
		return fmt.Errorf("penguiflow: decode payload: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("penguiflow: decode payload: %w", err)
	}
	return nil
}

// StreamChunk is one piece of a streamed answer produced by a streaming
// node. The chunks of one StreamID arrive in Seq order (0, 1, 2, ...),
// restarting at 0 after a chunk with Done set.
type StreamChunk struct {
	// StreamID identifies the stream within the trace (the trace id when the
	// node did not name one).
	StreamID string
	// Seq is the position of the chunk in its stream.
	Seq int64
	// Text is the text of this piece; may be empty (e.g. on the Done chunk).
	Text string
	// Done is true on the last chunk of the stream.
	Done bool
	// Meta is node-attached metadata; never nil.
	Meta map[string]any
}

// FlowErrorCode says why a node failed for good. The values equal the
// runtime's FlowErrorCode strings and the proto enum names without their
// FLOW_ERROR_CODE_ prefix.
type FlowErrorCode string

// The FlowErrorCode values. An unset or unknown code received from the
// server is reported as [FlowErrorNodeException], as the contract prescribes.
const (
	// FlowErrorNodeTimeout: the node exceeded its timeout on its last attempt.
	FlowErrorNodeTimeout FlowErrorCode = "NODE_TIMEOUT"
	// FlowErrorNodeException: the node threw on its last attempt.
	FlowErrorNodeException FlowErrorCode = "NODE_EXCEPTION"
	// FlowErrorTraceCancelled: the trace was cancelled while the node ran.
	FlowErrorTraceCancelled FlowErrorCode = "TRACE_CANCELLED"
	// FlowErrorDeadlineExceeded: the message deadline passed.
	FlowErrorDeadlineExceeded FlowErrorCode = "DEADLINE_EXCEEDED"
	// FlowErrorHopBudgetExhausted: a controller loop ran out of hops.
	FlowErrorHopBudgetExhausted FlowErrorCode = "HOP_BUDGET_EXHAUSTED"
	// FlowErrorTokenBudgetExhausted: a controller loop ran out of tokens.
	FlowErrorTokenBudgetExhausted FlowErrorCode = "TOKEN_BUDGET_EXHAUSTED"
)

// FlowError reports that a node failed for good (retries exhausted, timeout,
// deadline). It is data, not an RPC failure: the call that returns it
// succeeded, with a nil error. It implements error so that callers may
// return it as one.
type FlowError struct {
	// Code is the machine-readable reason.
	Code FlowErrorCode
	// Message is a human-readable description, safe to show to callers.
	Message string
	// TraceID is the trace the failure belongs to.
	TraceID string
	// NodeName is the name of the node that failed ("" if not attributable).
	NodeName string
	// NodeID is the stable id of the node that failed ("" if not attributable).
	NodeID string
	// Metadata holds extra diagnostic data (attempts, timeout_ms, ...); never nil.
	Metadata map[string]any
	// ExceptionType is the class name of the original error ("" if unknown).
	ExceptionType string
}

// Error describes the node failure.
func (e *FlowError) Error() string {
	node := e.NodeName
	if node == "" {
		node = "(no node)"
	}
	return fmt.Sprintf("penguiflow: node %s failed: %s: %s", node, e.Code, e.Message)
}

// TraceStatus is the final state of a trace, carried by [TraceEnd].
type TraceStatus string

// The TraceStatus values. A conforming server never sends
// [TraceStatusUnspecified]; it is kept so that a misbehaving server is
// visible rather than guessed away.
const (
	// TraceCompleted: all work finished and no node failed for good.
	TraceCompleted TraceStatus = "COMPLETED"
	// TraceFailed: at least one node failed for good (see TraceEnd.Error).
	TraceFailed TraceStatus = "FAILED"
	// TraceCancelled: the trace was cancelled.
	TraceCancelled TraceStatus = "CANCELLED"
	// TraceDeadlineExceeded: the message deadline passed before the work
	// finished (a message was skipped, or a running invocation was aborted
	// at the deadline); the last output is the "Deadline exceeded"
	// FinalAnswer. A deadline is not a node failure.
	TraceDeadlineExceeded TraceStatus = "DEADLINE_EXCEEDED"
	// TraceStatusUnspecified: the server sent no status (a contract violation).
	TraceStatusUnspecified TraceStatus = "UNSPECIFIED"
)

// TraceEnd is the last update of a trace: how it ended.
type TraceEnd struct {
	// Status is the trace's final status.
	Status TraceStatus
	// Error is the trace's last FlowError; set only when Status is TraceFailed.
	Error *FlowError
}

// TraceUpdate is one item of a trace's output: what Fetch returns and what
// CallStream and StreamTrace yield. Exactly one of Chunk, Output, Error and
// End is non-nil.
type TraceUpdate struct {
	// TraceID is the trace the update belongs to.
	TraceID string
	// Chunk is a streamed piece of an answer.
	Chunk *StreamChunk
	// Output is an output message of the trace.
	Output *Message
	// Error reports a node that failed for good (data, not an RPC error);
	// other branches of the trace may still produce updates.
	Error *FlowError
	// End means the trace has no pending work; always the last update.
	End *TraceEnd
}

// EmitResult is the result of [Client.Emit].
type EmitResult struct {
	// TraceID is the trace of the emitted message (the caller's or a
	// server-generated one).
	TraceID string
	// Deduplicated is true when the idempotency key was seen before and
	// nothing new was emitted; TraceID is then the original trace's id.
	Deduplicated bool
}

// CallResult is the result of [Client.Call]: the trace id and the trace's
// first output. Output and Error are both nil when the trace ended without
// any output.
type CallResult struct {
	// TraceID is the trace of the emitted message.
	TraceID string
	// Output is the trace's first output message.
	Output *Message
	// Error is set when a node failed for good before any output.
	Error *FlowError
}

// Event types of [FlowEvent.Type] (new ones may be added; ignore unknown
// ones). They are also the valid values of [EventFilter.EventTypes].
const (
	// EventNodeStart: a node invocation started.
	EventNodeStart = "node_start"
	// EventNodeSuccess: a node invocation returned.
	EventNodeSuccess = "node_success"
	// EventNodeError: a node invocation threw (it may be retried).
	EventNodeError = "node_error"
	// EventNodeTimeout: a node invocation exceeded its timeout.
	EventNodeTimeout = "node_timeout"
	// EventNodeRetry: a node is about to retry after backoff.
	EventNodeRetry = "node_retry"
	// EventNodeFailed: a node failed for good (retries exhausted).
	EventNodeFailed = "node_failed"
	// EventDeadlineSkip: a message's deadline had passed; it was not run.
	EventDeadlineSkip = "deadline_skip"
	// EventTraceCancelStart: cancellation of the trace began.
	EventTraceCancelStart = "trace_cancel_start"
	// EventTraceCancelDrop: queued messages of the trace were dropped.
	EventTraceCancelDrop = "trace_cancel_drop"
	// EventTraceCancelFinish: cancellation of the trace completed.
	EventTraceCancelFinish = "trace_cancel_finish"
	// EventNodeTraceCancelled: a running invocation was aborted by a cancel.
	EventNodeTraceCancelled = "node_trace_cancelled"
)

// FlowEvent is one runtime observation, streamed by SubscribeEvents and
// returned by GetHistory. Events never carry payloads.
type FlowEvent struct {
	// Type is what happened, one of the Event* constants.
	Type string
	// Time is when it happened (server clock, millisecond precision).
	Time time.Time
	// NodeName is the node concerned; "" for trace-level events.
	NodeName string
	// NodeID is the stable id of the node concerned; "" for trace-level events.
	NodeID string
	// TraceID is the trace of the event; "" only for events not tied to a trace.
	TraceID string
	// Attempt is the 0-based attempt number of the node invocation.
	Attempt int32
	// Latency of the invocation; set on node_success, node_error,
	// node_timeout and node_failed, nil otherwise.
	Latency *time.Duration
	// QueueDepthIn is the number of messages waiting on the node's incoming edges.
	QueueDepthIn int32
	// QueueDepthOut is the number of messages waiting on the node's outgoing edges.
	QueueDepthOut int32
	// OutgoingEdges is the number of outgoing edges of the node.
	OutgoingEdges int32
	// QueueMaxsize is the capacity of each edge queue; <= 0 means unbounded.
	QueueMaxsize int32
	// TracePending counts the trace's messages queued or running; nil when
	// the event has no trace.
	TracePending *int32
	// TraceInflight counts the trace's running invocations; nil when the
	// event has no trace.
	TraceInflight *int32
	// TraceCancelled is true when the trace is cancelled or being cancelled.
	TraceCancelled bool
	// Extra holds small event-specific diagnostic fields; never nil.
	Extra map[string]any
	// Flow is the name of the hosted flow that produced the event.
	Flow string
	// Tenant owns the trace (always the caller's tenant).
	Tenant string
	// Seq is the per-trace sequence number (1, 2, 3, ... without gaps); 0
	// only for events not tied to a trace. Resume subscriptions with it.
	Seq uint64
}

// EventFilter selects the events of [Client.SubscribeEvents]. Filters
// combine with AND; the zero value matches every event of the caller's
// tenant.
type EventFilter struct {
	// Flow keeps only events of this flow; "" = all flows.
	Flow string
	// TraceIDs keeps only events of these traces; empty = all traces. With
	// trace ids set, the server first replays each trace's stored events with
	// seq > AfterSeq, then continues live with no gap and no duplicate.
	TraceIDs []string
	// EventTypes keeps only these event types (Event* constants); empty = all.
	EventTypes []string
	// AfterSeq is the resume point, per trace: only events with seq >
	// AfterSeq are sent. Pass the last Seq received to resume.
	AfterSeq uint64
}

// FlowInfo describes a flow hosted by the server.
type FlowInfo struct {
	// Name is the flow name used in every request.
	Name string
	// Description is supplied by the flow module (may be empty).
	Description string
	// Nodes are every node of the graph.
	Nodes []NodeInfo
	// Edges are every edge of the graph.
	Edges []Edge
	// Ingress are the names of the nodes fed by Emit.
	Ingress []string
	// Egress are the names of the nodes whose outputs Fetch and the streams
	// return.
	Egress []string
}

// NodeInfo describes one node of a hosted flow.
type NodeInfo struct {
	// Name is the node name, as in FlowEvent.NodeName and FlowError.NodeName.
	Name string
	// ID is the stable node id, as in FlowEvent.NodeID and FlowError.NodeID.
	ID string
	// Policy is the node's effective reliability policy.
	Policy NodePolicy
}

// NodePolicy is a node's reliability policy with every default filled in.
type NodePolicy struct {
	// Validate says which side is schema-validated: "both", "in", "out" or "none".
	Validate string
	// Timeout is the per-invocation timeout; nil = no timeout.
	Timeout *time.Duration
	// MaxRetries is the number of attempts after the first.
	MaxRetries uint32
	// BackoffBase is the base of the exponential backoff.
	BackoffBase time.Duration
	// BackoffMult is the backoff multiplier (>= 1).
	BackoffMult float64
	// MaxBackoff caps a single backoff wait; nil = no cap.
	MaxBackoff *time.Duration
	// MaxConcurrency is the number of invocations that may run at once.
	MaxConcurrency uint32
}

// Edge is a directed edge of a flow graph, by node name.
type Edge struct {
	// Source is the node that emits onto the edge.
	Source string
	// Target is the node that consumes from the edge.
	Target string
}
