package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"postdeck/admin"
)

// TestPrintStatus: the status as a terminal gets it, from the API's
// JSON: the last apply's time to the second in local time (it was
// RFC 3339 with nanoseconds), "none yet" before the first apply, each
// waiting domain with the age bucket of its oldest recipients (the last
// bucket is "over" the last bound), and the MPA without free space when
// it could not be measured.
func TestPrintStatus(t *testing.T) {
	at := time.Date(2026, 12, 7, 20, 57, 42, 975161487, time.UTC)
	raw := `{"postfix_running":true,"postfix_version":"3.7.11",
		"last_apply":{"time":"` + at.Format(time.RFC3339Nano) + `","actor":"system","action":"apply at start","result":"unchanged","message":"Postfix started"},
		"mpa":{"spool":3,"processing":1,"errors":2,"error_bytes":2048,"error_quota_entries":10000,"error_quota_bytes":1073741824,"free_bytes":-1},
		"queue":{"queues":[{"name":"maildrop","count":0},{"name":"deferred","count":5,"bytes":3072},{"name":"hold","count":1,"bytes":1024}],
			"total":{"name":"total","count":6,"bytes":4096},"shape_bucket_minutes":[5,10,20,40,80,160,320,640,1280],
			"shape":[{"domain":"partner.example","total":4,"buckets":[1,0,0,0,0,0,0,0,2,1]},{"domain":"other.example","total":1,"buckets":[0,0,1,0,0,0,0,0,0,0]}]},
		"problems":[],"warnings":[{"kind":"error","text":"Postfix is not running.","link":"/"},{"kind":"warning","text":"A disk is nearly full.","link":""}]}`
	var st statusAnswer
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printStatus(&b, st)
	want := "postfix:     running (version 3.7.11)\n" +
		"last apply:  apply at start unchanged by system at " + at.Local().Format("2006-01-02 15:04:05") + ": Postfix started\n" +
		"queue:       6 messages, 4.0 KiB: deferred 5, hold 1\n" +
		"waiting:     partner.example 4 recipients, the oldest over 21 h 20 min\n" +
		"waiting:     other.example 1 recipient, the oldest under 20 min\n" +
		"mpa:         3 in its queue (1 being processed); error repository 2 of 10000 entries, 2.0 KiB of 1.0 GiB\n" +
		"error:       Postfix is not running.\n" +
		"warning:     A disk is nearly full.\n"
	if b.String() != want {
		t.Errorf("status:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	printStatus(&b, statusAnswer{PostfixVersion: "3.7.11"})
	if want := "postfix:     stopped (version 3.7.11)\nlast apply:  none yet\n"; b.String() != want {
		t.Errorf("a daemon without an apply, queue or MPA:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestStatusHealth: status exits 1 when it shows an error (Postfix
// stopped, an error banner, a part not read) and 0 with warnings alone.
func TestStatusHealth(t *testing.T) {
	errBanner := admin.Banner{Kind: "error", Text: "The MPA's error repository is full."}
	warn := admin.Banner{Kind: "warning", Text: "A disk is nearly full."}
	for _, tc := range []struct {
		name string
		st   statusAnswer
		want string
	}{
		{"healthy", statusAnswer{PostfixRunning: true}, ""},
		{"warnings only", statusAnswer{PostfixRunning: true, Warnings: []admin.Banner{warn, warn}}, ""},
		{"an error banner", statusAnswer{PostfixRunning: true, Warnings: []admin.Banner{warn, errBanner}}, "the gateway needs attention: 1 error above"},
		{"stopped, with its banner", statusAnswer{Warnings: []admin.Banner{{Kind: "error", Text: "Postfix is not running."}}}, "the gateway needs attention: 1 error above"},
		{"stopped, no banner", statusAnswer{}, "the gateway needs attention: 1 error above"},
		{"problems and an error", statusAnswer{PostfixRunning: true, Problems: []string{"The queue could not be read."}, Warnings: []admin.Banner{errBanner}}, "the gateway needs attention: 2 errors above"},
	} {
		err := tc.st.health()
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// exitCode is the exit status of a command run by exec (0 for nil, -1
// when it did not exit).
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}
