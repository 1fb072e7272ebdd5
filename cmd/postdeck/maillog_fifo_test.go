package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMaillogFIFODoesNotHoldTheStart: --mpa-maillog naming a FIFO (a log
// shipper's pipe) is said at start as a log the MPA cannot read; the
// check opened it for reading and waited for a writer, so the daemon
// never started.
func TestMaillogFIFODoesNotHoldTheStart(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "mail.log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	done := make(chan struct{})
	go func() {
		warnUnreadableMaillog(slog.New(slog.NewTextHandler(&logged, nil)), fifo)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil { // lets the open go
			_ = w.Close()
		}
		<-done
		t.Fatal("the start waited on a FIFO maillog for 5s")
	}
	if !strings.Contains(logged.String(), "not a regular file") {
		t.Errorf("a FIFO maillog is not said:\n%s", logged.String())
	}
}
