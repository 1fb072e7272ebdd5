package webui

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPostfixWarningsReachTheConsole: a warning the real Postfix logs
// (smtpd's "non-SMTP command", here for an HTTP request line with markup
// in it, as a careless or hostile client sends) reaches an auditor through
// the API (GET /api/v1/postfix/log, as a warning), the Postfix log page
// and the dashboard's log card, escaped; the page of its own says which
// level it is. Issue #17: "Postfix's warnings ... from its log since,
// readable on a page of its own".
func TestPostfixWarningsReachTheConsole(t *testing.T) {
	st := newStack(t)
	c := st.login(t, "audit")
	probe := fmt.Sprintf("postdeck-probe-%d", rand.Uint64())
	if r := c.get("/mta/log"); r.Status != 200 || strings.Contains(string(r.Body), probe) {
		t.Fatalf("GET /mta/log before: %d", r.Status)
	}

	conn, err := net.DialTimeout("tcp", st.smtp, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	if greeting, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(greeting, "220") {
		t.Fatalf("greeting %q: %v", greeting, err)
	}
	if _, err := fmt.Fprintf(conn, "GET /<b>%s</b> HTTP/1.0\r\n", probe); err != nil {
		t.Fatal(err)
	}
	if answer, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(answer, "221") {
		t.Fatalf("smtpd's answer to an HTTP request line %q: %v", answer, err)
	}

	// postlogd writes the line shortly after smtpd logs it.
	var line string
	deadline := time.Now().Add(15 * time.Second)
	for line == "" {
		r := c.get("/api/v1/postfix/log?lines=50")
		if r.Status != 200 {
			t.Fatalf("GET /api/v1/postfix/log: %d %s", r.Status, r.Body)
		}
		var got struct {
			Items []struct {
				Level string `json:"level"`
				Text  string `json:"text"`
			} `json:"items"`
		}
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatalf("%v: %s", err, r.Body)
		}
		for _, it := range got.Items {
			if strings.Contains(it.Text, probe) {
				if it.Level != "warning" || !strings.Contains(it.Text, "non-SMTP command") {
					t.Fatalf("the probe's line: level %q, text %q", it.Level, it.Text)
				}
				line = it.Text
			}
		}
		if line == "" {
			if time.Now().After(deadline) {
				t.Fatalf("Postfix's warning never reached the API: %s", r.Body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !strings.Contains(line, "<b>"+probe+"</b>") {
		t.Fatalf("the API changed the logged text: %q", line)
	}

	escaped := "&lt;b&gt;" + probe + "&lt;/b&gt;"
	for _, p := range []struct{ path, where string }{{"/mta/log", `id="log-table"`}, {"/", `id="log-problems"`}} {
		r := c.get(p.path)
		page := string(r.Body)
		if r.Status != 200 || !strings.Contains(page, p.where) {
			t.Fatalf("GET %s: %d, no %s: %.300s", p.path, r.Status, p.where, page)
		}
		if strings.Contains(page, "<b>"+probe) {
			t.Fatalf("GET %s shows Postfix's log line unescaped", p.path)
		}
		if !strings.Contains(page[strings.Index(page, p.where):], escaped) {
			t.Fatalf("GET %s does not show the warning in %s", p.path, p.where)
		}
	}
}

// TestPostfixLogLevelIsPostfixs: a line is a warning when Postfix warns,
// not when its text says "warning: " further on. A sender chooses its
// address, which Postfix logs (qmgr's from=<...>); on a bad day a relay's
// replies ("said: 451 error: ...") fill the deferral lines. Here a real
// SMTP client sends mail from a quoted address that reads like a
// warning; the log has it, and neither the API nor the dashboard shows it
// among Postfix's warnings, while a warning Postfix logs afterwards is.
func TestPostfixLogLevelIsPostfixs(t *testing.T) {
	st := newStack(t)
	c := st.login(t, "audit")
	probe := fmt.Sprintf("postdeck-spoof-%d", rand.Uint64())
	conn, err := net.DialTimeout("tcp", st.smtp, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	say := func(cmd, want string) {
		t.Helper()
		if cmd != "" {
			if _, err := fmt.Fprintf(conn, "%s\r\n", cmd); err != nil {
				t.Fatal(err)
			}
		}
		for {
			line, err := br.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, want) {
				t.Fatalf("%q: %q %v", cmd, line, err)
			}
			if len(line) < 4 || line[3] != '-' {
				return
			}
		}
	}
	say("", "220")
	say("EHLO client.example", "250")
	say(`MAIL FROM:<"x warning: `+probe+` call us"@example.org>`, "250")
	say("RCPT TO:<r@remote.example.net>", "250")
	say("DATA", "354")
	say("Subject: spoof\r\n\r\nx\r\n.", "250")
	say("QUIT", "221")

	maillog := filepath.Join(st.inst.BaseDir, "maillog")
	deadline := time.Now().Add(15 * time.Second)
	for {
		raw, err := os.ReadFile(maillog)
		if err == nil && strings.Contains(string(raw), probe) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sender never reached Postfix's log (%v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A warning Postfix logs after it: once it shows, the log was read
	// past the sender's line.
	warn := fmt.Sprintf("postdeck-probe-%d", rand.Uint64())
	conn2, err := net.DialTimeout("tcp", st.smtp, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	_ = conn2.SetDeadline(time.Now().Add(10 * time.Second))
	br2 := bufio.NewReader(conn2)
	if greeting, err := br2.ReadString('\n'); err != nil || !strings.HasPrefix(greeting, "220") {
		t.Fatalf("greeting %q: %v", greeting, err)
	}
	if _, err := fmt.Fprintf(conn2, "GET /%s HTTP/1.0\r\n", warn); err != nil {
		t.Fatal(err)
	}
	if answer, err := br2.ReadString('\n'); err != nil || !strings.HasPrefix(answer, "221") {
		t.Fatalf("smtpd's answer to an HTTP request line %q: %v", answer, err)
	}
	for {
		r := c.get("/api/v1/postfix/log?lines=1000")
		if r.Status != 200 {
			t.Fatalf("GET /api/v1/postfix/log: %d %s", r.Status, r.Body)
		}
		body := string(r.Body)
		if strings.Contains(body, warn) {
			if strings.Contains(body, probe) {
				t.Fatalf("the sender's address is listed as Postfix's warning: %s", body)
			}
			break
		}
		if time.Now().After(deadline.Add(15 * time.Second)) {
			t.Fatalf("Postfix's warning never reached the API: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := c.get("/"); r.Status != 200 || strings.Contains(string(r.Body), probe) {
		t.Fatalf("GET /: %d; the dashboard lists the sender's address among Postfix's warnings", r.Status)
	}
}
