package mpa

import (
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// postfixReceived is the Received header Postfix puts on top of a message
// it queued as qid.
func postfixReceived(qid string) string {
	return "Received: from client.example.test (localhost [127.0.0.1])\r\n" +
		"\tby mx.gw.example.test (Postfix) with ESMTP id " + qid + "\r\n" +
		"\tfor <b@example.org>; Thu,  3 Dec 2026 10:00:00 +0000 (UTC)\r\n"
}

// queuedAs is the spool id in a 250 "Ok: queued as ID" reply.
func queuedAs(t *testing.T, reply string) string {
	t.Helper()
	_, id, ok := strings.Cut(reply, "queued as ")
	if !ok || id == "" {
		t.Fatalf("no spool id in %q", reply)
	}
	return strings.TrimSpace(id)
}

// Issue #15: a message Postfix sends again because the MPA died after the
// message was durable and before Postfix read the 250 is recognised by
// Postfix's first queue id (top Received header), the sender and each
// recipient: answered 250 with the earlier spool id and not delivered a
// second time, also after the first copy was delivered. Only the
// recipients not seen before are stored; another sender, another queue id
// or a message without Postfix's Received header on top is a new message.
// The crash test hits this only when a kill falls in that window; this
// shows it every run.
func TestResendRecognised(t *testing.T) {
	sink := postfixtest.NewSink(t, 0)
	ln := listenLocal(t)
	startTestServer(t, Config{Listener: ln, ReinjectAddr: sink.Addr, Hostname: "mpa.gw.example.test"})
	c := dialSMTP(t, ln.Addr().String())
	send := func(from string, to []string, raw string) string {
		t.Helper()
		c.expect("MAIL FROM:<"+from+">", 250, "")
		for _, r := range to {
			c.expect("RCPT TO:<"+r+">", 250, "")
		}
		return queuedAs(t, c.data(raw, 250, "2.0.0"))
	}
	const qid = "4Q8xYz1AbcdEfGh"
	first := postfixReceived(qid) + msgWithSubject("first")

	id := send("a@example.test", []string{"b@example.org"}, first)
	sink.Wait(t, 1, 10*time.Second)
	// Sent again after its delivery: the same spool id, nothing delivered.
	if again := send("a@example.test", []string{"b@example.org"}, first); again != id {
		t.Errorf("the message sent again was queued as %s, not as the earlier %s", again, id)
	}
	// Sent again with a recipient more: only that one is new.
	if mixed := send("a@example.test", []string{"b@example.org", "c@example.org"}, first); mixed == id {
		t.Errorf("a new recipient was answered with the earlier spool id %s, as if stored", id)
	}
	// New messages, each delivered: another sender of the same queue id,
	// another queue id, no Postfix Received header (twice).
	send("other@example.test", []string{"b@example.org"}, first)
	send("a@example.test", []string{"b@example.org"}, postfixReceived("4Q8xYz1Zzzzzzzz")+msgWithSubject("second"))
	plain := "Received: from x by y (Exim 4.96) id 1abcde-000000-AB; Thu, 3 Dec 2026 10:00:00 +0000\r\n" + msgWithSubject("plain")
	send("a@example.test", []string{"b@example.org"}, plain)
	send("a@example.test", []string{"b@example.org"}, plain)
	c.expect("QUIT", 221, "")

	sink.Wait(t, 6, 10*time.Second)
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive by now
	msgs := sink.Messages()
	type key struct{ from, to, subject string }
	got := map[key]int{}
	for _, m := range msgs {
		for _, to := range m.To {
			got[key{m.From, to, headerOf(m.Data, "Subject")}]++
		}
	}
	want := map[key]int{
		{"a@example.test", "b@example.org", "first"}:     1,
		{"a@example.test", "c@example.org", "first"}:     1,
		{"other@example.test", "b@example.org", "first"}: 1,
		{"a@example.test", "b@example.org", "second"}:    1,
		{"a@example.test", "b@example.org", "plain"}:     2,
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s -> %s %q delivered %d times, want %d", k.from, k.to, k.subject, got[k], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("deliveries %v, want %v", got, want)
	}
}
