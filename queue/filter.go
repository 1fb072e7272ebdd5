package queue

import (
	"cmp"
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"postdeck/store"
)

// Filter selects, orders and pages queued messages. Its fields are the
// query parameters of GET /api/v1/queue and the "filter" object of POST
// /api/v1/queue/actions; the zero value lists everything, oldest first,
// DefaultPageSize rows.
type Filter struct {
	// Queue restricts the listing to one queue (Names); "" is all.
	Queue string `json:"queue,omitempty"`
	// Q is a case-insensitive substring of the queue id, sender, a
	// recipient address, a delay reason or the subject (as listed:
	// decoded, its first SubjectListMax characters; only the index knows
	// subjects, so without it Q does not look at them).
	Q string `json:"q,omitempty"`
	// Sender and Recipient are case-insensitive substrings of the envelope
	// sender ("MAILER-DAEMON" for the null sender) and of a recipient,
	// except a value that starts with "@", which is one domain: it
	// matches an address whose domain is exactly that one (addressMatch).
	Sender    string `json:"sender,omitempty"`
	Recipient string `json:"recipient,omitempty"`
	// MinAge keeps messages that arrived at least this long ago. In JSON
	// and query strings: seconds, or a Go duration such as "90m".
	MinAge time.Duration `json:"-"`
	// Sort is arrival (oldest first, the default), size (smallest first)
	// or sender (A-Z); a leading "-" reverses it ("-size": largest first).
	Sort string `json:"sort,omitempty"`
	// Offset and Limit page the sorted matches. Limit 0 means
	// DefaultPageSize; at most MaxPageSize. Both are ignored by
	// ActionFilter, which acts on every match.
	Offset int `json:"offset,omitempty"`
	Limit  int `json:"limit,omitempty"`
}

// Paging limits of List.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// MaxFilterText is how many characters each text of a Filter (Q,
// Sender, Recipient) may have.
const MaxFilterText = 256

var sortKeys = []string{"arrival", "size", "sender"}

// filterKeys are the query parameters ParseFilter reads.
var filterKeys = []string{"queue", "q", "sender", "recipient", "min_age", "sort", "offset", "limit"}

// Empty reports whether f selects every message (no queue, text or age
// restriction; sort and paging do not select).
func (f Filter) Empty() bool {
	return f.Queue == "" && f.Q == "" && f.Sender == "" && f.Recipient == "" && f.MinAge == 0
}

// Normalize checks f and fills in defaults. Errors name the query field.
func (f *Filter) Normalize() error {
	f.Queue = strings.TrimSpace(f.Queue)
	if f.Queue != "" {
		if _, ok := queueIndex(f.Queue); !ok {
			return store.Invalid("queue", "Queue must be one of %s", strings.Join(Names, ", "))
		}
	}
	for _, t := range []struct {
		field string
		v     *string
	}{{"q", &f.Q}, {"sender", &f.Sender}, {"recipient", &f.Recipient}} {
		*t.v = strings.TrimSpace(*t.v)
		if utf8.RuneCountInString(*t.v) > MaxFilterText {
			return store.Invalid(t.field, "%s may be at most %d characters", filterLabels[t.field], MaxFilterText)
		}
		if !utf8.ValidString(*t.v) {
			return store.Invalid(t.field, "%s must be valid UTF-8 text", filterLabels[t.field])
		}
	}
	if f.MinAge < 0 {
		return store.Invalid("min_age", "Minimum age must not be negative")
	}
	if f.Sort == "" {
		f.Sort = "arrival"
	}
	if !slices.Contains(sortKeys, strings.TrimPrefix(f.Sort, "-")) {
		return store.Invalid("sort", "Sort must be arrival, size or sender, optionally with a leading - for descending order")
	}
	if f.Offset < 0 {
		return store.Invalid("offset", "Offset must not be negative")
	}
	if f.Limit < 0 || f.Limit > MaxPageSize {
		return store.Invalid("limit", "Limit must be between 1 and %d", MaxPageSize)
	}
	if f.Limit == 0 {
		f.Limit = DefaultPageSize
	}
	return nil
}

// ParseFilter reads a Filter from query parameters (queue, q, sender,
// recipient, min_age, sort, offset, limit) and normalizes it.
func ParseFilter(v url.Values) (Filter, error) {
	for k := range v {
		if !slices.Contains(filterKeys, k) {
			return Filter{}, store.Invalid(truncate(k, 40), "Unknown filter field %q; a filter has %s", truncate(k, 40), strings.Join(filterKeys, ", "))
		}
	}
	f := Filter{
		Queue:     v.Get("queue"),
		Q:         v.Get("q"),
		Sender:    v.Get("sender"),
		Recipient: v.Get("recipient"),
		Sort:      v.Get("sort"),
	}
	var err error
	if f.MinAge, err = parseMinAge(v.Get("min_age")); err != nil {
		return Filter{}, err
	}
	if f.Offset, err = parseNonNegative("offset", v.Get("offset")); err != nil {
		return Filter{}, err
	}
	if f.Limit, err = parseNonNegative("limit", v.Get("limit")); err != nil {
		return Filter{}, err
	}
	return f, f.Normalize()
}

// UnmarshalJSON reads a Filter with min_age as seconds or a duration
// string. Call Normalize afterwards.
//
// Unknown keys are refused: a misspelled key ("sendr") must not widen a
// filter to the whole queue (json's DisallowUnknownFields does not reach
// into a custom unmarshaler).
func (f *Filter) UnmarshalJSON(b []byte) error {
	type plain Filter
	var aux struct {
		plain
		MinAge json.RawMessage `json:"min_age"`
	}
	// encoding/json matches keys without regard to case and the last
	// spelling wins, so {"sender":"a@x","SENDER":""} would act on every
	// sender: keys must be spelled exactly (webui's exact-key check
	// stops at a type that decodes itself).
	var keys map[string]json.RawMessage
	if json.Unmarshal(b, &keys) == nil {
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			if !slices.Contains(filterKeys, k) {
				return store.Invalid("filter."+truncate(k, 40), "Unknown filter field %q; a filter has queue, q, sender, recipient, min_age and sort", truncate(k, 40))
			}
		}
	}
	// Unknown keys are refused above, spelled exactly.
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*f = Filter(aux.plain)
	if len(aux.MinAge) == 0 || string(aux.MinAge) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(aux.MinAge, &s); err != nil {
		s = string(aux.MinAge) // a number
	}
	d, err := parseMinAge(s)
	if err != nil {
		return err
	}
	f.MinAge = d
	return nil
}

// MarshalJSON writes min_age as whole seconds, or as a duration string
// ("1.5s") when it has a fraction of a second: a filter passed on to
// another node (admin.PeerQueueAction) must select there what it selects
// here, and 500ms cut to 0 would be no age at all.
func (f Filter) MarshalJSON() ([]byte, error) {
	type plain Filter
	var minAge any
	switch {
	case f.MinAge == 0:
	case f.MinAge%time.Second == 0:
		minAge = int64(f.MinAge / time.Second)
	default:
		minAge = f.MinAge.String()
	}
	return json.Marshal(struct {
		plain
		MinAge any `json:"min_age,omitempty"`
	}{plain(f), minAge})
}

func parseMinAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(100*365*24*time.Hour/time.Second) {
			return 0, store.Invalid("min_age", "Minimum age must be a number of seconds or a duration such as 90m")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, store.Invalid("min_age", "Minimum age must be a number of seconds or a duration such as 90m")
	}
	return d, nil
}

// filterLabels name the filter's fields in sentences, as the queue page
// labels them.
var filterLabels = map[string]string{
	"q": "Search", "sender": "Sender", "recipient": "Recipient",
	"offset": "Offset", "limit": "Limit", "min_age": "Minimum age",
}

func parseNonNegative(field, s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, store.Invalid(field, "%s must be a whole number, 0 or more", filterLabels[field])
	}
	return n, nil
}

// queueMatcher is a normalized filter ready to test snapshot entries.
type queueMatcher struct {
	queue        int // -1: any
	q            string
	sender, rcpt string
	maxArrival   int64 // unix seconds; arrival must be <= this (min_age)
	useAge       bool
}

func newMatcher(f Filter, asOf time.Time) queueMatcher {
	m := queueMatcher{queue: -1, q: f.Q, sender: f.Sender, rcpt: f.Recipient}
	if i, ok := queueIndex(f.Queue); ok {
		m.queue = int(i)
	}
	if f.MinAge > 0 {
		m.useAge = true
		m.maxArrival = asOf.Add(-f.MinAge).Unix()
	}
	return m
}

func (m *queueMatcher) match(e *queueEntry) bool {
	if m.queue >= 0 && int(e.queue) != m.queue {
		return false
	}
	if m.useAge && e.arrival > m.maxArrival {
		return false
	}
	if m.sender != "" && !addressMatch(e.sender, m.sender) {
		return false
	}
	if m.rcpt != "" && !slices.ContainsFunc(e.rcpts, func(r Recipient) bool { return addressMatch(r.Address, m.rcpt) }) {
		return false
	}
	if m.q != "" {
		if containsFold(e.id, m.q) || containsFold(e.sender, m.q) || containsFold(e.subject, m.q) {
			return true
		}
		return slices.ContainsFunc(e.rcpts, func(r Recipient) bool {
			return containsFold(r.Address, m.q) || containsFold(r.DelayReason, m.q)
		})
	}
	return true
}

// addressMatch reports whether addr matches a Sender or Recipient filter
// value v: a value that starts with "@" names one domain, and matches the
// addresses that end with it, ignoring case ("@partner.example" is not
// partner.example.net: on a bad day a hold or delete by that filter must
// not take another domain's mail, and the queue summary's and dashboard's
// links to a domain's messages list that domain's alone); any other value
// matches any part of the address.
func addressMatch(addr, v string) bool {
	if strings.HasPrefix(v, "@") {
		return len(addr) >= len(v) && strings.EqualFold(addr[len(addr)-len(v):], v)
	}
	return containsFold(addr, v)
}

// containsFold reports whether sub is in s, ignoring case, without
// allocating for ASCII text.
func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	if len(sub) > len(s) {
		return false
	}
	// An ASCII sub can only match ASCII bytes of s (UTF-8 never uses
	// them inside another character): no need to lower-case a
	// non-ASCII s (a subject), which would allocate for every message.
	if !asciiOnly(sub) {
		return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
	}
	first := foldASCII(sub[0])
	for i := 0; i+len(sub) <= len(s); i++ {
		if foldASCII(s[i]) != first {
			continue
		}
		j := 1
		for j < len(sub) && foldASCII(s[i+j]) == foldASCII(sub[j]) {
			j++
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

func foldASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func asciiOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// page filters, sorts and pages the snapshot. Only indexes of matches are
// collected; rows are built for the page alone.
func (s *queueSnapshot) page(f Filter) Page {
	m := newMatcher(f, s.asOf)
	idx := make([]int32, 0, 256)
	var e queueEntry
	for i := range int32(s.set.count()) {
		if s.set.load(i, &e) && m.match(&e) { // false: a free slot of the index
			idx = append(idx, i)
		}
	}
	total := len(idx)
	if k := f.Offset + f.Limit; k < total/8 {
		// Only the first k in order are needed: select them (n log k)
		// instead of sorting every match.
		idx = selectFirst(idx, k, s.compareFunc(f.Sort))
	} else {
		slices.SortFunc(idx, s.compareFunc(f.Sort))
	}
	p := Page{Total: total, Offset: f.Offset, Limit: f.Limit, AsOf: s.asOf, Items: []Message{}}
	if f.Offset < len(idx) {
		end := min(f.Offset+f.Limit, len(idx))
		for _, i := range idx[f.Offset:end] {
			s.set.load(i, &e)
			p.Items = append(p.Items, e.message(s.asOf))
		}
	}
	return p
}

// compareFunc orders entry indexes by key (arrival, size or sender, "-"
// for descending), then by queue id so that paging is stable.
func (s *queueSnapshot) compareFunc(key string) func(i, j int32) int {
	desc := strings.HasPrefix(key, "-")
	var less func(a, b *queueEntry) int
	switch strings.TrimPrefix(key, "-") {
	case "size":
		less = func(a, b *queueEntry) int { return cmp.Compare(a.size, b.size) }
	case "sender":
		less = func(a, b *queueEntry) int { return strings.Compare(a.sender, b.sender) }
	default:
		less = func(a, b *queueEntry) int { return cmp.Compare(a.arrival, b.arrival) }
	}
	var a, b queueEntry
	return func(i, j int32) int {
		s.set.loadHead(i, &a)
		s.set.loadHead(j, &b)
		c := less(&a, &b)
		if desc {
			c = -c
		}
		if c == 0 {
			c = strings.Compare(a.id, b.id) // a stable order for paging
		}
		return c
	}
}

// selectFirst returns the k first of idx in the order of compare, sorted:
// a bounded max-heap of the k best seen so far.
func selectFirst(idx []int32, k int, compare func(i, j int32) int) []int32 {
	if k <= 0 {
		return idx[:0]
	}
	h := make([]int32, 0, k)
	down := func(i int) {
		for {
			l, big := 2*i+1, i
			if l < len(h) && compare(h[l], h[big]) > 0 {
				big = l
			}
			if r := l + 1; r < len(h) && compare(h[r], h[big]) > 0 {
				big = r
			}
			if big == i {
				return
			}
			h[i], h[big] = h[big], h[i]
			i = big
		}
	}
	for _, x := range idx {
		switch {
		case len(h) < k:
			h = append(h, x)
			for i := len(h) - 1; i > 0; {
				parent := (i - 1) / 2
				if compare(h[i], h[parent]) <= 0 {
					break
				}
				h[i], h[parent] = h[parent], h[i]
				i = parent
			}
		case compare(x, h[0]) < 0:
			h[0] = x
			down(0)
		}
	}
	slices.SortFunc(h, compare)
	return h
}

// truncate shortens s to at most n bytes (on a rune boundary) for a
// sentence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
