package queue

import (
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"postdeck/store"
)

// FuzzParseFilter checks the queue filter of GET /api/v1/queue on any
// query values: ParseFilter never panics; a refusal is a *store.UserError
// naming one of the filter's fields; an accepted filter has a known queue
// and sort key, a non-negative offset and minimum age, a limit from 1 to
// MaxPageSize and trimmed, valid, bounded texts; Normalize leaves it as it
// is; and paging a small snapshot with it returns at most Limit rows.
func FuzzParseFilter(f *testing.F) {
	add := func(queue, q, sender, recipient, minAge, sort, offset, limit string) {
		f.Add(queue, q, sender, recipient, minAge, sort, offset, limit)
	}
	add("", "", "", "", "", "", "", "")
	add("deferred", "example", "alice@", "@example.org", "90m", "-size", "50", "50")
	add("hold", "4jZZFn03xzz1SCLg", "MAILER-DAEMON", "", "3600", "sender", "0", "1000")
	add(" active ", "  padded  ", "", "", " 10 ", "arrival", " 5 ", " 1 ")
	add("nosuch", "", "", "", "", "", "", "")
	add("", strings.Repeat("x", MaxFilterText+1), "", "", "", "", "", "")
	add("", "\xff\xfe", "", "", "", "", "", "")
	add("", "", "", "", "-1", "", "", "")
	add("", "", "", "", "1.5h", "", "", "")
	add("", "", "", "", "99999999999999999999", "", "", "")
	add("", "", "", "", "3153600001", "", "", "")
	add("", "", "", "", "2562047h47m16.854775807s", "", "", "")
	add("", "", "", "", "", "--size", "", "")
	add("", "", "", "", "", "size-", "", "")
	add("", "", "", "", "", "", "-1", "")
	add("", "", "", "", "", "", "9223372036854775807", "1000")
	add("", "", "", "", "", "", "", "1001")
	add("", "", "", "", "", "", "", "0x10")
	add("", "ÉTÉ", "é", "Ö", "", "-sender", "", "")
	f.Fuzz(func(t *testing.T, queue, q, sender, recipient, minAge, sort, offset, limit string) {
		v := url.Values{}
		for k, s := range map[string]string{"queue": queue, "q": q, "sender": sender, "recipient": recipient,
			"min_age": minAge, "sort": sort, "offset": offset, "limit": limit} {
			if s != "" {
				v.Set(k, s)
			}
		}
		fl, err := ParseFilter(v)
		if err != nil {
			var ue *store.UserError
			if !errors.As(err, &ue) {
				t.Fatalf("ParseFilter(%v): error is %T (%v), not a *store.UserError", v, err, err)
			}
			if !errors.Is(err, store.ErrInvalid) || ue.Msg == "" {
				t.Fatalf("ParseFilter(%v): kind %v, sentence %q; want invalid input", v, ue.Kind, ue.Msg)
			}
			if !slices.Contains([]string{"queue", "q", "sender", "recipient", "min_age", "sort", "offset", "limit"}, ue.Field) {
				t.Fatalf("ParseFilter(%v): the error names field %q", v, ue.Field)
			}
			return
		}
		if fl.Queue != "" && !slices.Contains(Names, fl.Queue) {
			t.Fatalf("ParseFilter(%v): queue %q", v, fl.Queue)
		}
		if !slices.Contains(sortKeys, strings.TrimPrefix(fl.Sort, "-")) {
			t.Fatalf("ParseFilter(%v): sort %q", v, fl.Sort)
		}
		if fl.Offset < 0 || fl.Limit < 1 || fl.Limit > MaxPageSize || fl.MinAge < 0 {
			t.Fatalf("ParseFilter(%v): offset %d, limit %d, min age %v", v, fl.Offset, fl.Limit, fl.MinAge)
		}
		for _, s := range []string{fl.Q, fl.Sender, fl.Recipient} {
			if utf8.RuneCountInString(s) > MaxFilterText || !utf8.ValidString(s) || strings.TrimSpace(s) != s {
				t.Fatalf("ParseFilter(%v): text %q", v, s)
			}
		}
		again := fl
		if err := again.Normalize(); err != nil || !reflect.DeepEqual(again, fl) {
			t.Fatalf("ParseFilter(%v) = %+v, but Normalize makes it %+v (%v)", v, fl, again, err)
		}
		page := fuzzSnapshot().page(fl)
		if len(page.Items) > fl.Limit || page.Total > fuzzSnapshot().set.count() || page.Offset != fl.Offset {
			t.Fatalf("ParseFilter(%v): a page of %d rows of %d (offset %d)", v, len(page.Items), page.Total, page.Offset)
		}
	})
}

// fuzzSnapshot is a small queue to page with fuzzed filters, held as the
// index holds it.
func fuzzSnapshot() *queueSnapshot {
	asOf := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &queueSnapshot{asOf: asOf, set: storeOf([]queueEntry{
		{id: "4jZZFn03xzz1SCLg", sender: "alice@example.com", arrival: asOf.Add(-2 * time.Hour).Unix(), size: 1200, queue: 3,
			rcpts: []Recipient{{Address: "bob@example.org", DelayReason: "connect to mx.example.org: Connection refused"}}},
		{id: "3F2A1B4C5D", sender: "MAILER-DAEMON", arrival: asOf.Add(-time.Minute).Unix(), size: 300, queue: 4,
			rcpts: []Recipient{{Address: "ÉTÉ@exemple.fr"}, {Address: "carol@example.net", DelayReason: "4.2.2 mailbox full"}}},
		{id: "4jZZFn04xzz1SCLh", sender: "", arrival: asOf.Unix(), size: 0, queue: 2},
	})}
}
