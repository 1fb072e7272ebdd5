package webproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConnectionAndRequestBounds: with MaxInFlight 1 a second request
// while one is being forwarded gets a 503 at once; with MaxConns 2 a third
// connection is not served while two are open, and is as soon as one
// closes.
func TestConnectionAndRequestBounds(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "web.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	release, arrived := make(chan struct{}), make(chan struct{}, 4)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = io.WriteString(w, "done")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	proxy := New(Config{Socket: socket, Limits: Limits{MaxInFlight: 1, MaxConns: 2}})
	addr := startProxy(t, proxy)
	released := false
	t.Cleanup(func() { // before the proxy's shutdown, which waits for it
		if !released {
			close(release)
		}
	})

	// One request held at the daemon.
	slow := make(chan string, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Get("http://" + addr + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		_ = resp.Body.Close()
		slow <- resp.Status
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the first request did not reach the daemon")
	}
	// A second one, on a second connection: busy.
	if status, answer := raw(t, addr, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"); status != "HTTP/1.1 503 Service Unavailable" || !strings.Contains(answer, "busy") {
		t.Fatalf("a request past MaxInFlight: %s", answer)
	}
	// A second connection held open, then a third: not served.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if _, err := io.WriteString(third, "GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	br := bufio.NewReader(third)
	if _, err := br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a third connection was served while two were open: %v", err)
	}
	// The held request ends and the idle connection closes: the third is
	// taken and answered.
	close(release)
	released = true
	if status := <-slow; status != "200 OK" {
		t.Fatalf("the held request: %s", status)
	}
	// Its slot is given back when the handler returns, which can be just
	// after the client has read the whole answer (a CI run under -race
	// saw the third request refused as busy in that gap).
	for deadline := time.Now().Add(10 * time.Second); len(proxy.inFlight) > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the held request's slot was not given back")
		}
	}
	_ = idle.Close()
	_ = third.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the third connection once there was room: %v %v", resp, err)
	}
	_ = resp.Body.Close()
}
