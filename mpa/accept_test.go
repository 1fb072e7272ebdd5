package mpa

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// Acceptance 1: mail through Postfix -> MPA -> Postfix -> sink carries the
// trace header and the rule's footer in the right MIME parts; an S/MIME
// signed message arrives byte-identical in its signed part; recipients
// under different rules get separate copies.
func TestAcceptanceMIMEFooterThroughPostfix(t *testing.T) {
	r := startRig(t)
	s, _ := r.startMPA(t, Config{})
	ctx := context.Background()
	err := s.PutPipeline(ctx, store.MPAPipeline{Processors: []string{"trace", "rules"},
		Rules:     "recipient example.org footer disclaimer\nrecipient example.org subject [EXT]\n",
		Templates: []store.MPATemplate{{Name: "disclaimer", Text: "Footer: sent by {{.Sender}}"}}})
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string]string{"plain": msgPlain, "html": msgHTML, "alt": msgAlternative, "mixed": msgMixed, "signed": msgSigned}
	for _, raw := range samples {
		r.send(t, "a@example.test", []string{"b@example.org"}, raw)
	}
	r.send(t, "a@example.test", []string{"b@example.org", "c@other.test"}, strings.Replace(msgPlain, "Subject: plain", "Subject: split", 1))
	msgs := r.sink.Wait(t, 7, 30*time.Second)
	bySubject := map[string][]byte{}
	for _, m := range msgs {
		if !strings.Contains(string(m.Data), "(postdeck MPA) with ESMTP id ") || headerOf(m.Data, TraceHeader) == "" {
			t.Errorf("no trace headers in %q", m.Data[:min(400, len(m.Data))])
		}
		bySubject[headerOf(m.Data, "Subject")+" "+strings.Join(m.To, ",")] = m.Data
	}
	const footer = "Footer: sent by a@example.test"
	for name, want := range map[string][]string{
		"[EXT] plain b@example.org": {"text/plain"},
		"[EXT] html b@example.org":  {"text/html"},
		"[EXT] alt b@example.org":   {"text/plain", "text/html"},
		"[EXT] mixed b@example.org": {"text/plain", "text/html"},
		"[EXT] split b@example.org": {"text/plain"},
	} {
		data, ok := bySubject[name]
		if !ok {
			t.Errorf("no message %q; got %v", name, keys(bySubject))
			continue
		}
		parts := textParts(t, data)
		for _, ct := range want {
			if !strings.Contains(parts[ct], footer) {
				t.Errorf("%s: %s part lacks the footer: %q", name, ct, parts[ct])
			}
		}
		if name == "[EXT] mixed b@example.org" && !strings.Contains(string(data), "\r\n\r\nattached text\r\n--MIX\r\n") {
			t.Errorf("mixed: attachment changed")
		}
	}
	if data, ok := bySubject["split c@other.test"]; !ok || strings.Contains(string(data), "Footer:") {
		t.Errorf("the other.test copy is missing or has the footer: %v", keys(bySubject))
	}
	signed, ok := bySubject["[EXT] signed b@example.org"]
	if !ok {
		t.Fatalf("signed message missing: %v", keys(bySubject))
	}
	if !bytes.Equal(bodyOf(signed), bodyOf([]byte(msgSigned))) {
		t.Errorf("signed body changed:\n%s\nwant:\n%s", bodyOf(signed), bodyOf([]byte(msgSigned)))
	}
	waitFor(t, 5*time.Second, "empty MPA queue", func() bool { c, _ := s.Counts(ctx); return c.Spool == 0 })
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Acceptance 2: a template with a missing variable (stored before
// validation existed) puts the message in the error repository with that
// reason; fixing the template and requeueing delivers it.
func TestAcceptanceTemplateErrorRequeue(t *testing.T) {
	r := startRig(t)
	s, db := r.startMPA(t, Config{})
	ctx := context.Background()
	broken := store.MPAPipeline{Processors: []string{"trace", "rules"}, Rules: "recipient * footer disclaimer",
		Templates: []store.MPATemplate{{Name: "disclaimer", Text: "Department: {{.Department}}"}}}
	if err := db.MPAPipelinePut(broken); err != nil { // bypasses validation, like an old backup
		t.Fatal(err)
	}
	s.setPipeline(broken)
	r.send(t, "a@example.test", []string{"b@example.org"}, msgWithSubject("needs a department"))
	var items []ErrorItem
	waitFor(t, 20*time.Second, "an error repository entry", func() bool {
		items, _ = s.ListErrors(ctx)
		return len(items) == 1
	})
	it := items[0]
	if it.Stage != store.StagePipeline || !strings.Contains(it.Reason, `map has no entry for key "Department"`) {
		t.Fatalf("entry %+v", it)
	}
	d, err := s.GetError(ctx, it.ID)
	if err != nil || !strings.Contains(d.Headers, "Subject: needs a department") || !strings.Contains(d.Body, "body line") {
		t.Fatalf("detail %+v %v", d, err)
	}
	t.Logf("repository entry: %s stage=%s reason=%s", it.ID, it.Stage, it.Reason)
	if len(r.sink.Messages()) != 0 {
		t.Fatal("a failed message reached the sink")
	}
	fixed := broken
	fixed.Templates = []store.MPATemplate{{Name: "disclaimer", Text: "Sent by {{.Sender}}"}}
	if err := s.PutPipeline(ctx, fixed); err != nil {
		t.Fatal(err)
	}
	n, err := s.ErrorAction(ctx, ActionRequeue, []string{it.ID}, false)
	if err != nil || n != 1 {
		t.Fatalf("requeue: %d %v", n, err)
	}
	msgs := r.sink.Wait(t, 1, 20*time.Second)
	if !strings.Contains(string(msgs[0].Data), "Sent by a@example.test") {
		t.Fatalf("delivered without footer:\n%s", msgs[0].Data)
	}
	if c, _ := s.Counts(ctx); c.Errors != 0 {
		t.Fatalf("counts after requeue %+v", c)
	}
}

// Acceptance 3: with the reinjection listener down (its port refuses
// connections), messages wait in the MPA queue; a real worker retries with
// growing gaps, and everything is delivered once the listener is back,
// none lost, none duplicated.
func TestAcceptanceReinjectionDown(t *testing.T) {
	r := startRig(t)
	gate := reservePort(t)
	s, _ := r.startMPA(t, Config{ReinjectAddr: gate.Addr, RetryMin: 50 * time.Millisecond, RetryMax: 10 * time.Second})
	ctx := context.Background()
	const n = 3
	for i := range n {
		r.send(t, "a@example.test", []string{"b@example.org"}, msgWithSubject("down "+strconv.Itoa(i)))
	}
	// Each failed attempt stores the time of the next one; those times,
	// taken from the worker's own records, are the retry times.
	const attempts = 6
	retries := map[string]map[int]time.Time{}
	var items []SpoolItem
	waitFor(t, 30*time.Second, "messages retried "+strconv.Itoa(attempts)+" times", func() bool {
		var err error
		items, err = s.ListSpool(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done := len(items) == n
		for _, it := range items {
			if retries[it.ID] == nil {
				retries[it.ID] = map[int]time.Time{}
			}
			if it.Attempts > 0 {
				retries[it.ID][it.Attempts] = it.NextAttempt
			}
			if it.Attempts < attempts {
				done = false
			}
		}
		return done
	})
	for id, at := range retries {
		var gaps []time.Duration
		for k := 1; k < attempts; k++ {
			a, b := at[k], at[k+1]
			if a.IsZero() || b.IsZero() {
				continue // polled past it; the stored times still follow each other
			}
			gaps = append(gaps, b.Sub(a))
		}
		if len(gaps) < 2 {
			t.Fatalf("%s: too few recorded retries to compare: %v", id, at)
		}
		for i := 1; i < len(gaps); i++ {
			if gaps[i] <= gaps[i-1] {
				t.Errorf("%s: retry gaps do not grow: %v", id, gaps)
				break
			}
		}
		t.Logf("%s: retry gaps %v", id, gaps)
	}
	for _, it := range items {
		if it.State != store.SpoolRetry && it.State != store.SpoolProcessing || !strings.Contains(it.LastError, "connection refused") {
			t.Fatalf("spool item %+v", it)
		}
	}
	if got := r.sink.Count(); got != 0 {
		t.Fatalf("%d delivered while the listener was down", got)
	}
	startProxy(t, gate.listen(t), r.reinjAddr)
	r.sink.Wait(t, n, 60*time.Second)
	r.waitDrained(t, s)
	for subj, c := range sinkSubjects(r.sink) {
		if c != 1 {
			t.Errorf("%q delivered %d times", subj, c)
		}
	}
	if got := r.sink.Count(); got != n {
		t.Errorf("sink has %d messages, want %d", got, n)
	}
}
