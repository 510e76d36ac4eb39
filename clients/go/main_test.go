package penguiflow_test

// TestMain provides the PenguiFlow server the live tests and examples run
// against: PENGUIFLOW_TARGET (host:port of a running server, plaintext, auth
// mode none or header) if set, else a fresh `node <repo>/dist/server/main.js`
// on a free port, stopped when the tests end (<repo> is ../.., or
// PENGUIFLOW_REPO). The address is exported as PENGUIFLOW_TARGET for the
// examples. With PENGUIFLOW_OFFLINE=1 no server is used and only the
// TestOffline* tests run.

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// liveTarget is the address of the server the live tests use.
var liveTarget string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if os.Getenv("PENGUIFLOW_OFFLINE") != "" {
		// No server: run only the tests against the in-process fake.
		flag.Parse()
		if err := flag.Set("test.run", "^TestOffline"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "PENGUIFLOW_OFFLINE is set: running only the TestOffline* tests (no server)")
		return m.Run()
	}
	liveTarget = os.Getenv("PENGUIFLOW_TARGET")
	if liveTarget == "" {
		srv, err := startServer()
		if err != nil {
			fmt.Fprintf(os.Stderr, "\npenguiflow go client tests: cannot start the PenguiFlow server:\n  %v\n\n", err)
			return 1
		}
		defer srv.stop()
		liveTarget = srv.addr
		if err := os.Setenv("PENGUIFLOW_TARGET", liveTarget); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// serverStartTimeout bounds how long the spawned server may take to log its port.
const serverStartTimeout = 60 * time.Second

type serverProcess struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}
	log    *tailBuffer
}

// startServer spawns the built server with PENGUIFLOW_PORT=0 and waits for
// the JSON log line that reports the bound port.
func startServer() (*serverProcess, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return nil, err
	}
	if r := os.Getenv("PENGUIFLOW_REPO"); r != "" {
		root = r
	}
	mainJS := filepath.Join(root, "dist", "server", "main.js")
	if _, err := os.Stat(mainJS); err != nil {
		return nil, fmt.Errorf("%s not found: run `npm run build` in %s first (or set PENGUIFLOW_TARGET=host:port to test against a running server)", mainJS, root)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("`node` is not on PATH: install Node.js >= 20.19 (or set PENGUIFLOW_TARGET=host:port to test against a running server)")
	}
	cmd := exec.Command(node, mainJS)
	cmd.Dir = root
	reapWithParent(cmd)
	cmd.Env = append(os.Environ(),
		"PENGUIFLOW_HOST=127.0.0.1",
		"PENGUIFLOW_PORT=0",
		"PENGUIFLOW_OPS_PORT=0",
		"PENGUIFLOW_AUTH=none",
		"PENGUIFLOW_LOG_LEVEL=info",
		"PENGUIFLOW_DEMO_FLOWS=true",
		"PENGUIFLOW_CANCEL_ON_DISCONNECT=true",
		"NODE_ENV=development",
	)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logs := &tailBuffer{max: 40}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", mainJS, err)
	}
	p := &serverProcess{cmd: cmd, exited: make(chan struct{}), log: logs}
	portCh := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		found := false
		for sc.Scan() {
			line := sc.Text()
			logs.addLine(line)
			if !found {
				if port, ok := portFromLogLine(line); ok {
					found = true
					portCh <- port
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	select {
	case port := <-portCh:
		p.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("the server exited (%v) before logging its port; its last output:\n%s", cmd.ProcessState, logs.String())
	case <-time.After(serverStartTimeout):
		p.stop()
		return nil, fmt.Errorf("the server did not log its port within %v; its last output:\n%s", serverStartTimeout, logs.String())
	}
}

// portFromLogLine returns the port of the server's start-up JSON log line
// (src/server/main.ts): {"port": 39139, "host": ..., "flows": [...], "msg":
// "penguiflow server listening on ..."}. Other lines that happen to carry a
// "port" (e.g. the metrics endpoint) are ignored.
func portFromLogLine(line string) (int, bool) {
	if !strings.HasPrefix(strings.TrimSpace(line), "{") {
		return 0, false
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		return 0, false
	}
	msg, _ := rec["msg"].(string)
	_, hasFlows := rec["flows"]
	if !hasFlows && !strings.Contains(msg, "server listening") {
		return 0, false
	}
	if port, ok := rec["port"].(float64); ok && port > 0 && port < 65536 && port == float64(int(port)) {
		return int(port), true
	}
	return 0, false
}

// stop asks the server to drain (SIGINT) and kills it if it does not exit
// within a few seconds.
func (p *serverProcess) stop() {
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// tailBuffer keeps the last lines written to it, for error messages.
type tailBuffer struct {
	mu      sync.Mutex
	max     int
	lines   []string
	partial string
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.partial + string(p)
	parts := strings.Split(s, "\n")
	b.partial = parts[len(parts)-1]
	for _, l := range parts[:len(parts)-1] {
		b.addLocked(l)
	}
	return len(p), nil
}

func (b *tailBuffer) addLine(l string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.addLocked(l)
}

func (b *tailBuffer) addLocked(l string) {
	b.lines = append(b.lines, l)
	if len(b.lines) > b.max {
		b.lines = b.lines[len(b.lines)-b.max:]
	}
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return "  | " + strings.Join(append(b.lines, b.partial), "\n  | ")
}
