package penguiflow_test

// An in-process fake FlowService for tests that must control exactly what
// the server sends (error details, broken streams, metadata, TLS). They do
// not need the PenguiFlow server.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/penguiflow/penguiflow-ts/clients/go/gen/penguiflow/v1"
)

// fakeServer implements FlowService with per-test hooks; RPCs without a hook
// answer UNIMPLEMENTED.
type fakeServer struct {
	pb.UnimplementedFlowServiceServer
	emit        func(context.Context, *pb.EmitRequest) (*pb.EmitResponse, error)
	fetch       func(context.Context, *pb.FetchRequest) (*pb.FetchResponse, error)
	call        func(context.Context, *pb.CallRequest) (*pb.CallResponse, error)
	callStream  func(*pb.CallStreamRequest, grpc.ServerStreamingServer[pb.CallStreamResponse]) error
	streamTrace func(*pb.StreamTraceRequest, grpc.ServerStreamingServer[pb.StreamTraceResponse]) error
	subscribe   func(*pb.SubscribeEventsRequest, grpc.ServerStreamingServer[pb.SubscribeEventsResponse]) error
	listFlows   func(context.Context, *pb.ListFlowsRequest) (*pb.ListFlowsResponse, error)
}

func (f *fakeServer) Emit(ctx context.Context, r *pb.EmitRequest) (*pb.EmitResponse, error) {
	if f.emit == nil {
		return f.UnimplementedFlowServiceServer.Emit(ctx, r)
	}
	return f.emit(ctx, r)
}

func (f *fakeServer) Fetch(ctx context.Context, r *pb.FetchRequest) (*pb.FetchResponse, error) {
	if f.fetch == nil {
		return f.UnimplementedFlowServiceServer.Fetch(ctx, r)
	}
	return f.fetch(ctx, r)
}

func (f *fakeServer) Call(ctx context.Context, r *pb.CallRequest) (*pb.CallResponse, error) {
	if f.call == nil {
		return f.UnimplementedFlowServiceServer.Call(ctx, r)
	}
	return f.call(ctx, r)
}

func (f *fakeServer) CallStream(r *pb.CallStreamRequest, s grpc.ServerStreamingServer[pb.CallStreamResponse]) error {
	if f.callStream == nil {
		return f.UnimplementedFlowServiceServer.CallStream(r, s)
	}
	return f.callStream(r, s)
}

func (f *fakeServer) StreamTrace(r *pb.StreamTraceRequest, s grpc.ServerStreamingServer[pb.StreamTraceResponse]) error {
	if f.streamTrace == nil {
		return f.UnimplementedFlowServiceServer.StreamTrace(r, s)
	}
	return f.streamTrace(r, s)
}

func (f *fakeServer) SubscribeEvents(r *pb.SubscribeEventsRequest, s grpc.ServerStreamingServer[pb.SubscribeEventsResponse]) error {
	if f.subscribe == nil {
		return f.UnimplementedFlowServiceServer.SubscribeEvents(r, s)
	}
	return f.subscribe(r, s)
}

func (f *fakeServer) ListFlows(ctx context.Context, r *pb.ListFlowsRequest) (*pb.ListFlowsResponse, error) {
	if f.listFlows == nil {
		return f.UnimplementedFlowServiceServer.ListFlows(ctx, r)
	}
	return f.listFlows(ctx, r)
}

// startFake serves f on a free localhost port until the test ends and returns
// its address.
func startFake(t *testing.T, f *fakeServer, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	pb.RegisterFlowServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// testPKI is a throw-away CA with a server certificate for 127.0.0.1 and a
// client certificate whose CommonName is "tenant-a", all as PEM files.
type testPKI struct {
	caFile, serverCert, serverKey, clientCert, clientKey string
	pool                                                 *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey := mustKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "penguiflow test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		key := mustKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return writePEM(t, dir, name+".pem", "CERTIFICATE", der), writePEM(t, dir, name+"-key.pem", "EC PRIVATE KEY", keyDER)
	}
	p.serverCert, p.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf("tenant-a", 3, x509.ExtKeyUsageClientAuth)
	return p
}

// serverCreds returns TLS server credentials; with requireClient the server
// demands a client certificate signed by the test CA.
func (p *testPKI) serverCreds(t *testing.T, requireClient bool) grpc.ServerOption {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if requireClient {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = p.pool
	}
	return grpc.Creds(credentials.NewTLS(cfg))
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
