package penguiflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of the errors the
// PenguiFlow server sends.
const ErrorDomain = "penguiflow.dev"

// Error is the error every Client method returns when the RPC fails (or is
// rejected by the client before being sent). Use [errors.As] to get it:
//
//	var perr *penguiflow.Error
//	if errors.As(err, &perr) && perr.Code == codes.NotFound { ... }
//
// It wraps the call's [*status.Status] (see [Error.GRPCStatus], so
// [status.Code] and [status.FromError] work on it) and carries the decoded
// google.rpc details. When the caller's own context ended the call, it
// unwraps to [context.DeadlineExceeded] or [context.Canceled], so
// errors.Is(err, context.Canceled) tells "my context was cancelled" from "the
// trace was cancelled" (both CANCELLED). A DEADLINE_EXCEEDED counts as the
// context's when its deadline had passed or was less than a second away (the
// server enforces the same, propagated deadline and may answer a moment
// before the client's timer fires).
//
// A node failing for good is never an Error; see [FlowError].
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Message is the status message (safe to show; never contains payloads).
	Message string
	// ErrorInfo is the machine-readable reason (nil when not sent). Its
	// Reason is e.g. "FLOW_NOT_FOUND", "TRACE_NOT_FOUND", "TRACE_CANCELLED".
	ErrorInfo *errdetails.ErrorInfo
	// BadRequest lists the invalid request fields of an INVALID_ARGUMENT
	// (nil when not sent).
	BadRequest *errdetails.BadRequest
	// RetryInfo says when to retry a RESOURCE_EXHAUSTED (nil when not sent).
	RetryInfo *errdetails.RetryInfo
	// QuotaFailure says which quota a RESOURCE_EXHAUSTED exceeded (nil when
	// not sent).
	QuotaFailure *errdetails.QuotaFailure
	// ClientSide is true when this client rejected the request before
	// sending it (for example a payload that does not encode as JSON).
	ClientSide bool

	status *status.Status
	cause  error
}

// Error formats the error as "penguiflow: CODE: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("penguiflow: ")
	b.WriteString(CodeName(e.Code))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// GRPCStatus returns the status of the failed call, including its details.
func (e *Error) GRPCStatus() *status.Status {
	if e.status == nil {
		return status.New(e.Code, e.Message)
	}
	return e.status
}

// Unwrap returns [context.DeadlineExceeded] or [context.Canceled] when the
// caller's context ended the call, and nil otherwise.
func (e *Error) Unwrap() error { return e.cause }

// Reason returns ErrorInfo.Reason, or "" when the server sent no ErrorInfo.
func (e *Error) Reason() string { return e.ErrorInfo.GetReason() }

// FieldViolations returns the BadRequest field violations (field paths such
// as "message.trace_id"), or nil.
func (e *Error) FieldViolations() []*errdetails.BadRequest_FieldViolation {
	return e.BadRequest.GetFieldViolations()
}

// RetryDelay returns how long to wait before retrying, and whether the server
// sent a RetryInfo at all.
func (e *Error) RetryDelay() (time.Duration, bool) {
	if e.RetryInfo == nil || e.RetryInfo.GetRetryDelay() == nil {
		return 0, false
	}
	return e.RetryInfo.GetRetryDelay().AsDuration(), true
}

// CodeName returns the canonical upper-case name of a gRPC code as used in
// the proto contract, e.g. "NOT_FOUND" for codes.NotFound.
func CodeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("CODE(%d)", uint32(c))
}

var codeNames = [...]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// newError builds an Error from a status, decoding the details it knows.
// Details of other types, or that fail to decode, are left in the status.
func newError(st *status.Status) *Error {
	e := &Error{Code: st.Code(), Message: st.Message(), status: st}
	for _, d := range st.Details() {
		switch v := d.(type) {
		case *errdetails.ErrorInfo:
			if e.ErrorInfo == nil {
				e.ErrorInfo = v
			}
		case *errdetails.BadRequest:
			if e.BadRequest == nil {
				e.BadRequest = v
			} else {
				e.BadRequest.FieldViolations = append(e.BadRequest.FieldViolations, v.FieldViolations...)
			}
		case *errdetails.RetryInfo:
			if e.RetryInfo == nil {
				e.RetryInfo = v
			}
		case *errdetails.QuotaFailure:
			if e.QuotaFailure == nil {
				e.QuotaFailure = v
			} else {
				e.QuotaFailure.Violations = append(e.QuotaFailure.Violations, v.Violations...)
			}
		}
	}
	return e
}

// wrapError turns an error returned by a grpc-go call into an *Error. ctx is
// the caller's context: when it ended the call (DEADLINE_EXCEEDED with ctx's
// deadline passed or about to, CANCELLED with ctx cancelled), the Error
// unwraps to the matching context error.
func wrapError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var perr *Error
	if errors.As(err, &perr) {
		return perr
	}
	st, ok := status.FromError(err)
	if !ok {
		// Not a status (grpc-go always returns one; be defensive).
		st = status.New(codes.Unknown, err.Error())
	}
	e := newError(st)
	switch e.Code {
	case codes.DeadlineExceeded:
		// The server propagates the call's deadline and may answer a moment
		// before the client's own timer fires, so a deadline that is about
		// to pass counts as passed.
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < deadlineSlack {
			e.cause = context.DeadlineExceeded
		}
	case codes.Canceled:
		if errors.Is(ctx.Err(), context.Canceled) {
			e.cause = context.Canceled
		}
	}
	return e
}

// deadlineSlack is how close to its deadline a context must be for a
// DEADLINE_EXCEEDED status to be attributed to it.
const deadlineSlack = time.Second

// invalidArgument is the Error for a request this client refuses to send.
func invalidArgument(field, description string) *Error {
	st := status.New(codes.InvalidArgument, field+": "+description)
	br := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: description}}}
	if withDetails, err := st.WithDetails(br); err == nil {
		st = withDetails
	}
	e := newError(st)
	e.ClientSide = true
	return e
}

// closedError is the client-side FAILED_PRECONDITION Error of a call made
// after Close; the TypeScript and Python clients answer the same.
func closedError() *Error {
	e := newError(status.New(codes.FailedPrecondition, "the client is closed"))
	e.ClientSide = true
	return e
}

// internalError is the Error for a server that broke the stream contract.
func internalError(msg string) *Error {
	return newError(status.New(codes.Internal, msg))
}
