package webui

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"postdeck/admin"
	"postdeck/mpa"
	"postdeck/mta"
	"postdeck/queue"
)

// TestStatusAnswerKept: GET /api/v1/status's answer is encoded once per
// status: the same status gives the same bytes without encoding again (no
// allocation), and any change of a part (Postfix's state, the last apply,
// the MPA's counts, a new queue summary) gives that status's own encoding,
// byte for byte what encoding/json makes of it.
func TestStatusAnswerKept(t *testing.T) {
	sum := &queue.Summary{Total: queue.Count{Name: "total", Count: 3}}
	base := admin.Status{
		PostfixRunning: true,
		PostfixVersion: "3.7.11",
		LastApply:      mta.ApplyReport{Time: time.Unix(1700000000, 0), Actor: "admin", Action: "settings", Result: "applied"},
		MPA:            &mpa.Counts{Spool: 2},
		Queue:          sum,
	}
	var a statusAnswer
	first, err := a.encode(base)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(base)
	if !bytes.Equal(first, want) {
		t.Fatalf("answer %s, encoding/json %s", first, want)
	}
	// A status read again: the same values and pointers (admin.Status
	// shares its summary and MPA counts while they stay the same).
	same := base
	again, _ := a.encode(same)
	if &again[0] != &first[0] {
		t.Error("the same status was encoded again")
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = a.encode(base) }); n != 0 {
		t.Errorf("an unchanged status costs %v allocations", n)
	}

	// The banners are a list made anew at each answer (statusGet): the
	// same banners are the same status, encoded once.
	banners := []admin.Banner{{Kind: "warning", Text: "The SPF source of map gmail.com is failing.", Link: "/mta/spf"}}
	withBanner := base
	withBanner.Warnings = &banners
	one, _ := a.encode(withBanner)
	sameBanners := slices.Clone(banners)
	withBanner.Warnings = &sameBanners
	if two, _ := a.encode(withBanner); &two[0] != &one[0] || !bytes.Contains(one, []byte(`"warnings":[{"kind":"warning","text":"The SPF source of map gmail.com is failing.","link":"/mta/spf"}]`)) {
		t.Errorf("the same banners were encoded again, or not as they are: %s", one)
	}

	changes := map[string]func(admin.Status) admin.Status{
		"postfix stopped": func(s admin.Status) admin.Status { s.PostfixRunning = false; return s },
		"another apply": func(s admin.Status) admin.Status {
			s.LastApply.Result, s.LastApply.Time = "refused", s.LastApply.Time.Add(time.Second)
			return s
		},
		"mpa counts":                        func(s admin.Status) admin.Status { s.MPA = &mpa.Counts{Spool: 3}; return s },
		"equal mpa counts, another pointer": func(s admin.Status) admin.Status { s.MPA = &mpa.Counts{Spool: 2}; return s },
		"new summary": func(s admin.Status) admin.Status {
			s.Queue = &queue.Summary{Total: queue.Count{Name: "total", Count: 4}}
			return s
		},
		"no queue": func(s admin.Status) admin.Status { s.Queue = nil; return s },
		"a banner": func(s admin.Status) admin.Status {
			s.Warnings = &[]admin.Banner{{Kind: "error", Text: "Postfix is not running.", Link: "/"}}
			return s
		},
	}
	for name, change := range changes {
		if _, err := a.encode(base); err != nil {
			t.Fatal(err)
		}
		st := change(base)
		got, err := a.encode(st)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(st)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: answer %s, want %s", name, got, want)
		}
	}
}
