package queue

import (
	"context"
	"fmt"
	"log/slog"
	"net/smtp"
	"slices"
	"strings"
	"testing"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
)

// qtSendRaw submits header lines (CRLF added) and a body with a real
// SMTP client.
func qtSendRaw(t *testing.T, addr, from string, to []string, headers []string, body string) {
	t.Helper()
	msg := strings.Join(headers, "\r\n") + "\r\n\r\n" + body + "\r\n"
	if err := smtp.SendMail(addr, nil, from, to, []byte(msg)); err != nil {
		t.Fatalf("send from %s: %v", from, err)
	}
}

// TestQueueSubjects is issue #17's readable queue, against Postfix's own
// queue files: the index lists each message's Subject decoded (encoded
// words, folding, a line longer than line_length_limit, control
// characters and bidi overrides, raw 8-bit text, a Subject after more
// headers than the index reads, none at all), the free-text filter finds
// subjects, and the message view shows the whole subject and each
// recipient with its own delay reason; without the index subjects are
// empty and the message view still has the reasons.
func TestQueueSubjects(t *testing.T) {
	// slow.test goes to another closed port: its recipient is deferred
	// with another reason than the closed relay's.
	slowPort := postfixtest.FreePort(t)
	e := qtStartCF(t, 0, fmt.Sprintf("transport_maps = inline:{slow.test=smtp:[127.0.0.1]:%d}\n", slowPort))
	slowReason := fmt.Sprintf("127.0.0.1[127.0.0.1]:%d: Connection refused", slowPort)
	addr := e.inst.SMTPAddr
	var filler []string
	for i := range 20 {
		filler = append(filler, fmt.Sprintf("X-Filler-%d: %s", i, strings.Repeat("f", 900)))
	}
	folded, unfolded := "Subject: start", "start"
	for range 60 {
		folded += "\r\n " + strings.Repeat("w", 70)
		unfolded += " " + strings.Repeat("w", 70)
	}
	cases := []struct {
		from    string
		headers []string
		list    string // the listing's subject
		view    string // the message view's, when it differs
	}{
		{"encoded@s.test", []string{"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=", "\t=?iso-8859-1?q?_aus_M=FCnchen?= =?koi8-r?b?8NLJ18XU?="}, "Grüße aus MünchenПривет", ""},
		{"long@s.test", []string{"Subject: " + strings.Repeat("long ", 600)}, strings.Repeat("long ", 23) + "long…", ""},
		{"folded@s.test", []string{folded}, unfolded[:SubjectListMax] + "…", ""},
		{"unsafe@s.test", []string{"Subject: =?utf-8?q?pay=E2=80=AEfdp.exe_=1B[2J_=00nul?="}, "pay\uFFFDfdp.exe \uFFFD[2J \uFFFDnul", ""},
		{"raw8bit@s.test", []string{"Subject: Caf\xe9 \xc3\xa9t\xc3\xa9"}, "Caf\uFFFD été", ""},
		{"malformed@s.test", []string{"Subject: =?utf-8?q?no end =?bogus?x?y?="}, "=?utf-8?q?no end =?bogus?x?y?=", ""},
		{"late@s.test", append(filler, "Subject: after 18 KB of headers"), "", "after 18 KB of headers"},
		{"none@s.test", []string{"X-No-Subject: yes"}, "", ""},
	}
	for _, c := range cases {
		qtSendRaw(t, addr, c.from, []string{"r1@dest.test", "r2@slow.test"}, append([]string{"From: <" + c.from + ">", "To: <r1@dest.test>"}, c.headers...), "body of "+c.from)
	}
	e.qtWaitFor(t, "every message deferred with both reasons", func(all map[string]jsonMessage) bool {
		n := 0
		for _, m := range all {
			if m.QueueName == Deferred && len(m.Recipients) == 2 && m.Recipients[0].DelayReason != "" && m.Recipients[1].DelayReason != "" {
				n++
			}
		}
		return n == len(cases)
	})
	page := e.qtList(t, Filter{Limit: 100})
	bySender := map[string]Message{}
	for _, m := range page.Items {
		bySender[m.Sender] = m
	}
	for _, c := range cases {
		m, ok := bySender[c.from]
		if !ok {
			t.Fatalf("%s not listed", c.from)
		}
		if m.Subject != c.list {
			t.Errorf("%s: listed subject %q, want %q", c.from, m.Subject, c.list)
		}
		v, err := e.q.Show(context.Background(), m.QueueID)
		if err != nil {
			t.Fatal(err)
		}
		want := c.view
		if want == "" {
			want = c.list
		}
		if c.from == "long@s.test" {
			if !strings.HasPrefix(v.Subject, strings.Repeat("long ", 199)) || !strings.HasSuffix(v.Subject, "long…") || len([]rune(v.Subject)) > subjectViewMax+1 {
				t.Errorf("%s: view subject %q", c.from, v.Subject)
			}
		} else if c.from == "folded@s.test" {
			if !strings.HasPrefix(unfolded, strings.TrimSuffix(v.Subject, "…")) || len(v.Subject) < subjectViewMax {
				t.Errorf("%s: view subject %q", c.from, v.Subject)
			}
		} else if v.Subject != want {
			t.Errorf("%s: view subject %q, want %q", c.from, v.Subject, want)
		}
		// Each recipient with its own reason.
		reasons := map[string]string{}
		for _, r := range v.QueuedRecipients {
			reasons[r.Address] = r.DelayReason
		}
		if len(reasons) != 2 || !strings.Contains(reasons["r1@dest.test"], "Connection refused") || !strings.Contains(reasons["r2@slow.test"], slowReason) || reasons["r1@dest.test"] == reasons["r2@slow.test"] {
			t.Errorf("%s: queued recipients %+v", c.from, v.QueuedRecipients)
		}
	}

	// q finds subjects (decoded, case ignored) and still finds the rest.
	for q, want := range map[string]string{"münchen": "encoded@s.test", "пРИВЕТ": "encoded@s.test", "fdp.exe": "unsafe@s.test", "été": "raw8bit@s.test"} {
		p := e.qtList(t, Filter{Q: q})
		if p.Total != 1 || p.Items[0].Sender != want {
			t.Errorf("q=%q: %d messages %v, want %s", q, p.Total, qtIDs(p), want)
		}
	}
	if p := e.qtList(t, Filter{Q: "after 18 KB"}); p.Total != 0 {
		t.Errorf("a subject the index did not read was matched: %v", qtIDs(p))
	}
	// An action by filter matches subjects as the listing does.
	res := e.qtActFilter(t, ActionHold, Filter{Q: "münchen"})
	if res.Requested != 1 || res.Affected != 1 {
		t.Errorf("hold by subject: %+v", res)
	}
	e.qtWaitFor(t, "the held message", func(all map[string]jsonMessage) bool {
		return qtIn(all, Hold, bySender["encoded@s.test"].QueueID)
	})

	// Without the index (postqueue -j): no subjects, the reasons still.
	p := postfix.Runner{SbinDir: postfixtest.SbinDir, ConfigDir: e.inst.ConfigDir}
	bare := New(p, slog.New(slog.DiscardHandler))
	bp, err := bare.List(context.Background(), Filter{Limit: 100})
	if err != nil || bp.Total != len(cases) {
		t.Fatalf("postqueue -j listing: %d %v", bp.Total, err)
	}
	for _, m := range bp.Items {
		if m.Subject != "" {
			t.Errorf("%s: a subject without the index: %q", m.QueueID, m.Subject)
		}
	}
	if bp, _ := bare.List(context.Background(), Filter{Q: "münchen"}); bp.Total != 0 {
		t.Errorf("q matched a subject without the index")
	}
	v, err := bare.Show(context.Background(), bySender["none@s.test"].QueueID)
	if err != nil || len(v.QueuedRecipients) != 2 || !slices.ContainsFunc(v.QueuedRecipients, func(r Recipient) bool { return strings.Contains(r.DelayReason, slowReason) }) {
		t.Errorf("message view without the index: %+v %v", v.QueuedRecipients, err)
	}
}
