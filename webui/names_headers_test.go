package webui

import (
	"net/http"
	"strings"
	"testing"
)

// TestLongHeadersReachTheAPI: a request whose line and headers are over
// fasthttp's default 4 KiB buffer (a long cookie, a long name in the path)
// but within what the web process forwards (webproxy's MaxHeaderBytes,
// 64 KiB) is answered by its route: it was a 431 with an HTML page, also
// under /api/, where every error is {"error": "..."}. Over the daemon's
// own buffer, where the request cannot be read far enough to know its
// path (only on the root socket, whose clients are the CLI and scripts),
// the 431 is a JSON sentence.
func TestLongHeadersReachTheAPI(t *testing.T) {
	st := newStack(t)
	long := strings.Repeat("a", 8<<10)
	// Through the web process, as a browser or script on the network.
	addr := strings.TrimPrefix(st.base, "http://")
	status, ctype, body := rawSocket(t, "tcp", addr, "GET /api/v1/status HTTP/1.1\r\nHost: postdeck\r\nX-Filler: "+long+"\r\nConnection: close\r\n\r\n")
	if got := apiErrorText(body); status != http.StatusUnauthorized || got != "Log in first." {
		t.Errorf("API request with an 8 KiB header through the web process: %d %s %.300s", status, ctype, body)
	}
	// A 6 KiB path (the web process takes up to 8 KiB), logged in.
	cookie := st.login(t, "admin").sessionCookie()
	name := strings.Repeat("b", 6<<10)
	status, ctype, body = rawSocket(t, "tcp", addr, "GET /api/v1/maps/"+name+" HTTP/1.1\r\nHost: postdeck\r\nCookie: "+cookie+"\r\nConnection: close\r\n\r\n")
	if got := apiErrorText(body); status != http.StatusNotFound || !strings.HasPrefix(got, "Map bbbb") || !strings.HasSuffix(got, " does not exist.") {
		t.Errorf("API request with a 6 KiB path through the web process: %d %s %.300s", status, ctype, body)
	}
	// On the root socket.
	status, ctype, body = rawSocket(t, "unix", st.socket, "GET /api/v1/maps/x HTTP/1.1\r\nHost: postdeck\r\nX-Filler: "+long+"\r\nConnection: close\r\n\r\n")
	if got := apiErrorText(body); status != http.StatusNotFound || got != "Map x does not exist." {
		t.Errorf("socket request with an 8 KiB header: %d %s %.300s", status, ctype, body)
	}
	huge := strings.Repeat("a", readBufferSize)
	status, ctype, body = rawSocket(t, "unix", st.socket, "GET /api/v1/maps/x HTTP/1.1\r\nHost: postdeck\r\nX-Filler: "+huge+"\r\nConnection: close\r\n\r\n")
	if got := apiErrorText(body); status != http.StatusRequestHeaderFieldsTooLarge || !strings.HasPrefix(got, "The request's line and headers are larger than") {
		t.Errorf("socket request over the daemon's buffer: %d %s %.300s", status, ctype, body)
	}
}
