package queue

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"postdeck/postfix"
	"postdeck/store"
)

func TestValidQueueID(t *testing.T) {
	good := []string{"4jZZFn03xzz1SCLg", "4jZZGW40dHz1SC8n", "3F2A1B4C5D", "ABCDEF", "4jZZJl0wcSz7h4"}
	for _, id := range good {
		if !ValidID(id) {
			t.Errorf("ValidID(%q) = false", id)
		}
	}
	bad := []string{"", "../x", "-d", "-", "ALL", "deferred", "hold", "abc", "4jZZFn03xz", "4jZZFn03xzz",
		"4jZZFn03xzz1SCLg/..", "4jZZ;rm -rf /", "$(id)", "`id`", "a b", "id\n-d", "4jZZFn03xzz1SCLg\x00",
		"4jaZFn03xzz1SCLg", // vowel
		strings.Repeat("A", 10000), strings.Repeat("4", 33)}
	for _, id := range bad {
		if ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
		}
	}
}

// qtCountingQueue is a Queue whose commands are counted (and never run when
// fail is set).
func qtCountingQueue(calls *int) *Queue {
	q := New(postfix.Runner{SbinDir: "/nonexistent", ConfigDir: "/nonexistent"}, nil)
	q.stream = func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, name string, args ...string) error {
		*calls++
		return errors.New("no command may run in this test")
	}
	return q
}

// TestMalformedIDsRunNothing is acceptance 3 for ids: every malformed id is
// refused as invalid input naming the ids field, and no command runs.
func TestMalformedIDsRunNothing(t *testing.T) {
	calls := 0
	q := qtCountingQueue(&calls)
	ctx := context.Background()
	bad := []string{"../x", "-d", "ALL", "", strings.Repeat("x", 10000), "; rm -rf /", "$(touch /tmp/pwned)",
		"`id`", "a|b", "4jZZFn03xzz1SCLg\n-d", "4jZZFn03xzz1SCLg && ls", "*", "deferred"}
	for _, id := range bad {
		for _, action := range Actions {
			_, err := q.Action(ctx, action, []string{"4jZZFn03xzz1SCLg", id})
			var fe *store.UserError
			if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &fe) || fe.Field != "ids" {
				t.Fatalf("Action(%s, %q) = %v, want invalid ids", action, id, err)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("error message is %d bytes long", len(err.Error()))
			}
		}
		if _, err := q.Show(ctx, id); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("Show(%q) = %v", id, err)
		}
	}
	if _, err := q.Action(ctx, ActionDelete, nil); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("empty id list: %v", err)
	}
	if _, err := q.Action(ctx, "purge", []string{"4jZZFn03xzz1SCLg"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("unknown action: %v", err)
	}
	if _, err := q.ActionFilter(ctx, "hold", Filter{Queue: "../x"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad filter: %v", err)
	}
	if calls != 0 {
		t.Fatalf("%d commands ran", calls)
	}
}

func TestParseFilter(t *testing.T) {
	f, err := ParseFilter(url.Values{"queue": {"deferred"}, "q": {" Refused "}, "min_age": {"90m"}, "sort": {"-size"}, "offset": {"50"}, "limit": {"20"}})
	if err != nil {
		t.Fatal(err)
	}
	if f.Queue != "deferred" || f.Q != "Refused" || f.MinAge != 90*time.Minute || f.Sort != "-size" || f.Offset != 50 || f.Limit != 20 {
		t.Fatalf("%+v", f)
	}
	f, err = ParseFilter(url.Values{"min_age": {"3600"}})
	if err != nil || f.MinAge != time.Hour || f.Limit != DefaultPageSize || f.Sort != "arrival" {
		t.Fatalf("%+v %v", f, err)
	}
	for field, v := range map[string]url.Values{
		"queue":   {"queue": {"corrupt"}},
		"sort":    {"sort": {"name"}},
		"limit":   {"limit": {"100000"}},
		"offset":  {"offset": {"-1"}},
		"min_age": {"min_age": {"yesterday"}},
		"q":       {"q": {strings.Repeat("a", 300)}},
	} {
		_, err := ParseFilter(v)
		var fe *store.UserError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%v: %v, want field %s", v, err, field)
		}
	}
	// The bound counts characters, as its sentence says, not bytes.
	if f, err := ParseFilter(url.Values{"recipient": {strings.Repeat("界", MaxFilterText)}}); err != nil || f.Recipient == "" {
		t.Errorf("%d characters of three bytes each: %v", MaxFilterText, err)
	}
	if _, err := ParseFilter(url.Values{"recipient": {strings.Repeat("界", MaxFilterText+1)}}); err == nil || !strings.Contains(err.Error(), "at most 256 characters") {
		t.Errorf("%d characters: %v", MaxFilterText+1, err)
	}
	var jf Filter
	if err := jf.UnmarshalJSON([]byte(`{"queue":"hold","sender":"a@","min_age":"2h","limit":5}`)); err != nil {
		t.Fatal(err)
	}
	if jf.Queue != "hold" || jf.Sender != "a@" || jf.MinAge != 2*time.Hour || jf.Limit != 5 {
		t.Fatalf("%+v", jf)
	}
	if err := jf.UnmarshalJSON([]byte(`{"min_age":600}`)); err != nil || jf.MinAge != 10*time.Minute {
		t.Fatalf("%+v %v", jf, err)
	}
}

func TestContainsFold(t *testing.T) {
	for _, c := range []struct {
		s, sub string
		want   bool
	}{{"Connection refused", "REFUSED", true}, {"alice@Example.test", "example.TEST", true}, {"abc", "abcd", false},
		{"abc", "", true}, {"Grüße@x", "GRÜSSE", false}, {"Grüße", "grü", true}, {"aaab", "aab", true}} {
		if got := containsFold(c.s, c.sub); got != c.want {
			t.Errorf("containsFold(%q, %q) = %v", c.s, c.sub, got)
		}
	}
}

func qtSnapshot() *queueSnapshot {
	asOf := time.Unix(1_800_000_000, 0).UTC()
	mk := func(id, q, sender string, age time.Duration, size int64, rcpts ...string) queueEntry {
		qi, _ := queueIndex(q)
		e := queueEntry{id: id, sender: sender, arrival: asOf.Add(-age).Unix(), size: size, queue: qi}
		for _, r := range rcpts {
			e.rcpts = append(e.rcpts, Recipient{Address: r, DelayReason: "connect to x: Connection refused"})
		}
		return e
	}
	return &queueSnapshot{asOf: asOf, set: entryList{
		mk("4jZZFn03xzz1SCLa", "deferred", "alice@a.test", 3*time.Minute, 500, "x@dest1.test"),
		mk("4jZZFn03xzz1SCLb", "deferred", "bob@b.test", 2*time.Hour, 900, "y@dest2.test", "z@Dest1.test"),
		mk("4jZZFn03xzz1SCLc", "hold", "carol@c.test", 30*time.Hour, 100, "w@dest3.test"),
		mk("4jZZFn03xzz1SCLd", "active", "MAILER-DAEMON", 7*time.Minute, 300, "alice@a.test"),
	}}
}

// inStore is s with its messages held as the index holds them.
func inStore(s *queueSnapshot) *queueSnapshot {
	l := s.set.(entryList)
	return &queueSnapshot{asOf: s.asOf, expires: s.expires, set: storeOf(l)}
}

// TestSnapshotPage pages a postqueue -j snapshot and the same messages
// held as the index holds them.
func TestSnapshotPage(t *testing.T) {
	for _, s := range []*queueSnapshot{qtSnapshot(), inStore(qtSnapshot())} {
		t.Run(fmt.Sprintf("%T", s.set), func(t *testing.T) { testSnapshotPage(t, s) })
	}
}

func testSnapshotPage(t *testing.T, s *queueSnapshot) {
	page := func(f Filter) Page {
		t.Helper()
		if err := f.Normalize(); err != nil {
			t.Fatal(err)
		}
		return s.page(f)
	}
	ids := func(p Page) string {
		var out []string
		for _, m := range p.Items {
			out = append(out, m.QueueID[len(m.QueueID)-1:])
		}
		return strings.Join(out, "")
	}
	for _, c := range []struct {
		f     Filter
		want  string
		total int
	}{
		{Filter{}, "cbda", 4},
		{Filter{Sort: "-arrival"}, "adbc", 4},
		{Filter{Sort: "-size"}, "badc", 4},
		{Filter{Sort: "sender"}, "dabc", 4},
		{Filter{Queue: "deferred"}, "ba", 2},
		{Filter{Recipient: "DEST1"}, "ba", 2},
		{Filter{Sender: "alice"}, "a", 1},
		{Filter{Q: "alice"}, "da", 2},
		{Filter{Q: "refused"}, "cbda", 4},
		{Filter{Q: "SCLc"}, "c", 1},
		{Filter{MinAge: time.Hour}, "cb", 2},
		{Filter{Limit: 2}, "cb", 4},
		{Filter{Limit: 2, Offset: 2}, "da", 4},
		{Filter{Limit: 2, Offset: 10}, "", 4},
	} {
		p := page(c.f)
		if got := ids(p); got != c.want || p.Total != c.total {
			t.Errorf("%+v: got %q total %d, want %q total %d", c.f, got, p.Total, c.want, c.total)
		}
	}
	p := page(Filter{Q: "SCLb"})
	m := p.Items[0]
	if m.QueueName != "deferred" || m.Sender != "bob@b.test" || len(m.Recipients) != 2 || m.Size != 900 ||
		m.AgeSeconds != 7200 || !p.AsOf.Equal(s.asOf) || m.Recipients[0].DelayReason == "" {
		t.Fatalf("%+v", m)
	}
}

func TestSnapshotSummary(t *testing.T) {
	sum := qtSnapshot().summary()
	if store := inStore(qtSnapshot()).summary(); !reflect.DeepEqual(sum, store) {
		t.Fatalf("the snapshot's summary %+v, held as the index holds it %+v", sum, store)
	}
	if sum.Total.Count != 4 || sum.Total.Bytes != 1800 {
		t.Fatalf("total %+v", sum.Total)
	}
	want := map[string][2]int64{"deferred": {2, 1400}, "hold": {1, 100}, "active": {1, 300}, "incoming": {0, 0}, "maildrop": {0, 0}}
	for _, qc := range sum.Queues {
		if w := want[qc.Name]; int64(qc.Count) != w[0] || qc.Bytes != w[1] {
			t.Errorf("%+v", qc)
		}
	}
	// hold is left out of the shape; dest1.test has two recipients (3 min
	// and 2 h old), a.test one (7 min).
	if sum.ShapeTotal.Total != 4 || len(sum.Shape) != 3 || sum.Shape[0].Domain != "dest1.test" || sum.Shape[0].Total != 2 {
		t.Fatalf("%+v", sum.Shape)
	}
	b := sum.Shape[0].Buckets
	if b[0] != 1 || b[shapeBucket(7200)] != 1 || shapeBucket(7200) != 5 {
		t.Fatalf("buckets %v", b)
	}
	if shapeBucket(0) != 0 || shapeBucket(300) != 0 || shapeBucket(301+59) != 1 || shapeBucket(100*3600) != len(ShapeBucketMinutes) {
		t.Fatal("bucket bounds")
	}
}

func TestPostsuperReport(t *testing.T) {
	ids := []string{"4jZZFn03xzz1SCLa", "4jZZFn03xzz1SCLb", "4jZZFn03xzz1SCLc"}
	r := newPostsuperReport(postsuperActions[ActionBounce], ids)
	out := "postsuper: 4jZZFn03xzz1SCLa: expired\npostsuper: 4jZZFn03xzz1SCLa: released from hold\n" +
		"postsuper: 4jZZFn03xzz1SCLb: expired\npostsuper: 4jZZFn03xzz1SCLX: expired\npostsuper: Force-expired: 2 messages\n" +
		"postsuper: Released from hold: 1 message\n"
	// Feed it in awkward pieces, as a pipe would.
	for len(out) > 0 {
		n := min(7, len(out))
		if _, err := r.Write([]byte(out[:n])); err != nil {
			t.Fatal(err)
		}
		out = out[n:]
	}
	if r.affected() != 2 || !r.done[ids[0]] || !r.done[ids[1]] || r.done[ids[2]] {
		t.Fatalf("affected %d done %v", r.affected(), r.done)
	}
	r = newPostsuperReport(postsuperActions[ActionHold], ids)
	_, _ = r.Write([]byte("postsuper: Placed on hold: 0 messages\n"))
	if r.affected() != 0 {
		t.Fatal(r.affected())
	}
}

const postcatSample = `*** ENVELOPE RECORDS deferred/0/4jZZFn03xzz1SCLg ***
message_size:             369             637               1               0             369               0
message_arrival_time: Wed Nov 25 22:33:17 2026
create_time: Wed Nov 25 22:33:17 2026
named_attribute: log_ident=4jZZFn03xzz1SCLg
sender: a@example.test
named_attribute: client_address=127.0.0.1
original_recipient: b@example.org
recipient: b@example.org
*** MESSAGE CONTENTS deferred/0/4jZZFn03xzz1SCLg ***
Received: from vm (localhost [127.0.0.1])
	by mx.gw.example.test (Postfix) with SMTP id 4jZZFn03xzz1SCLg
	for <b@example.org>; Wed, 25 Nov 2026 22:33:17 +0000 (UTC)
From: <a@example.test>
Subject: <script>alert(1)</script>

La de da de da 1.
*** HEADER EXTRACTED deferred/1/4jZZFake ***
La de da de da 2.
*** HEADER EXTRACTED deferred/0/4jZZFn03xzz1SCLg ***
*** MESSAGE FILE END deferred/0/4jZZFn03xzz1SCLg ***
`

func TestParsePostcat(t *testing.T) {
	v := parsePostcat([]byte(postcatSample), 1000)
	if v.QueueName != "deferred" || v.Sender != "a@example.test" || len(v.Recipients) != 1 || v.Size != 369 || v.ArrivalTime.IsZero() {
		t.Fatalf("%+v", v)
	}
	if len(v.Headers) != 3 || v.Headers[0].Name != "Received" || !strings.Contains(v.Headers[0].Value, "\n\tby mx") ||
		v.Headers[2].Value != "<script>alert(1)</script>" {
		t.Fatalf("headers %+v", v.Headers)
	}
	if v.Subject != "<script>alert(1)</script>" { // pages escape it
		t.Fatalf("subject %q", v.Subject)
	}
	// A folded, encoded Subject is decoded whole for the message view.
	folded := strings.Replace(postcatSample, "Subject: <script>alert(1)</script>", "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n =?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(strings.Repeat("ü", 1200)))+"?=", 1)
	if v := parsePostcat([]byte(folded), 1000); !strings.HasPrefix(v.Subject, "Grüße"+strings.Repeat("ü", 100)) || utf8.RuneCountInString(v.Subject) != subjectViewMax+1 {
		t.Fatalf("folded subject %q", v.Subject)
	}
	if v.Body != "La de da de da 1.\n*** HEADER EXTRACTED deferred/1/4jZZFake ***\nLa de da de da 2.\n" || v.Truncated {
		t.Fatalf("body %q", v.Body)
	}
	v = parsePostcat([]byte(postcatSample), 10)
	if v.Body != "La de da d" || !v.Truncated {
		t.Fatalf("capped body %q", v.Body)
	}
}

func FuzzParsePostcat(f *testing.F) {
	f.Add([]byte(postcatSample), 100)
	f.Add([]byte("*** MESSAGE CONTENTS x ***\n\n\n"), 1)
	f.Add([]byte("*** ***"), 100)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 0 || max > 1<<20 {
			return
		}
		v := parsePostcat(b, max)
		if len(v.Body) > max {
			t.Fatalf("body %d bytes over cap %d", len(v.Body), max)
		}
	})
}

func FuzzValidQueueID(f *testing.F) {
	for _, s := range []string{"4jZZFn03xzz1SCLg", "3F2A1B4C5D", "ALL", "-d", "../x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !ValidID(id) {
			return
		}
		if strings.ContainsAny(id, "-/. \n\t$;&|`'\"\\*?") || len(id) > maxQueueIDLen || id == "ALL" {
			t.Fatalf("accepted %q", id)
		}
	})
}

func FuzzPostsuperReport(f *testing.F) {
	f.Add("postsuper: 4jZZFn03xzz1SCLa: removed\npostsuper: Deleted: 1 message\n")
	f.Fuzz(func(t *testing.T, s string) {
		r := newPostsuperReport(postsuperActions[ActionDelete], []string{"4jZZFn03xzz1SCLa"})
		_, _ = r.Write([]byte(s))
		_ = r.affected()
	})
}

const postqueueLine = `{"queue_name": "deferred", "queue_id": "4jZZFm75kdz1SCLd", "arrival_time": 1795645996, "message_size": 369, "forced_expire": false, "sender": "a@example.test", "recipients": [{"address": "b@example.org", "delay_reason": "connect to 127.0.0.1[127.0.0.1]:2599: Connection refused"}, {"address": "c\u00e9@x", "delay_reason": "say \"hi\"\\ \ud83d\ude00"}]}`

func TestParseQueueLine(t *testing.T) {
	var m jsonMessage
	if err := parseQueueLine([]byte(postqueueLine+"\n"), &m); err != nil {
		t.Fatal(err)
	}
	if m.QueueName != "deferred" || m.QueueID != "4jZZFm75kdz1SCLd" || m.ArrivalTime != 1795645996 || m.MessageSize != 369 ||
		m.Sender != "a@example.test" || len(m.Recipients) != 2 || m.Recipients[1].Address != "cé@x" ||
		m.Recipients[1].DelayReason != "say \"hi\"\\ 😀" {
		t.Fatalf("%+v", m)
	}
	for _, bad := range []string{"", "{", `{"queue_id": }`, `{"queue_id": "x"} x`, `{"recipients": [{"address": 1]}`, `{"queue_id": "a` + "\x01" + `"}`} {
		if err := parseQueueLine([]byte(bad), &m); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// FuzzParseQueueLine checks the hand-written reader against encoding/json:
// whatever both accept must decode the same.
func FuzzParseQueueLine(f *testing.F) {
	f.Add(postqueueLine)
	f.Add(`{"queue_id": "x", "extra": {"a": [1, 2.5e3, null, true]}, "recipients": null}`)
	f.Add(`{"sender": "\ud800x", "queue_name": "\u0041"}`)
	f.Fuzz(func(t *testing.T, line string) {
		if caseFoldedKey(line) {
			return // encoding/json matches member names ignoring case; postqueue never needs that
		}
		var fast, slow jsonMessage
		errFast := parseQueueLine([]byte(line), &fast)
		errSlow := json.Unmarshal([]byte(line), &slow)
		if errFast != nil || errSlow != nil {
			return // encoding/json is more lenient about some odd inputs, and stricter about others
		}
		if len(fast.Recipients) == 0 {
			fast.Recipients = nil
		}
		if len(slow.Recipients) == 0 {
			slow.Recipients = nil
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %+v\nslow %+v", line, fast, slow)
		}
	})
}

func caseFoldedKey(line string) bool {
	lower := strings.ToLower(line)
	for _, k := range []string{"queue_name", "queue_id", "arrival_time", "message_size", "forced_expire", "sender", "recipients", "address", "delay_reason"} {
		if strings.Count(lower, `"`+k+`"`) != strings.Count(line, `"`+k+`"`) {
			return true
		}
	}
	return strings.Contains(lower, "\\u") // an escaped member name
}

// TestFilterRefusesUnknownKeys: a misspelled key must not widen a filter to
// the whole queue (issue #13 finding 5); json's DisallowUnknownFields does
// not reach into Filter's own unmarshaler, so it checks them itself.
func TestFilterRefusesUnknownKeys(t *testing.T) {
	var f Filter
	err := json.Unmarshal([]byte(`{"sendr":"x@example.org"}`), &f)
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Field != "filter.sendr" {
		t.Fatalf("unknown key: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"sender":"x@example.org","min_age":"90m"}`), &f); err != nil || f.Sender != "x@example.org" || f.MinAge != 90*time.Minute {
		t.Fatalf("known keys: %+v %v", f, err)
	}
	f = Filter{Sender: "   "}
	if err := f.Normalize(); err != nil || !f.Empty() {
		t.Fatalf("a blank sender must leave an empty filter: %+v %v", f, err)
	}
	if _, err := ParseFilter(url.Values{"sendr": {"x"}}); !errors.As(err, &ue) || ue.Field != "sendr" {
		t.Fatalf("unknown query key: %v", err)
	}
}

// TestFilterKeysExact: a second spelling of a key ("SENDER" after
// "sender") is refused, not taken as the last word: encoding/json's
// case-insensitive matching let {"sender":"a@x","SENDER":""} act on
// every sender of the queue.
func TestFilterKeysExact(t *testing.T) {
	for _, in := range []string{
		`{"queue":"deferred","sender":"a@example.org","SENDER":""}`,
		`{"Queue":"hold"}`,
		`{"MIN_AGE":"1h"}`,
	} {
		var f Filter
		err := json.Unmarshal([]byte(in), &f)
		var ue *store.UserError
		if !errors.As(err, &ue) || !strings.HasPrefix(ue.Field, "filter.") || ue.Field == "filter.queue" || ue.Field == "filter.sender" {
			t.Errorf("%s: %+v %v, want an unknown-field refusal", in, f, err)
		}
	}
}

// TestSelectFirst: the first k by selection are the first k of a full
// sort, for every sort key, with ties on the key.
func TestSelectFirst(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var entries entryList
	for range 2000 {
		entries = append(entries, queueEntry{
			id: fmt.Sprintf("4jZZFn%04dzz1SCLg", rng.IntN(10000)), sender: fmt.Sprintf("s%d@x", rng.IntN(20)),
			arrival: int64(rng.IntN(50)), size: int64(rng.IntN(30)),
		})
	}
	s := &queueSnapshot{set: entries}
	all := make([]int32, len(entries))
	for i := range all {
		all[i] = int32(i)
	}
	for _, key := range []string{"arrival", "-arrival", "size", "-size", "sender", "-sender"} {
		cmpf := s.compareFunc(key)
		sorted := slices.Clone(all)
		slices.SortFunc(sorted, cmpf)
		for _, k := range []int{0, 1, 7, 50, 250, 1999, 2000, 2500} {
			got := selectFirst(slices.Clone(all), k, cmpf)
			want := sorted[:min(k, len(sorted))]
			for i := range want {
				if cmpf(got[i], want[i]) != 0 {
					t.Fatalf("%s k=%d: position %d differs", key, k, i)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%s k=%d: %d selected, want %d", key, k, len(got), len(want))
			}
		}
	}
}

// TestFilterMatchesSubject: the free-text filter q looks at the decoded
// subject too (issue #17), ignoring case, also in a subject that is not
// ASCII.
func TestFilterMatchesSubject(t *testing.T) {
	s := &queueSnapshot{asOf: time.Unix(1_800_000_000, 0), set: entryList{
		{id: "4jZZFn03xzz1SCLg", sender: "a@x.test", subject: "Grüße aus München", rcpts: []Recipient{{Address: "r@y.test"}}},
		{id: "4jZZGW40dHz1SC8n", sender: "b@x.test", subject: "Invoice 42", rcpts: []Recipient{{Address: "r@y.test"}}},
		{id: "4jZZJl0wcSz7h4AB", sender: "c@x.test", rcpts: []Recipient{{Address: "r@y.test"}}},
	}}
	for q, want := range map[string][]string{
		"münchen":    {"4jZZFn03xzz1SCLg"},
		"AUS":        {"4jZZFn03xzz1SCLg"},
		"invoice 42": {"4jZZGW40dHz1SC8n"},
		"x.test":     {"4jZZFn03xzz1SCLg", "4jZZGW40dHz1SC8n", "4jZZJl0wcSz7h4AB"},
		"nowhere":    nil,
	} {
		f := Filter{Q: q}
		if err := f.Normalize(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range s.page(f).Items {
			got = append(got, m.QueueID)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("q=%q: %v, want %v", q, got, want)
		}
	}
	if p := s.page(Filter{Limit: 10}); p.Items[0].Subject != "Grüße aus München" || p.Items[2].Subject != "" {
		t.Errorf("subjects in the page: %+v", p.Items)
	}
}

// TestCheckIDsBounds: one request names at most MaxActionIDs messages (a
// bigger list is refused whole, naming the field, before any id is looked
// at); duplicates go, the order stays.
func TestCheckIDsBounds(t *testing.T) {
	ids := make([]string, MaxActionIDs+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("%012X", i+1)
	}
	var ue *store.UserError
	if _, err := checkIDs(ids); !errors.As(err, &ue) || ue.Field != "ids" || !strings.Contains(ue.Msg, "at most 200000") {
		t.Fatalf("%d ids: %v, want refused", len(ids), err)
	}
	got, err := checkIDs(ids[:MaxActionIDs])
	if err != nil || len(got) != MaxActionIDs {
		t.Fatalf("%d ids: %d kept, %v", MaxActionIDs, len(got), err)
	}
	got, err = checkIDs([]string{ids[2], ids[0], ids[2], ids[1], ids[0]})
	if err != nil || !slices.Equal(got, []string{ids[2], ids[0], ids[1]}) {
		t.Fatalf("duplicates: %v %v", got, err)
	}
}
