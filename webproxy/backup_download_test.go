package webproxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// piece is what the stand-in daemons below write at a time.
var piece = bytes.Repeat([]byte("postdeck backup\n"), 4<<10) // 64 KiB

// proxyFor serves daemon as the daemon on a unix socket and a proxy with
// lim in front of it, and returns the proxy's address.
func proxyFor(t *testing.T, lim Limits, daemon http.HandlerFunc) string {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "web.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: daemon}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return startProxy(t, New(Config{Socket: socket, Limits: lim}))
}

// streamPieces writes n pieces as a chunked answer (as the daemon sends a
// backup), waiting pause once after the first MiB; it returns the first
// write error.
func streamPieces(w http.ResponseWriter, n int, pause time.Duration) error {
	w.Header().Set("Content-Type", "application/x-tar")
	for i := range n {
		if i*len(piece) == 1<<20 {
			time.Sleep(pause)
		}
		if _, err := w.Write(piece); err != nil {
			return err
		}
		if err := http.NewResponseController(w).Flush(); err != nil {
			return err
		}
	}
	return nil
}

// download sends GET path on a connection to addr, reads the answer's
// header and returns the connection and the body.
func download(t *testing.T, addr, path string) (net.Conn, io.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: console.example\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: no answer: %v", path, err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	return c, resp.Body
}

// slowRead reads body to its end, waiting pause once after the first
// MiB, and returns the bytes read and the error that ended it (nil: the
// answer's end).
func slowRead(body io.Reader, pause time.Duration) (int, error) {
	n, err := io.ReadFull(body, make([]byte, 1<<20))
	if err != nil {
		return n, err
	}
	time.Sleep(pause)
	rest, err := io.Copy(io.Discard, body)
	return n + int(rest), err
}

// TestBackupDownloadOutlastsTotalTimeouts: a backup download through the
// web process that moves, however slowly, arrives whole although it takes
// longer than the total-time limits of every other answer (here 300 ms;
// the daemon, or the client, waits 600 ms once, well within BackupStall):
// the daemon's answer (UpstreamTimeout, applied by fasthttp once to the
// whole streamed answer) and the writing to the client (WriteTimeout, set
// by net/http once per answer). Measured before: a download through the
// web process was cut at 5.3 MB after WriteTimeout, at 5.4 MB after
// UpstreamTimeout.
func TestBackupDownloadOutlastsTotalTimeouts(t *testing.T) {
	lim := Limits{WriteTimeout: 300 * time.Millisecond, UpstreamTimeout: 300 * time.Millisecond, BackupStall: 10 * time.Second}
	t.Run("slow daemon", func(t *testing.T) {
		const n = 32 // 2 MiB
		addr := proxyFor(t, lim, func(w http.ResponseWriter, r *http.Request) {
			_ = streamPieces(w, n, 600*time.Millisecond)
		})
		_, body := download(t, addr, backupPath)
		got, err := slowRead(body, 0)
		if err != nil || got != n*len(piece) {
			t.Fatalf("a backup download whose daemon paused for 600 ms: %d bytes of %d, ended by %v (cut by a total-time limit of 300 ms)", got, n*len(piece), err)
		}
	})
	t.Run("slow client", func(t *testing.T) {
		const n = 256 // 16 MiB, more than the kernel's buffers hold
		addr := proxyFor(t, lim, func(w http.ResponseWriter, r *http.Request) {
			_ = streamPieces(w, n, 0)
		})
		_, body := download(t, addr, backupPath)
		got, err := slowRead(body, 600*time.Millisecond)
		if err != nil || got != n*len(piece) {
			t.Fatalf("a backup download whose client paused for 600 ms: %d bytes of %d, ended by %v (cut by a total-time limit of 300 ms)", got, n*len(piece), err)
		}
	})
}

// TestBackupDownloadThatStopsIsCut: with total-time limits of an hour, a
// backup download ends once BackupStall (here 500 ms) passed without
// progress on either side, and the client sees it cut (not a complete
// chunked answer, which a browser would save as the backup).
func TestBackupDownloadThatStopsIsCut(t *testing.T) {
	lim := Limits{WriteTimeout: time.Hour, UpstreamTimeout: time.Hour, BackupStall: 500 * time.Millisecond}
	t.Run("client stops", func(t *testing.T) {
		const n = 512 // 32 MiB
		ended := make(chan error, 1)
		addr := proxyFor(t, lim, func(w http.ResponseWriter, r *http.Request) {
			ended <- streamPieces(w, n, 0)
		})
		_, body := download(t, addr, backupPath)
		if _, err := io.ReadFull(body, make([]byte, 1<<20)); err != nil {
			t.Fatalf("the first MiB: %v", err)
		}
		// The client takes nothing more: the web process gives the
		// download up, and so the daemon's writing fails.
		select {
		case err := <-ended:
			if err == nil {
				t.Fatal("the daemon wrote the whole archive to a client that had stopped reading")
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a backup download whose client took nothing for 20 s goes on, with BackupStall 500 ms")
		}
		got, err := io.Copy(io.Discard, body)
		if err == nil || 1<<20+got >= n*int64(len(piece)) {
			t.Fatalf("the stopped client then read %d more bytes, ended by %v: want a cut answer", got, err)
		}
	})
	t.Run("daemon stops", func(t *testing.T) {
		release := make(chan struct{})
		addr := proxyFor(t, lim, func(w http.ResponseWriter, r *http.Request) {
			_ = streamPieces(w, 16, 0)
			<-release
		})
		t.Cleanup(func() { close(release) }) // before the proxy's and daemon's shutdown
		c, body := download(t, addr, backupPath)
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		got, err := io.Copy(io.Discard, body)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a backup download whose daemon sent nothing for 20 s goes on (%d bytes), with BackupStall 500 ms", got)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) || got != 16*int64(len(piece)) {
			t.Fatalf("a backup download whose daemon stopped: %d bytes, ended by %v; want the 1 MiB sent, then a cut answer (unexpected EOF)", got, err)
		}
	})
}

// TestAnswersButTheBackupKeepTotalTimeouts: every other answer keeps its
// total-time limits (here 300 ms), on both sides, however well it moves
// (the daemon, or the client, waits 600 ms once); the client sees it cut.
func TestAnswersButTheBackupKeepTotalTimeouts(t *testing.T) {
	const n = 256 // 16 MiB, more than the kernel's buffers hold
	for _, tc := range []struct {
		name  string
		lim   Limits
		path  string
		pause time.Duration // the daemon's, between pieces
		read  time.Duration // the client's, between pieces
	}{
		{"slow daemon", Limits{UpstreamTimeout: 300 * time.Millisecond, WriteTimeout: time.Hour}, "/api/v1/messages/1/raw", 600 * time.Millisecond, 0},
		{"slow client", Limits{UpstreamTimeout: time.Hour, WriteTimeout: 300 * time.Millisecond}, "/api/v1/messages/1/raw", 0, 600 * time.Millisecond},
		{"backup below another path", Limits{UpstreamTimeout: 300 * time.Millisecond, WriteTimeout: time.Hour}, backupPath + "/x", 600 * time.Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.lim.BackupStall = time.Hour
			addr := proxyFor(t, tc.lim, func(w http.ResponseWriter, r *http.Request) {
				_ = streamPieces(w, n, tc.pause)
			})
			_, body := download(t, addr, tc.path)
			got, err := slowRead(body, tc.read)
			if err == nil || got >= n*len(piece) {
				t.Fatalf("GET %s with a pause of 600 ms and a total-time limit of 300 ms: %d bytes of %d, ended by %v; want a cut answer", tc.path, got, n*len(piece), err)
			}
		})
	}
}
