// Command loadgen is the gRPC load generator of bench/grpc.ts: a minimal,
// closed-loop client (C workers, each with one call in flight) that sends a
// pre-encoded request and does not decode responses, so that as much of the
// machine as possible is left to the server being measured.
//
//	loadgen -addr 127.0.0.1:50051 -method /penguiflow.v1.FlowService/Call \
//	  -data <base64 protobuf request> -c 64 -d 5s [-stream]
//
// Prints one JSON object: count, errors, rps, messages (stream responses
// received), latency percentiles in microseconds, elapsed seconds.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// rawCodec passes already-encoded protobuf bytes through untouched.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = data
	return nil
}
func (rawCodec) Name() string { return "proto" }

type result struct {
	Count     int     `json:"count"`
	Errors    int     `json:"errors"`
	FirstErr  string  `json:"first_error,omitempty"`
	Messages  int64   `json:"messages"`
	Rps       float64 `json:"rps"`
	P50us     float64 `json:"p50_us"`
	P90us     float64 `json:"p90_us"`
	P99us     float64 `json:"p99_us"`
	ElapsedS  float64 `json:"elapsed_s"`
	Conns     int     `json:"connections"`
	Workers   int     `json:"concurrency"`
	Streaming bool    `json:"stream"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "server address")
	method := flag.String("method", "/penguiflow.v1.FlowService/Call", "full method path")
	data := flag.String("data", "", "request, protobuf-encoded, base64")
	conc := flag.Int("c", 1, "concurrent workers (calls in flight)")
	conns := flag.Int("conns", 1, "connections (workers spread evenly)")
	dur := flag.Duration("d", 5*time.Second, "how long to start new calls")
	timeout := flag.Duration("timeout", 10*time.Second, "per-call deadline")
	stream := flag.Bool("stream", false, "server-streaming method: read every response")
	flag.Parse()

	req, err := base64.StdEncoding.DecodeString(*data)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: -data is not base64:", err)
		os.Exit(2)
	}
	clients := make([]*grpc.ClientConn, *conns)
	for i := range clients {
		cc, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: dial:", err)
			os.Exit(1)
		}
		cc.Connect()
		clients[i] = cc
	}
	desc := &grpc.StreamDesc{ServerStreams: true}

	type workerOut struct {
		lat      []time.Duration
		errors   int
		firstErr string
		messages int64
	}
	outs := make([]workerOut, *conc)
	start := time.Now()
	stopAt := start.Add(*dur)
	var wg sync.WaitGroup
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cc := clients[w%len(clients)]
			out := &outs[w]
			out.lat = make([]time.Duration, 0, 1<<14)
			for time.Now().Before(stopAt) {
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), *timeout)
				var err error
				if *stream {
					var s grpc.ClientStream
					s, err = cc.NewStream(ctx, desc, *method)
					if err == nil {
						err = s.SendMsg(&req)
					}
					if err == nil {
						err = s.CloseSend()
					}
					for err == nil {
						var resp []byte
						if err = s.RecvMsg(&resp); err == nil {
							out.messages++
						}
					}
					if err == io.EOF {
						err = nil
					}
				} else {
					var resp []byte
					err = cc.Invoke(ctx, *method, &req, &resp)
				}
				cancel()
				if err != nil {
					if out.errors == 0 {
						out.firstErr = err.Error()
					}
					out.errors++
					continue
				}
				out.lat = append(out.lat, time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, cc := range clients {
		_ = cc.Close()
	}

	var all []time.Duration
	r := result{Conns: *conns, Workers: *conc, Streaming: *stream, ElapsedS: elapsed.Seconds()}
	for _, o := range outs {
		all = append(all, o.lat...)
		r.Errors += o.errors
		r.Messages += o.messages
		if r.FirstErr == "" {
			r.FirstErr = o.firstErr
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		i := int(p * float64(len(all)-1))
		return float64(all[i].Nanoseconds()) / 1000
	}
	r.Count = len(all)
	r.Rps = float64(r.Count) / elapsed.Seconds()
	r.P50us, r.P90us, r.P99us = pct(0.50), pct(0.90), pct(0.99)
	_ = json.NewEncoder(os.Stdout).Encode(r)
}
