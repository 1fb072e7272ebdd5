package mpa

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestShutdownRightAfterStart: go-smtp's Shutdown closes only the
// listeners its Serve registered, and the MPA's serving goroutine hands
// its listener over after Start returned. A stop in between (a daemon
// stopped as it starts) closed nothing: Serve then went on accepting, and
// Shutdown waited for it for good, past its own deadline. The test holds
// the serving goroutine until Shutdown has shut go-smtp down.
func TestShutdownRightAfterStart(t *testing.T) {
	ln := listenLocal(t)
	s, _ := newTestServer(t, Config{Listener: ln, ReinjectAddr: "127.0.0.1:1", Hostname: "mpa.gw.example.test"})
	s.testHookServe = func() { <-s.stopWork } // closed once go-smtp is shut down
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	returned := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		returned <- s.Shutdown(ctx)
	}()
	select {
	case err := <-returned:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Shutdown did not return 20 s after its two-second deadline: the listener handed over after the stop is still served")
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		_ = c.Close()
		t.Errorf("the MPA's port %s still takes connections after Shutdown", ln.Addr())
	}
}
