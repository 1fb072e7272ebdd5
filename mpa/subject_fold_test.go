package mpa

import (
	"context"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// Acceptance: the subject action keeps a long Subject folded where its
// author folded it. Unfolded into one line of thousands of bytes, the
// field passed RFC 5322's 998 and Postfix's SMTP client broke it at its
// line limit in the middle of a word: the tagged subject arrived with
// words cut apart. A Subject whose value starts on the next line, and
// one that is empty, get the tag too.
func TestAcceptanceSubjectTagKeepsFolding(t *testing.T) {
	r := startTaggingRig(t)
	words := strings.Fields(strings.Repeat("wordwordword ", 300))
	cases := map[string]struct{ raw, want string }{
		"long":      {"Subject: " + strings.Join(words, "\r\n "), "[EXT] " + strings.Join(words, " ")},
		"next line": {"Subject:\r\n next line", "[EXT] next line"},
		"empty":     {"Subject: ", "[EXT]"},
	}
	for name, c := range cases {
		r.send(t, "a@example.test", []string{"b@example.org"}, "X-Case: "+name+"\r\nFrom: a@example.test\r\n"+c.raw+"\r\n\r\nbody\r\n")
	}
	for _, m := range r.sink.Wait(t, len(cases), 30*time.Second) {
		name := headerOf(m.Data, "X-Case")
		c := cases[name]
		if got := headerOf(m.Data, "Subject"); got != c.want {
			t.Errorf("%s: Subject %.200q..., want %.200q...", name, got, c.want)
		}
		for _, l := range strings.Split(string(m.Data), "\n") {
			if l = strings.TrimSuffix(l, "\r"); len(l) > 998 {
				t.Errorf("%s: a line of %d bytes: %.80q", name, len(l), l)
			}
		}
	}
	if !strings.Contains(string(r.sink.Messages()[0].Data)+string(r.sink.Messages()[1].Data)+string(r.sink.Messages()[2].Data),
		"Subject: [EXT] wordwordword\r\n wordwordword\r\n") {
		t.Error("the long Subject is not folded where it was")
	}
}

// Acceptance: a Subject whose first line is already at RFC 5322's 998
// bytes (Postfix's SMTP client broke an unfolded one there) gets the tag
// on a line of its own. Put in front of that line, the tag pushed it
// past 998 and Postfix broke it once more in the middle of a word: the
// tagged Subject differs from the untagged one Postfix alone delivers
// only by the tag's line.
func TestAcceptanceSubjectTagOnAFullFirstLine(t *testing.T) {
	words := strings.Fields(strings.Repeat("wordwordword ", 230)) // 3,000 bytes
	raw := "From: a@example.test\r\nSubject: " + strings.Join(words, " ") + "\r\n\r\nbody\r\n"
	subjectField := func(data []byte) string {
		for _, f := range ParseMessage(data).Header.Fields {
			if f.Name == "Subject" {
				return string(f.Raw)
			}
		}
		return ""
	}
	alone := startRigWith(t, rigOptions{MainCF: "content_filter =\n"})
	alone.send(t, "a@example.test", []string{"b@example.org"}, raw)
	want := subjectField(alone.sink.Wait(t, 1, 30*time.Second)[0].Data)

	r := startTaggingRig(t)
	r.send(t, "a@example.test", []string{"b@example.org"}, raw)
	got := subjectField(r.sink.Wait(t, 1, 30*time.Second)[0].Data)
	if got != strings.Replace(want, "Subject: ", "Subject: [EXT]\r\n ", 1) {
		t.Errorf("tagged Subject\n%q\nPostfix alone\n%q", got, want)
	}
}

// startTaggingRig is a rig whose MPA tags every subject with [EXT].
func startTaggingRig(t *testing.T) *rig {
	t.Helper()
	r := startRig(t)
	s, _ := r.startMPA(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.PutPipeline(ctx, store.MPAPipeline{Processors: []string{"rules"}, Rules: "recipient * subject [EXT]\n", Templates: []store.MPATemplate{}}); err != nil {
		t.Fatal(err)
	}
	return r
}
