package webui

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestSessionRoute: GET /api/v1/session says who the caller is and renews
// a console session: asked every second, a session with a 4 s idle
// timeout lasts past it; left alone, it ends (401). The pages of a
// session carry how often the console's script renews it while its user
// types (a third of the timeout, at least a second).
func TestSessionRoute(t *testing.T) {
	if got := keepaliveEvery(30 * time.Minute); got != 10*time.Minute {
		t.Errorf("keepaliveEvery(30m) = %s", got)
	}
	if got := keepaliveEvery(time.Second); got != time.Second {
		t.Errorf("keepaliveEvery(1s) = %s", got)
	}
	st := newStackWith(t, stackOptions{SessionIdle: 4 * time.Second})
	var who sessionAnswer
	r := st.socketDo(t, "GET", "/api/v1/session", nil)
	if r.Status != 200 || json.Unmarshal(r.Body, &who) != nil || who != (sessionAnswer{Name: "root", Role: "admin", Via: "socket"}) {
		t.Errorf("GET /api/v1/session on the socket: %d %s", r.Status, r.Body)
	}
	c := st.login(t, "oper")
	if page := c.get("/"); page.Status != 200 || !strings.Contains(string(page.Body), `<body class="app" data-keepalive-ms="1333">`) {
		t.Errorf("dashboard: %d, no keepalive interval of 1333 ms on its body", page.Status)
	}
	for i := range 6 {
		time.Sleep(time.Second)
		r := c.get("/api/v1/session")
		if r.Status != 200 || json.Unmarshal(r.Body, &who) != nil || who != (sessionAnswer{Name: "oper", Role: "operator", Via: "session", IdleSeconds: 4}) {
			t.Fatalf("GET /api/v1/session, %d s after login: %d %s", i+1, r.Status, r.Body)
		}
	}
	time.Sleep(5 * time.Second)
	if r := c.get("/api/v1/session"); r.Status != 401 {
		t.Errorf("GET /api/v1/session after 5 s alone: %d %s, want 401", r.Status, r.Body)
	}
}
