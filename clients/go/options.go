package penguiflow

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
)

// Option configures a [Client]; pass options to [Dial].
type Option func(*dialConfig)

type dialConfig struct {
	token       func(context.Context) (string, error)
	tenant      string
	insecure    bool
	tlsConfig   *tls.Config
	mtlsFiles   *[3]string
	block       bool
	dialOptions []grpc.DialOption
	errs        []error
}

// WithToken sends `authorization: Bearer <token>` on every call (servers in
// jwt auth mode). For tokens that expire, use [WithTokenSource].
func WithToken(token string) Option {
	return func(c *dialConfig) {
		c.token = func(context.Context) (string, error) { return token, nil }
	}
}

// WithTokenSource calls source before every call and sends the token it
// returns as `authorization: Bearer <token>`; an empty token sends no header.
// The context is the call's. If source fails, the call fails with
// UNAUTHENTICATED without being sent.
func WithTokenSource(source func(ctx context.Context) (string, error)) Option {
	return func(c *dialConfig) {
		if source == nil {
			c.errs = append(c.errs, errors.New("WithTokenSource: nil source"))
			return
		}
		c.token = source
	}
}

// WithTenant sends the tenant as the `x-tenant-id` header on every call. It
// is only trusted by servers in "header" auth mode (behind a mesh sidecar)
// and ignored by the other modes, which take the tenant from the token or
// the client certificate.
func WithTenant(tenant string) Option {
	return func(c *dialConfig) { c.tenant = tenant }
}

// WithInsecure uses plaintext HTTP/2 (h2c) instead of TLS: for local
// development and for a mesh sidecar on localhost. Tokens set with
// [WithToken] or [WithTokenSource] are then sent unencrypted too.
func WithInsecure() Option {
	return func(c *dialConfig) { c.insecure = true }
}

// WithTLS uses TLS with the given configuration (server verification,
// ServerName, client certificates...). A nil config means the system roots.
// Without WithTLS, WithMTLS or WithInsecure, the client uses TLS with the
// system roots.
func WithTLS(config *tls.Config) Option {
	return func(c *dialConfig) {
		if config == nil {
			config = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		c.tlsConfig = config
	}
}

// WithMTLS uses mutual TLS: the client presents the PEM certificate and key
// read from certFile and keyFile (servers in mtls auth mode take the tenant
// from it) and verifies the server against the PEM CA bundle in caFile, or
// the system roots when caFile is "". The files are read by [Dial], which
// fails if they cannot be loaded. For more control, build a *tls.Config
// with [MTLSConfig] and pass it to [WithTLS].
func WithMTLS(certFile, keyFile, caFile string) Option {
	return func(c *dialConfig) { c.mtlsFiles = &[3]string{certFile, keyFile, caFile} }
}

// MTLSConfig returns a TLS client configuration that presents the PEM
// certificate and key in certFile and keyFile and trusts the PEM CA bundle
// in caFile (the system roots when caFile is "").
func MTLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("penguiflow: load client certificate: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("penguiflow: read CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("penguiflow: no PEM certificate found in %s", caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// WithBlock makes [Dial] wait until the connection is ready, or fail when
// Dial's context ends first. Without it Dial returns at once and the
// connection is made on the first call.
func WithBlock() Option {
	return func(c *dialConfig) { c.block = true }
}

// WithDialOptions appends raw grpc-go dial options (interceptors, keepalive,
// message size limits, stats handlers...). They are applied after the
// options derived from the other settings.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *dialConfig) { c.dialOptions = append(c.dialOptions, opts...) }
}

// SendOption configures the message sent by [Client.Emit], [Client.Call]
// and [Client.CallStream].
type SendOption func(*sendConfig)

type sendConfig struct {
	traceID        string
	topic          string
	priority       int32
	meta           map[string]any
	deadline       time.Time
	idempotencyKey *string
}

// WithTraceID sends the message under a caller-chosen trace id instead of a
// server-generated one. It must satisfy the server's trace-id charset and
// length limits (otherwise INVALID_ARGUMENT). Emitting into a trace of yours
// that is still in flight adds the message to it.
func WithTraceID(traceID string) SendOption {
	return func(c *sendConfig) { c.traceID = traceID }
}

// WithTopic sets headers.topic, used by routers inside the flow.
func WithTopic(topic string) SendOption {
	return func(c *sendConfig) { c.topic = topic }
}

// WithPriority sets headers.priority (informational; 0 = default).
func WithPriority(priority int32) SendOption {
	return func(c *sendConfig) { c.priority = priority }
}

// WithMeta sets the message's free-form metadata (a JSON object).
func WithMeta(meta map[string]any) SendOption {
	return func(c *sendConfig) { c.meta = meta }
}

// WithMessageDeadline sets an absolute message deadline. The server keeps
// the earlier of it and the call's context deadline, so it is only needed
// for a deadline later than the call itself (typically with Emit).
func WithMessageDeadline(deadline time.Time) SendOption {
	return func(c *sendConfig) { c.deadline = deadline }
}

// WithIdempotencyKey makes retries safe: a second request by the same tenant
// to the same flow with the same key does not emit again (Emit returns the
// first trace id with Deduplicated set; Call waits for the original trace's
// next output; CallStream attaches to the original trace).
func WithIdempotencyKey(key string) SendOption {
	return func(c *sendConfig) { c.idempotencyKey = &key }
}
