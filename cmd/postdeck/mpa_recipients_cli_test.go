package main

import (
	"encoding/json"
	"fmt"
	"net/smtp"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// TestCLIMPAErrorsShowFewRecipients: a row of `mpa errors` printed every
// recipient of its message, a wall of text for a message to a thousand;
// it prints the first three and "and N more". `mpa error show ID` and
// --json keep every one.
func TestCLIMPAErrorsShowFewRecipients(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	smtpPort := postfixtest.FreePort(t)
	d := startDaemon(t, bin, base, smtpPort)
	ok := func(stdin string, args ...string) string {
		t.Helper()
		return d.mustCLIIn(t, bin, stdin, args...)
	}
	// A template that fails for this message: it goes to the error
	// repository.
	ok(`{"rules": "recipient * footer f\n", "templates": [{"name": "f", "text": "{{if eq .Subject \"boom\"}}{{.Department}}{{end}}"}]}`,
		"mpa", "pipeline", "set", "-")
	const n = 12
	c, err := smtp.Dial("127.0.0.1:" + strconv.Itoa(smtpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("many@example.org"); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := c.Rcpt(fmt.Sprintf("r%02d@example.net", i)); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("Subject: boom\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.Quit()

	var id string
	deadline := time.Now().Add(60 * time.Second)
	for id == "" {
		var res struct {
			Items []struct {
				ID         string   `json:"id"`
				Recipients []string `json:"recipients"`
			} `json:"items"`
		}
		out := ok("", "mpa", "errors", "--json")
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("mpa errors --json: %v\n%s", err, out)
		}
		if len(res.Items) == 1 && len(res.Items[0].Recipients) == n {
			id = res.Items[0].ID
		} else if time.Now().After(deadline) {
			t.Fatalf("no error-repository entry with %d recipients: %s\n%s", n, out, d.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	table := ok("", "mpa", "errors")
	if !strings.Contains(table, "r00@example.net,r01@example.net,r02@example.net and 9 more") || strings.Contains(table, "r03@") {
		t.Errorf("mpa errors, want three recipients and 9 more:\n%s", table)
	}
	show := ok("", "mpa", "error", "show", id)
	if !strings.Contains(show, "r00@example.net,") || !strings.Contains(show, ",r11@example.net") {
		t.Errorf("mpa error show, want every recipient:\n%s", show)
	}
}
