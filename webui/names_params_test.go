package webui

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawSocket sends one request exactly as written (a path Go's client would
// refuse to send, a header over a limit) to the daemon at network, addr
// and returns the answer's status, Content-Type and body.
func rawSocket(t *testing.T, network, addr, req string) (int, string, string) {
	t.Helper()
	conn, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header.Get("Content-Type"), string(body)
}

// apiErrorText is the sentence of an API error answer ("" if the body is
// no such JSON).
func apiErrorText(body string) string {
	var e apiError
	if json.Unmarshal([]byte(body), &e) != nil {
		return ""
	}
	return e.Error
}

// TestRouteNamesAreUnescaped: a name in the path (a map, a user) is the
// name the client meant, not its percent-encoding: `postdeck maps get
// "a/b"` (the CLI escapes it as a%2Fb) was answered "Map a%2Fb does not
// exist."; the name checks, the audit log and the console's pages take
// the unescaped name, and
// an invalid escape is a 400 that names the parameter.
func TestRouteNamesAreUnescaped(t *testing.T) {
	st := newStack(t)
	for path, want := range map[string]string{
		"/api/v1/maps/a%2Fb": "Map a/b does not exist.",
		"/api/v1/maps/%20x":  "Map  x does not exist.",
	} {
		res := st.socketDo(t, "GET", path, nil)
		if got := apiErrorText(string(res.Body)); res.Status != 404 || got != want {
			t.Errorf("GET %s: %d %s, want 404 %q", path, res.Status, res.Body, want)
		}
	}
	// An escaped name finds the map it names.
	var doc struct {
		Name string `json:"name"`
	}
	res := st.socketDo(t, "GET", "/api/v1/maps/tls%2Dpolicy", nil)
	if res.Status != 200 {
		t.Fatalf("GET tls%%2Dpolicy: %d %s", res.Status, res.Body)
	}
	res.decode(t, &doc)
	if doc.Name != "tls-policy" {
		t.Errorf("GET tls%%2Dpolicy answered map %q", doc.Name)
	}
	// The user's name is checked and recorded as meant.
	res = st.socketDo(t, "DELETE", "/api/v1/users/no%2Done", nil)
	if got := apiErrorText(string(res.Body)); res.Status != 404 || !strings.Contains(got, "no-one") {
		t.Errorf("DELETE user no%%2Done: %d %s", res.Status, res.Body)
	}
	res = st.socketDo(t, "DELETE", "/api/v1/users/Bad%20Name", nil)
	if got := apiErrorText(string(res.Body)); res.Status != 400 || !strings.HasPrefix(got, "Username must be") {
		t.Errorf("DELETE user Bad%%20Name: %d %s, want the name check's 400", res.Status, res.Body)
	}
	entries, err := st.db.ListAudit(2)
	if err != nil || len(entries) != 2 || !strings.Contains(entries[0].Action+entries[1].Action, "user no-one") {
		t.Errorf("the audit entry of the refused deletion: %+v %v", entries, err)
	}
	// The console's pages take the name as meant too.
	admin := st.login(t, "admin")
	if page := admin.get("/mta/maps/tls%2Dpolicy"); page.Status != 200 || !strings.Contains(string(page.Body), "tls-policy") {
		t.Errorf("the console's page of tls%%2Dpolicy: %d", page.Status)
	}
	// An invalid escape is refused, naming what is wrong.
	status, _, body := rawSocket(t, "unix", st.socket, "GET /api/v1/maps/a%zz HTTP/1.1\r\nHost: postdeck\r\nConnection: close\r\n\r\n")
	if got := apiErrorText(body); status != 400 || !strings.HasPrefix(got, "The name in the request's path is not valid percent-encoding") {
		t.Errorf("GET a%%zz: %d %s", status, body)
	}
}
