package webproxy

import (
	"bytes"
	"compress/gzip"
	"strconv"
	"strings"
	"testing"
)

// TestRefusesCompressedBody: a body with a Content-Encoding other than
// identity is a 415 from the web process, never forwarded (the daemon's
// fiber would inflate it without bound; the daemon refuses it too).
// identity, or an empty header, is a plain body and goes through.
func TestRefusesCompressedBody(t *testing.T) {
	up := newUpstream(t)
	addr := startProxy(t, New(Config{Socket: up.socket}))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write([]byte(`{"username": "admin", "password": "` + strings.Repeat("a", 1<<16) + `"}`)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	body := gz.String()
	const sentence = "Compressed request bodies are not accepted; send the body uncompressed."
	const jsonAnswer = `{"error": "` + sentence + "\"}\n"
	for _, tc := range []struct{ name, path, headers, want string }{
		{"gzip", "/api/v1/login", "Content-Encoding: gzip\r\n", jsonAnswer},
		{"upper case", "/api/v1/login", "content-encoding: GZIP\r\n", jsonAnswer},
		{"after identity", "/api/v1/login", "Content-Encoding: identity, br\r\n", jsonAnswer},
		{"second header", "/api/v1/login", "Content-Encoding: identity\r\nContent-Encoding: deflate\r\n", jsonAnswer},
		{"page", "/login", "Content-Encoding: gzip\r\n", sentence + "\n"},
	} {
		status, answer := raw(t, addr, "POST "+tc.path+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+tc.headers+
			"Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
		if !strings.HasPrefix(status, "HTTP/1.1 415") || !strings.HasSuffix(answer, "\r\n\r\n"+tc.want) {
			t.Errorf("%s: %q, want 415 and the sentence", tc.name, answer)
		}
	}
	if n := up.count(); n != 0 {
		t.Fatalf("%d compressed requests reached the daemon", n)
	}
	for _, enc := range []string{"identity", "", "Identity "} {
		status, answer := raw(t, addr, "POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Encoding: "+enc+"\r\nContent-Length: 2\r\n\r\n{}")
		if !strings.HasPrefix(status, "HTTP/1.1 201") {
			t.Errorf("Content-Encoding %q: %q, want it forwarded", enc, answer)
		}
	}
	if _, got := up.last(t); got != "{}" {
		t.Errorf("forwarded body %q", got)
	}
}
