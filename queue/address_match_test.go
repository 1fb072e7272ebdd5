package queue

import (
	"testing"
	"time"
)

// A Sender or Recipient filter that starts with "@" is one domain, whole:
// on a bad day an action by "@partner.example" must not take the mail of
// partner.example.net; other values match any part of the address.
func TestAddressFilterDomain(t *testing.T) {
	for _, c := range []struct {
		addr, v string
		want    bool
	}{
		{"user@partner.example", "@partner.example", true},
		{"USER@Partner.Example", "@partner.EXAMPLE", true},
		{"user@partner.example.net", "@partner.example", false},
		{"user@mail.partner.example", "@partner.example", false},
		{"partner.example", "@partner.example", false},
		{"@partner.example", "@partner.example", true},
		{"user@partner.example.net", "partner.example", true}, // no "@": any part
		{"user@partner.example", "user@partner", true},
		{"MAILER-DAEMON", "mailer", true},
		{"x@ü.example", "@Ü.example", true},
	} {
		if got := addressMatch(c.addr, c.v); got != c.want {
			t.Errorf("addressMatch(%q, %q) = %v, want %v", c.addr, c.v, got, c.want)
		}
	}
	e := queueEntry{sender: "ops@partner.example.net", rcpts: []Recipient{{Address: "a@partner.example.net"}, {Address: "b@elsewhere.example"}}}
	for _, c := range []struct {
		f    Filter
		want bool
	}{
		{Filter{Recipient: "@partner.example"}, false},
		{Filter{Recipient: "@partner.example.net"}, true},
		{Filter{Recipient: "@ELSEWHERE.example"}, true},
		{Filter{Sender: "@partner.example"}, false},
		{Filter{Sender: "@partner.example.net"}, true},
		{Filter{Q: "@partner.example"}, true}, // Search stays any part
	} {
		m := newMatcher(c.f, time.Now())
		if got := m.match(&e); got != c.want {
			t.Errorf("filter %+v on %+v: %v, want %v", c.f, e, got, c.want)
		}
	}
}
