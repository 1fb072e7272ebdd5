package webui

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// stalledUpload is a restore's body that never ends by itself: its
// first stallAt bytes (prefix, then fill) come at once, then it waits
// until release is closed, as an endless stream does for a daemon that
// waits for its end before answering.
type stalledUpload struct {
	prefix  []byte
	fill    byte
	stallAt int64
	release chan struct{}
	n       atomic.Int64
}

func (u *stalledUpload) Read(p []byte) (int, error) {
	n := u.n.Load()
	if n >= u.stallAt {
		<-u.release
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), u.stallAt-n)]
	for i := range p {
		if off := n + int64(i); off < int64(len(u.prefix)) {
			p[i] = u.prefix[off]
		} else {
			p[i] = u.fill
		}
	}
	u.n.Add(int64(len(p)))
	return len(p), nil
}

// TestRestoreOfAnEndlessUploadIsRefusedEarly: `postdeck restore
// /dev/zero` (or a stream that says it is a backup and goes on) is
// refused after its first KiB with a sentence, not read until the
// daemon hangs up at the socket's GiB: zeros where the first file
// belongs, a database that does not begin as a bbolt file does, a file
// declared larger than this node's bound (which the sentence says). The
// upload is streamed (chunked, as the CLI sends a file) and stalls after
// 64 KiB: the answer must come while it has not ended.
func TestRestoreOfAnEndlessUploadIsRefusedEarly(t *testing.T) {
	st := newStack(t)
	header := func(name string, size int64) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes() // the header block; the content follows

	}
	for _, c := range []struct {
		name   string
		upload *stalledUpload
		want   string
	}{
		{"/dev/zero", &stalledUpload{}, "The backup holds no file: it begins with zero bytes"},
		{"a database of junk", &stalledUpload{prefix: header(backupDBNameForTest, 1<<29), fill: 'x'}, "does not begin as a database does (a postdeck database is a bbolt file"},
		{"a database declared larger than the bound", &stalledUpload{prefix: header(backupDBNameForTest, 1<<40)}, "a restore takes on this node (four times its database, at least 256 MiB"},
	} {
		c.upload.stallAt, c.upload.release = 64<<10, make(chan struct{})
		req, err := http.NewRequest("POST", "http://postdeck/api/v1/restore", io.NopCloser(c.upload)) // no length: chunked
		if err != nil {
			t.Fatal(err)
		}
		// The upload ends after a while (else a daemon that waits for its
		// end would never answer, and the client would wait for its
		// writer to stop, forever): the answer must come before that.
		var ended atomic.Bool
		stop := time.AfterFunc(10*time.Second, func() {
			ended.Store(true)
			close(c.upload.release)
		})
		resp, err := st.socketClient().Do(req)
		if stop.Stop() {
			close(c.upload.release)
		}
		if err != nil {
			t.Fatalf("%s: the restore was not answered: %v", c.name, err)
		}
		if ended.Load() {
			t.Errorf("%s: the restore was answered only after its upload ended", c.name)
		}
		raw, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		r := apiResponse{Status: resp.StatusCode, Body: raw}
		var e apiError
		r.decode(t, &e)
		if r.Status != 400 || e.Field != "file" || !strings.Contains(e.Error, c.want) {
			t.Fatalf("%s: restore answered %d %s, want a refusal saying %q", c.name, r.Status, raw, c.want)
		}
		checkSentence(t, c.name, e)
	}
	// The socket serves the next request (the refused upload's rest went
	// with its connection).
	if r := st.socketDo(t, "GET", "/api/v1/status", nil); r.Status != 200 {
		t.Fatalf("status after the refused restores: %d %s", r.Status, r.Body)
	}
}

// TestRestoreUploadRestIsNeverARequest: what a refused restore did not
// read of its upload is dropped with its connection, never read as the
// next request on it: an archive whose bytes after the refusal spell a
// request (here a harmless GET) gets one answer, the refusal.
func TestRestoreUploadRestIsNeverARequest(t *testing.T) {
	st := newStack(t)
	conn, err := net.Dial("unix", st.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := append(make([]byte, 1024), "GET /api/v1/status HTTP/1.1\r\nHost: postdeck\r\n\r\n"...)
	req := fmt.Sprintf("POST /api/v1/restore HTTP/1.1\r\nHost: postdeck\r\nContent-Type: application/x-tar\r\nContent-Length: %d\r\n\r\n", len(body))
	if _, err := conn.Write(append([]byte(req), body...)); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("the connection was not closed after the refusal: %v\n%s", err, raw)
	}
	if n := bytes.Count(raw, []byte("HTTP/1.1 ")); n != 1 || !bytes.HasPrefix(raw, []byte("HTTP/1.1 400")) || !bytes.Contains(raw, []byte("The backup holds no file")) {
		t.Fatalf("%d answers to one restore, want its refusal alone:\n%s", n, raw)
	}
}

// backupDBNameForTest is the database's name in a backup archive
// (admin's backupDBName).
const backupDBNameForTest = "postdeck.db"
