package mpa

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// The per-message path writes by hand what it once formatted with fmt
// (issue #15, CPU per message); these pin the output to the old formulas.

func TestAppendHexMatchesFmt(t *testing.T) {
	for _, v := range []uint64{0, 1, 0xf, 0x10, 0xffff, 0x10000, 0x63f1e2d3c4b5a, math.MaxInt64, math.MaxUint64} {
		for _, w := range []int{4, 14} {
			if got, want := string(appendHex([]byte("x"), v, w)), fmt.Sprintf("x%0*x", w, v); got != want {
				t.Errorf("appendHex(%#x, %d) = %q, want %q", v, w, got, want)
			}
		}
	}
	b := &bodies{nonce: "beef"}
	id := b.newID()
	var micro, seq uint64
	if n, err := fmt.Sscanf(id, "%14x", &micro); n != 1 || err != nil || len(id) != 22 || id[14:18] != "beef" {
		t.Fatalf("newID() = %q: not 14 hex digits, the nonce and 4 hex digits", id)
	}
	if _, err := fmt.Sscanf(id[18:], "%4x", &seq); err != nil || id != fmt.Sprintf("%014x%s%04x", micro, "beef", seq) || seq != 1 {
		t.Fatalf("newID() = %q, not the format %%014x%%s%%04x with sequence 1", id)
	}
}

func TestTraceValueMatchesFormat(t *testing.T) {
	when := time.Date(2026, 12, 6, 18, 4, 5, 0, time.FixedZone("x", 3600))
	for _, env := range []store.MPAEnvelope{
		{Helo: "mx.example.test", Client: "127.0.0.1:2525", Recipients: []store.MPARecipient{{Address: "b@example.org"}}},
		{Recipients: []store.MPARecipient{{Address: "b@example.org"}, {Address: "c@example.org"}}},
		{Helo: "h", SMTPUTF8: true, Recipients: []store.MPARecipient{{Address: "ü@example.org"}}},
	} {
		m := ParseMessage([]byte("Subject: s\r\n\r\nbody\r\n"))
		m.SpoolID, m.Received, m.Envelope = "0123id", when, env
		if err := (traceProcessor{hostname: "gw.example.test"}).Process(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		from := env.Helo
		if from == "" {
			from = "unknown"
		}
		if env.Client != "" {
			from += " (" + env.Client + ")"
		}
		forPart, with := "", "ESMTP"
		if len(env.Recipients) == 1 {
			forPart = " for <" + env.Recipients[0].Address + ">"
		}
		if env.SMTPUTF8 {
			with = "UTF8SMTP"
		}
		want := fmt.Sprintf("Received: from %s by %s (postdeck MPA) with %s id %s%s; %s\r\n",
			from, "gw.example.test", with, "0123id", forPart, when.Format(time.RFC1123Z))
		if got := string(m.Header.Fields[0].Raw); got != want {
			t.Errorf("trace for %+v:\n got %q\nwant %q", env, got, want)
		}
	}
}

func TestEncodedLenAndBytes(t *testing.T) {
	for _, raw := range []string{
		"", "Subject: s", "Subject: s\r\n", "Subject: s\r\n\r\n", "Subject: s\r\n\r\nbody",
		"A: 1\nB: 2\n folded\n\nbody\n", "no header line\r\nbody\r\n", "From x\r\nA: 1\r\n\r\n\r\n",
	} {
		for _, edit := range []bool{false, true} {
			m := ParseMessage([]byte(raw))
			if edit {
				m.Header.Set(TraceHeader, "id", m.NL)
				m.Header.Prepend("Received", "x", m.NL)
			}
			enc := m.Header.encode(m.NL, len(m.Body) > 0)
			if n := m.Header.encodedLen(m.NL, len(m.Body) > 0); n != len(enc) {
				t.Errorf("%q (edited %v): encodedLen %d, encode writes %d", raw, edit, n, len(enc))
			}
			if got, want := string(m.Bytes()), string(enc)+string(m.Body); got != want {
				t.Errorf("%q (edited %v): Bytes %q, want %q", raw, edit, got, want)
			}
			if !edit && string(m.Bytes()) != raw {
				t.Errorf("%q: unchanged message comes out as %q", raw, m.Bytes())
			}
		}
	}
}

func TestGroupsFastPathsMatchPartition(t *testing.T) {
	rcpts := func(addrs ...string) store.MPAEnvelope {
		env := store.MPAEnvelope{Sender: "a@example.test"}
		for _, a := range addrs {
			env.Recipients = append(env.Recipients, store.MPARecipient{Address: a})
		}
		return env
	}
	noRules := &rulesProcessor{}
	if g := noRules.Groups(rcpts("b@x.test", "c@y.test", "d@x.test")); !reflect.DeepEqual(g, [][]int{{0, 1, 2}}) {
		t.Errorf("no rules: groups %v, want one of all", g)
	}
	if g := noRules.Groups(rcpts()); g != nil {
		t.Errorf("no recipients: groups %v, want none", g)
	}
	rules, err := parseRules("recipient @x.test header X-A: 1\n")
	if err != nil {
		t.Fatal(err)
	}
	p := &rulesProcessor{rules: rules}
	if g := p.Groups(rcpts("b@x.test", "c@y.test", "d@x.test")); !reflect.DeepEqual(g, [][]int{{0, 2}, {1}}) {
		t.Errorf("rules: groups %v, want [[0 2] [1]]", g)
	}
	a := [][]int{{0, 2}, {1}}
	if got := refine(a, [][]int{{0, 1, 2}}); !reflect.DeepEqual(got, a) {
		t.Errorf("refine by one group: %v, want %v", got, a)
	}
	if got := refine([][]int{{}}, [][]int{{}}); len(got) != 0 {
		t.Errorf("refine of empty groups: %v, want none", got)
	}
	if got := refine([][]int{{0, 1, 2}}, [][]int{{0, 2}, {1}}); !reflect.DeepEqual(got, [][]int{{0, 2}, {1}}) {
		t.Errorf("refine: %v", got)
	}
}

// TestIdleReinjectionConnectionClosedEachTime: a worker keeps one timer
// for its idle wait (reset for every wait rather than made anew); its
// reinjection connection still closes after IdleTimeout each time it
// goes idle, not only the first, and the next message opens a new one.
func TestIdleReinjectionConnectionClosedEachTime(t *testing.T) {
	sink := postfixtest.NewSink(t, 0)
	// A proxy in front of the sink reports each connection the MPA opens
	// and each one it closes.
	proxy := listenLocal(t)
	opened, closed := make(chan struct{}, 8), make(chan struct{}, 8)
	go func() {
		for {
			c, err := proxy.Accept()
			if err != nil {
				return
			}
			opened <- struct{}{}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", sink.Addr)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(c, up) }()
				_, _ = io.Copy(up, c) // until the MPA closes its side
				closed <- struct{}{}
			}()
		}
	}()
	mpaLn := listenLocal(t)
	startTestServer(t, Config{Listener: mpaLn, ReinjectAddr: proxy.Addr().String(), Hostname: "mpa.gw.example.test",
		Workers: 1, IdleTimeout: 100 * time.Millisecond})
	body := "From: a@example.test\r\nTo: b@example.org\r\nSubject: idle\r\n\r\nhello\r\n"
	for round := 1; round <= 3; round++ {
		c, err := gosmtp.Dial(mpaLn.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SendMail("a@example.test", []string{"b@example.org"}, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		_ = c.Quit()
		sink.Wait(t, round, 30*time.Second)
		for what, ch := range map[string]chan struct{}{"opened": opened, "closed": closed} {
			select {
			case <-ch:
			case <-time.After(30 * time.Second):
				t.Fatalf("round %d: no reinjection connection %s (idle timeout 100ms)", round, what)
			}
		}
	}
}
