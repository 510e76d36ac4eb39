package main

import (
	"context"
	"encoding/base64"
	"errors"
	"io"

	penguiflow "github.com/penguiflow/penguiflow-ts/clients/go"
	pb "github.com/penguiflow/penguiflow-ts/clients/go/gen/penguiflow/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// rawWithHeadersTenant runs Emit, Call or CallStream with Message.headers.tenant
// set, through Client.Raw(): the typed Go API has no option for it (the
// TypeScript client has `tenant`, the Python client `message_tenant`). The
// connection's per-call credentials (token or x-tenant-id) still apply.
func rawWithHeadersTenant(ctx context.Context, c *penguiflow.Client, op, flow string, step obj, tenant string) (obj, error) {
	msg := &pb.Message{Headers: &pb.Headers{Tenant: tenant}, TraceId: strField(step, "traceId", "")}
	if b, ok := step["binary"].(string); ok {
		bin, err := base64.StdEncoding.DecodeString(b)
		if err != nil {
			return nil, caseErrorf("bad binary: %v", err)
		}
		msg.Binary = bin
	} else {
		v, err := structpb.NewValue(step["payload"])
		if err != nil {
			return nil, caseErrorf("payload: %v", err)
		}
		msg.Payload = v
	}
	switch op {
	case "emit":
		r, err := c.Raw().Emit(ctx, &pb.EmitRequest{Flow: flow, Message: msg})
		if err != nil {
			return rawErrorObs(err), nil
		}
		return obj{"traceId": r.GetTraceId(), "deduplicated": r.GetDeduplicated()}, nil
	case "call":
		r, err := c.Raw().Call(ctx, &pb.CallRequest{Flow: flow, Message: msg})
		if err != nil {
			return rawErrorObs(err), nil
		}
		if out := r.GetOutput(); out != nil {
			return obj{"kind": "output", "traceId": r.GetTraceId(), "payload": normJSON(out.GetPayload().AsInterface()), "tenant": out.GetHeaders().GetTenant()}, nil
		}
		if r.GetError() != nil {
			return obj{"kind": "error", "traceId": r.GetTraceId()}, nil
		}
		return obj{"kind": "none", "traceId": r.GetTraceId()}, nil
	case "callStream":
		stream, err := c.Raw().CallStream(ctx, &pb.CallStreamRequest{Flow: flow, Message: msg})
		if err != nil {
			return rawErrorObs(err), nil
		}
		kinds := []any{}
		var end any
		for {
			r, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return rawErrorObs(err), nil
			}
			u := r.GetUpdate()
			switch {
			case u.GetChunk() != nil:
				kinds = append(kinds, "chunk")
			case u.GetOutput() != nil:
				kinds = append(kinds, "output")
			case u.GetError() != nil:
				kinds = append(kinds, "error")
			case u.GetEnd() != nil:
				kinds = append(kinds, "end")
				end = u.GetEnd().GetStatus().String()[len("TRACE_STATUS_"):]
			}
		}
		return obj{"kinds": kinds, "end": end}, nil
	}
	return nil, caseErrorf("headersTenant is only valid on emit, call and callStream, not %q", op)
}

func rawErrorObs(err error) obj {
	st, _ := status.FromError(err)
	reason := ""
	fields := []any{}
	for _, d := range st.Details() {
		switch x := d.(type) {
		case *errdetails.ErrorInfo:
			reason = x.GetReason()
		case *errdetails.BadRequest:
			for _, v := range x.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	var perr *penguiflow.Error
	clientSide := errors.As(err, &perr) && perr.ClientSide
	return obj{"error": penguiflow.CodeName(st.Code()), "reason": reason, "fieldViolations": fields, "message": st.Message(), "clientSide": clientSide}
}
