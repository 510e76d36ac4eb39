package penguiflow

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/penguiflow/penguiflow-ts/clients/go/gen/penguiflow/v1"
)

// toValue converts a JSON-compatible Go value into a google.protobuf.Value.
// The common generic shapes go through structpb directly; anything else
// (structs, typed slices and maps, json.Marshaler) goes through
// encoding/json. Non-finite numbers are rejected.
func toValue(v any) (*structpb.Value, error) {
	var out *structpb.Value
	switch x := v.(type) {
	case *structpb.Value:
		out = x
	case json.RawMessage:
		out = &structpb.Value{}
		if err := protojson.Unmarshal(x, out); err != nil {
			return nil, fmt.Errorf("invalid JSON: %v", err)
		}
	default:
		pv, err := structpb.NewValue(v)
		if err != nil {
			b, jerr := json.Marshal(v)
			if jerr != nil {
				return nil, fmt.Errorf("not JSON-compatible: %v", jerr)
			}
			pv = &structpb.Value{}
			if err := protojson.Unmarshal(b, pv); err != nil {
				return nil, fmt.Errorf("not JSON-compatible: %v", err)
			}
		}
		out = pv
	}
	if err := checkFinite(out); err != nil {
		return nil, err
	}
	return out, nil
}

// toStruct converts a JSON object into a google.protobuf.Struct.
func toStruct(m map[string]any) (*structpb.Struct, error) {
	if m == nil {
		return nil, nil
	}
	v, err := toValue(m)
	if err != nil {
		return nil, err
	}
	s := v.GetStructValue()
	if s == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return s, nil
}

func checkFinite(v *structpb.Value) error {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NumberValue:
		if math.IsNaN(k.NumberValue) || math.IsInf(k.NumberValue, 0) {
			return fmt.Errorf("number %v cannot be represented in JSON", k.NumberValue)
		}
	case *structpb.Value_StructValue:
		for _, f := range k.StructValue.GetFields() {
			if err := checkFinite(f); err != nil {
				return err
			}
		}
	case *structpb.Value_ListValue:
		for _, e := range k.ListValue.GetValues() {
			if err := checkFinite(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// structMap returns the JSON object of s as a map, never nil.
func structMap(s *structpb.Struct) map[string]any {
	if s == nil {
		return map[string]any{}
	}
	return s.AsMap()
}

func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func msDuration(ms float64) time.Duration {
	return time.Duration(ms * float64(time.Millisecond))
}

func optMsDuration(ms *float64) *time.Duration {
	if ms == nil {
		return nil
	}
	d := msDuration(*ms)
	return &d
}

// buildMessage makes the wire Message of Emit, Call and CallStream.
func buildMessage(payload any, cfg *sendConfig) (*pb.Message, error) {
	m := &pb.Message{TraceId: cfg.traceID}
	if b, ok := payload.([]byte); ok {
		// An empty []byte sends no body at all (the wire cannot tell an
		// empty binary from an absent one).
		m.Binary = b
	} else {
		v, err := toValue(payload)
		if err != nil {
			return nil, invalidArgument("message.payload", err.Error())
		}
		m.Payload = v
	}
	if cfg.topic != "" || cfg.priority != 0 {
		m.Headers = &pb.Headers{Topic: cfg.topic, Priority: cfg.priority}
	}
	if !cfg.deadline.IsZero() {
		m.Deadline = timestamppb.New(cfg.deadline)
	}
	if cfg.meta != nil {
		s, err := toStruct(cfg.meta)
		if err != nil {
			return nil, invalidArgument("message.meta", err.Error())
		}
		m.Meta = s
	}
	return m, nil
}

func fromMessage(m *pb.Message) *Message {
	if m == nil {
		return nil
	}
	out := &Message{
		TraceID:  m.GetTraceId(),
		Time:     timeOf(m.GetTs()),
		Deadline: timeOf(m.GetDeadline()),
		Meta:     structMap(m.GetMeta()),
		Headers: Headers{
			Tenant:   m.GetHeaders().GetTenant(),
			Topic:    m.GetHeaders().GetTopic(),
			Priority: m.GetHeaders().GetPriority(),
		},
	}
	if len(m.GetBinary()) > 0 {
		out.Binary = m.GetBinary()
	} else if m.GetPayload() != nil {
		out.Payload = m.GetPayload().AsInterface()
	}
	return out
}

func fromChunk(c *pb.StreamChunk) *StreamChunk {
	if c == nil {
		return nil
	}
	return &StreamChunk{
		StreamID: c.GetStreamId(),
		Seq:      c.GetSeq(),
		Text:     c.GetText(),
		Done:     c.GetDone(),
		Meta:     structMap(c.GetMeta()),
	}
}

var flowErrorCodes = map[pb.FlowErrorCode]FlowErrorCode{
	pb.FlowErrorCode_FLOW_ERROR_CODE_NODE_TIMEOUT:           FlowErrorNodeTimeout,
	pb.FlowErrorCode_FLOW_ERROR_CODE_NODE_EXCEPTION:         FlowErrorNodeException,
	pb.FlowErrorCode_FLOW_ERROR_CODE_TRACE_CANCELLED:        FlowErrorTraceCancelled,
	pb.FlowErrorCode_FLOW_ERROR_CODE_DEADLINE_EXCEEDED:      FlowErrorDeadlineExceeded,
	pb.FlowErrorCode_FLOW_ERROR_CODE_HOP_BUDGET_EXHAUSTED:   FlowErrorHopBudgetExhausted,
	pb.FlowErrorCode_FLOW_ERROR_CODE_TOKEN_BUDGET_EXHAUSTED: FlowErrorTokenBudgetExhausted,
}

func fromFlowError(e *pb.FlowError) *FlowError {
	if e == nil {
		return nil
	}
	code, ok := flowErrorCodes[e.GetCode()]
	if !ok {
		code = FlowErrorNodeException
	}
	return &FlowError{
		Code:          code,
		Message:       e.GetMessage(),
		TraceID:       e.GetTraceId(),
		NodeName:      e.GetNodeName(),
		NodeID:        e.GetNodeId(),
		Metadata:      structMap(e.GetMetadata()),
		ExceptionType: e.GetExceptionType(),
	}
}

var traceStatuses = map[pb.TraceStatus]TraceStatus{
	pb.TraceStatus_TRACE_STATUS_COMPLETED:         TraceCompleted,
	pb.TraceStatus_TRACE_STATUS_FAILED:            TraceFailed,
	pb.TraceStatus_TRACE_STATUS_CANCELLED:         TraceCancelled,
	pb.TraceStatus_TRACE_STATUS_DEADLINE_EXCEEDED: TraceDeadlineExceeded,
}

func fromTraceEnd(e *pb.TraceEnd) *TraceEnd {
	if e == nil {
		return nil
	}
	st, ok := traceStatuses[e.GetStatus()]
	if !ok {
		st = TraceStatusUnspecified
	}
	return &TraceEnd{Status: st, Error: fromFlowError(e.GetError())}
}

// fromTraceUpdate converts a stream update; nil when no oneof member is set.
func fromTraceUpdate(traceID string, u *pb.TraceUpdate) *TraceUpdate {
	out := &TraceUpdate{TraceID: traceID}
	switch v := u.GetUpdate().(type) {
	case *pb.TraceUpdate_Chunk:
		out.Chunk = fromChunk(v.Chunk)
	case *pb.TraceUpdate_Output:
		out.Output = fromMessage(v.Output)
	case *pb.TraceUpdate_Error:
		out.Error = fromFlowError(v.Error)
	case *pb.TraceUpdate_End:
		out.End = fromTraceEnd(v.End)
	default:
		return nil
	}
	if out.Chunk == nil && out.Output == nil && out.Error == nil && out.End == nil {
		return nil
	}
	return out
}

// fromFetchResponse converts a Fetch result; nil when no oneof member is set.
func fromFetchResponse(traceID string, r *pb.FetchResponse) *TraceUpdate {
	out := &TraceUpdate{TraceID: traceID}
	switch v := r.GetResult().(type) {
	case *pb.FetchResponse_Chunk:
		out.Chunk = fromChunk(v.Chunk)
	case *pb.FetchResponse_Output:
		out.Output = fromMessage(v.Output)
	case *pb.FetchResponse_Error:
		out.Error = fromFlowError(v.Error)
	case *pb.FetchResponse_End:
		out.End = fromTraceEnd(v.End)
	default:
		return nil
	}
	if out.Chunk == nil && out.Output == nil && out.Error == nil && out.End == nil {
		return nil
	}
	return out
}

func fromCallResponse(r *pb.CallResponse) *CallResult {
	out := &CallResult{TraceID: r.GetTraceId()}
	switch v := r.GetResult().(type) {
	case *pb.CallResponse_Output:
		out.Output = fromMessage(v.Output)
	case *pb.CallResponse_Error:
		out.Error = fromFlowError(v.Error)
	}
	return out
}

func fromFlowEvent(e *pb.FlowEvent) FlowEvent {
	out := FlowEvent{
		Type:           e.GetEventType(),
		Time:           timeOf(e.GetTs()),
		NodeName:       e.GetNodeName(),
		NodeID:         e.GetNodeId(),
		TraceID:        e.GetTraceId(),
		Attempt:        e.GetAttempt(),
		Latency:        optMsDuration(e.LatencyMs),
		QueueDepthIn:   e.GetQueueDepthIn(),
		QueueDepthOut:  e.GetQueueDepthOut(),
		OutgoingEdges:  e.GetOutgoingEdges(),
		QueueMaxsize:   e.GetQueueMaxsize(),
		TraceCancelled: e.GetTraceCancelled(),
		Extra:          structMap(e.GetExtra()),
		Flow:           e.GetFlow(),
		Tenant:         e.GetTenant(),
		Seq:            e.GetSeq(),
	}
	if e.TracePending != nil {
		v := *e.TracePending
		out.TracePending = &v
	}
	if e.TraceInflight != nil {
		v := *e.TraceInflight
		out.TraceInflight = &v
	}
	return out
}

func fromFlowInfo(f *pb.FlowInfo) FlowInfo {
	out := FlowInfo{
		Name:        f.GetName(),
		Description: f.GetDescription(),
		Ingress:     append([]string(nil), f.GetIngress()...),
		Egress:      append([]string(nil), f.GetEgress()...),
	}
	for _, n := range f.GetNodes() {
		p := n.GetPolicy()
		out.Nodes = append(out.Nodes, NodeInfo{
			Name: n.GetName(),
			ID:   n.GetId(),
			Policy: NodePolicy{
				Validate:       p.GetValidate(),
				Timeout:        optMsDuration(p.TimeoutMs),
				MaxRetries:     p.GetMaxRetries(),
				BackoffBase:    msDuration(p.GetBackoffBaseMs()),
				BackoffMult:    p.GetBackoffMult(),
				MaxBackoff:     optMsDuration(p.MaxBackoffMs),
				MaxConcurrency: p.GetMaxConcurrency(),
			},
		})
	}
	for _, e := range f.GetEdges() {
		out.Edges = append(out.Edges, Edge{Source: e.GetSource(), Target: e.GetTarget()})
	}
	return out
}
