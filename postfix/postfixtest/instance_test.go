package postfixtest

import (
	"net/smtp"
	"strings"
	"testing"
	"time"
)

// TestInstanceRelaysToSink shows the harness itself works: a private
// instance accepts a message and relays it to a sink.
func TestInstanceRelaysToSink(t *testing.T) {
	sink := NewSink(t, 0)
	inst := Start(t, Options{RelayPort: sink.Port})
	if got := inst.Postconf(t, "myhostname"); got != "mx.gw.example.test" {
		t.Fatalf("myhostname = %q", got)
	}
	err := smtp.SendMail(inst.SMTPAddr, nil, "a@example.test", []string{"b@example.org"},
		[]byte("Subject: hi\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	msgs := sink.Wait(t, 1, 20*time.Second)
	if msgs[0].From != "a@example.test" || len(msgs[0].To) != 1 || msgs[0].To[0] != "b@example.org" {
		t.Fatalf("envelope: %+v", msgs[0])
	}
	if !strings.Contains(string(msgs[0].Data), "hello") {
		t.Fatalf("body: %q", msgs[0].Data)
	}
}

// TestFreePortNeverTwice: two listeners a test asks ports for before
// either binds must not get the same port. 2,000 picks out of about
// 12,000 ports would repeat one about 150 times if picks were independent.
func TestFreePortNeverTwice(t *testing.T) {
	seen := make(map[int]bool)
	for range 2000 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}
