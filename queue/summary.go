package queue

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Count is the size of one queue.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	Bytes int64  `json:"bytes"`
}

// ShapeBucketMinutes are the age buckets of the queue shape, as Postfix's
// qshape draws them: a message falls in the first bucket whose bound (in
// minutes) its age does not exceed; older ones go to the last, open
// bucket.
var ShapeBucketMinutes = []int{5, 10, 20, 40, 80, 160, 320, 640, 1280}

// ShapeRow is one destination domain's recipients per age bucket:
// len(Buckets) is len(ShapeBucketMinutes)+1.
type ShapeRow struct {
	Domain  string `json:"domain"`
	Total   int    `json:"total"`
	Buckets []int  `json:"buckets"`
}

// Summary is the queue at a glance: counts and bytes per queue, and which
// destination domains wait and for how long (like qshape, over every queue
// but hold, one count per recipient).
type Summary struct {
	AsOf   time.Time `json:"as_of"`
	Queues []Count   `json:"queues"` // every queue, in Names order
	Total  Count     `json:"total"`  // Name "total"
	// ShapeBucketMinutes repeats the bucket bounds for the page.
	ShapeBucketMinutes []int `json:"shape_bucket_minutes"`
	// ShapeTotal sums every domain; Shape holds the top domains by
	// recipients (at most ShapeTopDomains), then by name.
	ShapeTotal ShapeRow   `json:"shape_total"`
	Shape      []ShapeRow `json:"shape"`
	// OldestArrival is when the oldest message of every queue (hold
	// too) arrived, the zero time when the queue is empty: /metrics'
	// oldest age, which is not the API's.
	OldestArrival time.Time `json:"-"`
}

// ShapeTopDomains is how many domains Summary lists.
const ShapeTopDomains = 10

// Summary summarizes the queue from the current snapshot (see List).
func (q *Queue) Summary(ctx context.Context) (Summary, error) {
	if w := q.watcher(); w != nil {
		if asOf, err := w.sync(ctx); err == nil {
			return w.idx.summary(asOf), nil
		} else if ctx.Err() != nil {
			return Summary{}, fmt.Errorf("summarize queue: %w", err)
		}
	}
	snap, err := q.snapshot(ctx)
	if err != nil {
		return Summary{}, err
	}
	return snap.summary(), nil
}

// Overview is the queue as the dashboard shows it: the Summary, the
// oldest deferred message and which of the Summary's Shape domains have
// deferred mail.
type Overview struct {
	Summary Summary
	// OldestDeferred is the deferred message that arrived first (then by
	// queue id, the listing's order); nil when nothing is deferred.
	OldestDeferred *Message
	// Deferring are the domains of Summary.Shape, in its order, that have
	// deferred messages.
	Deferring []DeferringDomain
}

// DeferringDomain is a destination domain with deferred mail.
type DeferringDomain struct {
	Domain string
	// Messages counts the deferred messages with at least one recipient
	// at Domain (its lower-cased part after the last "@", as the shape
	// has it).
	Messages int
	// Oldest is the first of them by arrival, then queue id.
	Oldest Message
}

// Overview summarizes the queue for the dashboard. With the index it
// costs what Summary does (the index keeps both current, tally.go), not
// a scan of the messages.
func (q *Queue) Overview(ctx context.Context) (Overview, error) {
	if w := q.watcher(); w != nil {
		if asOf, err := w.sync(ctx); err == nil {
			return w.idx.overview(asOf), nil
		} else if ctx.Err() != nil {
			return Overview{}, fmt.Errorf("summarize queue: %w", err)
		}
	}
	snap, err := q.snapshot(ctx)
	if err != nil {
		return Overview{}, err
	}
	return snap.overview(), nil
}

// Generation returns, once every change Postfix made before the call is
// in the queue index (as List and Summary wait), a number that changes
// whenever the index does: what was computed from the index at a
// generation still holds while Generation returns the same. ok is false
// when the queue has no index (listings run postqueue).
func (q *Queue) Generation(ctx context.Context) (gen uint64, ok bool, err error) {
	return q.RecentGeneration(ctx, 0)
}

// RecentGeneration is Generation for a view that may be as much as
// within behind: when a sync found the index current less than within
// ago, it answers the index's generation at once, without asking the
// kernel for changes not yet read (a system call per dashboard view was a
// tenth of the view's cost to the daemon under the console's load; perf,
// BenchmarkConsole). Changes postdeck makes through its actions are in
// the index when the action returns (they sync) and so in the next view.
// A zero within always syncs: Generation.
func (q *Queue) RecentGeneration(ctx context.Context, within time.Duration) (gen uint64, ok bool, err error) {
	w := q.watcher()
	if w == nil {
		return 0, false, nil
	}
	if !w.syncedWithin(within) {
		if _, err := w.sync(ctx); err != nil {
			if ctx.Err() != nil {
				return 0, false, fmt.Errorf("queue generation: %w", err)
			}
			return 0, false, nil
		}
	}
	w.idx.mu.RLock()
	defer w.idx.mu.RUnlock()
	return w.idx.gen, true, nil
}

// newSummary is an empty Summary as of asOf.
func newSummary(asOf time.Time) Summary {
	sum := Summary{
		AsOf:               asOf,
		Queues:             make([]Count, len(Names)),
		Total:              Count{Name: "total"},
		ShapeBucketMinutes: ShapeBucketMinutes,
		ShapeTotal:         ShapeRow{Domain: "TOTAL", Buckets: make([]int, len(ShapeBucketMinutes)+1)},
		Shape:              []ShapeRow{},
	}
	for i, n := range Names {
		sum.Queues[i].Name = n
	}
	return sum
}

// summary summarizes the snapshot by scanning every message: without the
// index, and the reference the index's tally is tested against.
func (s *queueSnapshot) summary() Summary {
	sum := newSummary(s.asOf)
	domains := make(map[string]*ShapeRow)
	now := s.asOf.Unix()
	var entry queueEntry
	e := &entry
	for i := range int32(s.set.count()) {
		if !s.set.load(i, e) {
			continue // a free slot of the index
		}
		sum.Queues[e.queue].Count++
		sum.Queues[e.queue].Bytes += e.size
		sum.Total.Count++
		sum.Total.Bytes += e.size
		if oldest := time.Unix(e.arrival, 0).UTC(); sum.OldestArrival.IsZero() || oldest.Before(sum.OldestArrival) {
			sum.OldestArrival = oldest
		}
		if e.queue == holdQueue {
			continue
		}
		b := shapeBucket(now - e.arrival)
		for _, r := range e.rcpts {
			d := recipientDomain(r.Address)
			row := domains[d]
			if row == nil {
				row = &ShapeRow{Domain: d, Buckets: make([]int, len(ShapeBucketMinutes)+1)}
				domains[d] = row
			}
			row.Total++
			row.Buckets[b]++
			sum.ShapeTotal.Total++
			sum.ShapeTotal.Buckets[b]++
		}
	}
	rows := make([]*ShapeRow, 0, len(domains))
	for _, r := range domains {
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b *ShapeRow) int {
		if c := cmp.Compare(b.Total, a.Total); c != 0 {
			return c
		}
		return strings.Compare(a.Domain, b.Domain)
	})
	for _, r := range rows[:min(len(rows), ShapeTopDomains)] {
		sum.Shape = append(sum.Shape, *r)
	}
	return sum
}

// overview is the Overview by scanning every message (see summary).
func (s *queueSnapshot) overview() Overview {
	o := Overview{Summary: s.summary(), Deferring: []DeferringDomain{}}
	older := func(a, b *queueEntry) bool {
		return a.arrival < b.arrival || a.arrival == b.arrival && a.id < b.id
	}
	// The oldest is kept as its slot: what a load puts into the scratch
	// entry may last only until the next.
	var e, cur queueEntry
	oldest := int32(-1)
	for i := range int32(s.set.count()) {
		if s.set.loadHead(i, &e) && e.queue == deferredQueue && (oldest < 0 || older(&e, &cur)) {
			oldest, cur = i, e
			cur.rcpts = nil
		}
	}
	if oldest >= 0 {
		s.set.load(oldest, &e)
		m := e.message(s.asOf)
		o.OldestDeferred = &m
	}
	for _, row := range o.Summary.Shape {
		n := 0
		first := int32(-1)
		for i := range int32(s.set.count()) {
			if !s.set.load(i, &e) || e.queue != deferredQueue || !hasDomain(&e, row.Domain) {
				continue
			}
			n++
			if first < 0 || older(&e, &cur) {
				first, cur = i, e
				cur.rcpts = nil
			}
		}
		if n > 0 {
			s.set.load(first, &e)
			o.Deferring = append(o.Deferring, DeferringDomain{Domain: row.Domain, Messages: n, Oldest: e.message(s.asOf)})
		}
	}
	return o
}

// shapeBucket maps an age in seconds to its bucket index.
func shapeBucket(ageSec int64) int {
	minutes := ageSec / 60
	for i, bound := range ShapeBucketMinutes {
		if minutes <= int64(bound) {
			return i
		}
	}
	return len(ShapeBucketMinutes)
}

// recipientDomain is the lower-cased domain of addr, or addr itself when
// it has none.
func recipientDomain(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return strings.ToLower(addr)
}
