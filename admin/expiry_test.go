package admin

import (
	"errors"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestParseExpiry: every form a token's expiry takes, and its edges: a
// duration of days, hours or minutes (at most six digits), a date valid
// to the end of that day (UTC), an RFC 3339 time, empty for never; the
// past, more than ten years ahead, zero, negative and garbage are refused
// naming the field, and long input is not echoed whole.
func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"  ", time.Time{}},
		{"90d", now.Add(90 * 24 * time.Hour)},
		{"12h", now.Add(12 * time.Hour)},
		{"30m", now.Add(30 * time.Minute)},
		{"3650d", now.Add(3650 * 24 * time.Hour)},
		{"2027-01-31", time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-12-04", time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)}, // today: until its end
		{"2027-01-31T12:00:00+01:00", time.Date(2027, 1, 31, 11, 0, 0, 0, time.UTC)},
	} {
		got, err := ParseExpiry(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseExpiry(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, says string }{
		{"3651d", "ten years"},
		{"87601h", "ten years"},
		{"999999d", "ten years"}, // six digits: refused, not overflowed
		{"9999999d", "is not a duration"},
		{"0d", "is not a duration"},
		{"-5d", "is not a duration"},
		{"d", "is not a duration"},
		{"5w", "is not a duration"},
		{"tomorrow", "is not a duration"},
		{"2026-12-03", "in the past"},
		{"2026-12-04T10:30:00Z", "in the past"},
		{"2037-01-01", "ten years"},
		{strings.Repeat("9", 5000), "is not a duration"},
	} {
		_, err := ParseExpiry(tc.in, now)
		var ue *store.UserError
		if !errors.As(err, &ue) || ue.Field != "expires" || !strings.Contains(ue.Msg, tc.says) {
			t.Errorf("ParseExpiry(%.20q) = %v, want refused saying %q", tc.in, err, tc.says)
			continue
		}
		if len(ue.Msg) > 400 {
			t.Errorf("ParseExpiry(%.20q): a %d-byte message", tc.in, len(ue.Msg))
		}
	}
}
