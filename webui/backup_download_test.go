package webui

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// bigAuditLog adds n audit entries of size bytes each: the backup's
// database, and GET /api/v1/audit?limit=n's answer, are that large, far
// more than a socket buffers.
func bigAuditLog(t *testing.T, st *stack, n, size int) {
	t.Helper()
	detail := strings.Repeat("x", size)
	for range n {
		if err := st.db.AppendAudit(store.AuditEntry{Actor: "test", Action: "padding", Result: "applied", Detail: detail}); err != nil {
			t.Fatal(err)
		}
	}
}

// ownSocket serves st's daemon on a trusted socket of its own, with the
// given bounds on writing an answer (whole) and on a backup download's
// stall, and returns the socket's path.
func ownSocket(t *testing.T, st *stack, writeTimeout, stall time.Duration) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pd-dl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Config{}, Deps{Admin: st.admin, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	srv.writeTimeout, srv.backupStall = writeTimeout, stall
	go func() { _ = srv.Serve(ln, true) }()
	t.Cleanup(func() {
		_ = ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return path
}

// slowReader takes at most 32 KiB at a time, 15 ms apart: about 2 MB/s,
// steadily, as a slow link does.
type slowReader struct{ r io.Reader }

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(15 * time.Millisecond)
	return s.r.Read(p[:min(len(p), 32<<10)])
}

// countingReader counts what passes.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// getOn sends GET path on conn and reads the answer's header from br.
func getOn(t *testing.T, conn net.Conn, br *bufio.Reader, path string) *http.Response {
	t.Helper()
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: postdeck\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s answered %d", path, resp.StatusCode)
	}
	return resp
}

// dial connects to sock; the client gives up after a minute (a hang is
// a failure, not a test that never ends).
func dial(t *testing.T, sock string) net.Conn {
	t.Helper()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// readBackup reads a backup answer's body as a tar archive to its end
// and the chunked body after it, and returns the archive's file names and
// the body's size; a cut body is an error.
func readBackup(body io.Reader) (map[string]bool, int64, error) {
	cr := &countingReader{r: body}
	names := map[string]bool{}
	tr := tar.NewReader(cr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return names, cr.n, err
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return names, cr.n, err
		}
		names[h.Name] = true
	}
	_, err := io.Copy(io.Discard, cr)
	return names, cr.n, err
}

// TestBackupDownloadOutlastsTheWriteTimeout: a backup downloaded by a
// slow but steady client arrives whole, although it takes longer than
// the bound on writing an answer: fasthttp set the connection's write
// deadline once per answer, and a backup of 1 GiB over a link slower than
// 8 MB/s was cut off after 120 s, a truncated file. Here the bound is
// 1 s and the download (6 MB at about 2 MB/s) takes 3 s.
func TestBackupDownloadOutlastsTheWriteTimeout(t *testing.T) {
	st := newStack(t)
	bigAuditLog(t, st, 48, 128<<10)
	const writeTimeout = time.Second
	conn := dial(t, ownSocket(t, st, writeTimeout, 2*time.Second))
	start := time.Now()
	resp := getOn(t, conn, bufio.NewReaderSize(slowReader{conn}, 32<<10), "/api/v1/backup")
	names, n, err := readBackup(resp.Body)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("the backup download was cut off after %d bytes and %s (the write bound is %s): %v", n, took.Round(time.Millisecond), writeTimeout, err)
	}
	if !names[backupDBNameForTest] || n < 6e6 {
		t.Fatalf("the backup holds %v in %d bytes, want the database of at least 6 MB", names, n)
	}
	if took < 2*writeTimeout {
		t.Fatalf("the download took only %s: too fast to outlast the write bound of %s (the test needs a larger backup)", took, writeTimeout)
	}
}

// TestBackupDownloadThatStopsIsCut: a backup download whose client stops
// taking bytes ends after the stall bound (here 1 s), although the bound
// on writing an answer whole (here an hour) is far: the client, back
// after 5 s, gets what the sockets held and then the end of a cut body.
func TestBackupDownloadThatStopsIsCut(t *testing.T) {
	st := newStack(t)
	bigAuditLog(t, st, 48, 128<<10)
	conn := dial(t, ownSocket(t, st, time.Hour, time.Second))
	resp := getOn(t, conn, bufio.NewReader(conn), "/api/v1/backup")
	if _, err := io.CopyN(io.Discard, resp.Body, 64<<10); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // the client stops reading
	n, err := io.Copy(io.Discard, resp.Body)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the daemon neither sent the rest nor ended the download after the client came back: %v", err)
	}
	if err == nil {
		t.Fatalf("a backup download whose client took nothing for 5 s went on (another %d bytes), with a stall bound of 1 s", n)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("the stalled download ended with %v, want a cut body (unexpected EOF)", err)
	}
}

// TestAnswersButTheBackupKeepTheWriteTimeout: every other answer is still
// written within the bound on writing an answer whole, also on a
// connection that just downloaded a backup (whose download moved the
// connection's write deadline): 6 MB of audit log read at about 2 MB/s
// is cut after the bound of 1 s.
func TestAnswersButTheBackupKeepTheWriteTimeout(t *testing.T) {
	st := newStack(t)
	bigAuditLog(t, st, 48, 128<<10)
	conn := dial(t, ownSocket(t, st, time.Second, time.Hour))
	br := bufio.NewReaderSize(conn, 32<<10)
	resp := getOn(t, conn, br, "/api/v1/backup")
	if _, _, err := readBackup(resp.Body); err != nil {
		t.Fatalf("a backup read at once: %v", err)
	}
	// The same connection, now read slowly.
	slow := bufio.NewReaderSize(slowReader{br}, 32<<10)
	resp = getOn(t, conn, slow, "/api/v1/audit?limit=48")
	if resp.ContentLength < 6e6 {
		t.Fatalf("the audit log's answer has %d bytes, want at least 6 MB", resp.ContentLength)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the daemon neither sent the rest of the audit log nor ended the answer: %v", err)
	}
	if err == nil {
		t.Fatalf("the audit log's answer (%d bytes) was written whole at about 2 MB/s, past the write bound of 1 s", n)
	}
}
