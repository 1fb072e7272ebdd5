package store

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// committer is a group commit for the MPA's writes (a message received,
// handed to Postfix, done): concurrent calls share one transaction and
// its fdatasyncs, like bbolt's Batch, with two differences that matter
// under load, where the MPA's rate is the calls one commit carries
// divided by the time a commit takes (two fdatasyncs).
//
// A group commits when its first call has waited batchDelay, or when no
// call joined it for the idle (batchIdle, longer in a steady flow:
// idleNow): the arrivals stopped (the last messages
// of a burst, or a lone message), and holding the group for the rest of
// batchDelay would only leave its callers, and the CPU, idle. While calls
// keep coming, groups still fill: end to end through Postfix, calls
// arrive about a millisecond apart. Measured (2026-12-04, alternating
// builds): BenchmarkMPAAlone's ratio without the idle rule 0.70-0.78 in
// ten runs, with a 3 ms idle 0.79-0.86 in ten, with 8 ms 0.78-0.83 in
// four (each blast's last one to three groups had waited the whole
// 30 ms, of a blast of about 0.45 s). BenchmarkEndToEnd: 310 commits per
// 1,000 messages with a 3 ms idle (9.5 calls each) instead of 195 (15.5),
// 205 with 8 ms, and the ratio within the noise (0.90-0.98 with it,
// 0.92-0.96 without); committing whenever the writer was free instead
// made 1,700 commits and dropped that ratio to 0.85.
//
// bbolt closes a batch at MaxBatchSize calls, and the full batch then
// waits for the writer with no more than that; here a group that reached
// batchSize asks for the writer at once but takes every call that arrives
// until it commits, up to batchMax. And once it has the writer it waits,
// for at most batchGather, until it holds as many calls as the last
// commit: the callers that commit released (a worker sends its final dot
// and starts its next message, a session answers 250 and reads the next
// one) come back within about that time, and catching them in this
// commit rather than the next lets a worker deliver a message per commit
// instead of one every other commit. Measured with BenchmarkMPAAlone's
// load, in one process with blasts alternating between variants (the
// machine is shared and noisy): 22-23 calls per commit instead of bbolt's
// 16; median rate against bbolt's Batch 1.04x without the gather, 1.24x
// and 1.42x with a fixed 2 ms sleep, and the wait for the last commit's
// count 1.39x the fixed sleep and 1.11x bbolt's Batch in a run at load
// average 35; CPU per message 5-15% lower.
type committer struct {
	db *bolt.DB
	// delay, idle and idleMax are batchDelay, batchIdle and batchIdleMax
	// (tests change them).
	delay, idle, idleMax time.Duration
	mu                   sync.Mutex
	open                 *group     // the group taking calls, if any
	writing              sync.Mutex // held by the group committing
	lastN                int        // calls in the last commit (under writing)
	// lastCall is when the latest call came, gap the running mean of the
	// time between calls, each counted up to idleMax (under mu).
	lastCall time.Time
	gap      time.Duration
	// Counters since Open (CommitStats).
	nCommits, nCalls atomic.Uint64
	commitNanos      atomic.Int64
}

type group struct {
	calls []batchCall
	timer *time.Timer
	once  sync.Once
	// joined gets a token when a call joins (run waits on it to gather).
	joined chan struct{}
	// first and last are when the first and the latest call joined.
	first, last time.Time
}

type batchCall struct {
	fn  func(*bolt.Tx) error
	err chan error
}

// errSolo tells a call whose function failed inside a group to run alone.
var errSolo = errors.New("store: run the batched call alone")

// batch runs fn in a transaction shared with concurrent calls and returns
// once it is committed. As with bbolt's Batch, fn may run more than once
// (a group in which another call fails is retried without it) and must
// only depend on tx.
func (c *committer) batch(fn func(*bolt.Tx) error) error {
	errc := make(chan error, 1)
	c.mu.Lock()
	now := time.Now()
	if !c.lastCall.IsZero() {
		c.gap += (min(now.Sub(c.lastCall), c.idleMax) - c.gap) / 8
	}
	c.lastCall = now
	g := c.open
	if g == nil || len(g.calls) >= batchMax {
		g = &group{joined: make(chan struct{}, 1), first: now, last: now}
		c.open = g
		g.timer = time.AfterFunc(min(c.idleNow(), c.delay), func() { c.due(g) })
	} else {
		g.last = now
	}
	g.calls = append(g.calls, batchCall{fn: fn, err: errc})
	if len(g.calls) == batchSize {
		go c.run(g, true)
	}
	select {
	case g.joined <- struct{}{}:
	default:
	}
	c.mu.Unlock()
	err := <-errc
	if err == errSolo {
		err = c.db.Update(fn)
	}
	return err
}

// due runs g once no call joined it for idleNow or its first call has
// waited c.delay; before that it sets its timer for the sooner of the two.
func (c *committer) due(g *group) {
	c.mu.Lock()
	now := time.Now()
	wait := min(c.idleNow()-now.Sub(g.last), c.delay-now.Sub(g.first))
	if wait > 0 && c.open == g {
		g.timer.Reset(wait)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.run(g, false)
}

// idleNow is how long a group waits for its next call: batchIdleGaps
// times the mean gap between calls, at least idle and at most idleMax
// (under mu). A steady but sparse flow (end to end through Postfix, a
// call every millisecond or two) has gaps of a few milliseconds by
// chance, and a fixed 3 ms idle committed at each of them: a commit,
// two fdatasyncs, for every three or four messages. Scaled to the flow,
// the idle only ends a group where the calls really stopped, while a
// dense flow (the MPA alone) keeps the 3 ms floor and a lone call waits
// at most idleMax. Measured (2026-12-05, BenchmarkEndToEnd's pump through
// the MPA only, alternating builds, four rounds of three pumps each on a
// host at load average 14-25): commits per message 0.27-0.40 -> 0.20-0.26,
// this process's CPU per message median 724 -> 677 us (rounds 771, 708,
// 751, 674 -> 662, 637, 697, 728); the MPA alone unchanged (0.06 commits
// per message; rates within the noise).
func (c *committer) idleNow() time.Duration {
	return max(c.idle, min(batchIdleGaps*c.gap, c.idleMax))
}

// run commits g once the writer is free; g takes calls until then, and,
// when gather is set, for batchGather more.
func (c *committer) run(g *group, gather bool) {
	g.once.Do(func() {
		c.writing.Lock()
		defer c.writing.Unlock()
		if gather {
			c.gather(g)
		}
		c.mu.Lock()
		g.timer.Stop()
		if c.open == g {
			c.open = nil
		}
		calls := g.calls
		c.mu.Unlock()
		c.lastN = len(calls)
		for len(calls) > 0 {
			failed := -1
			t0 := time.Now()
			err := c.db.Update(func(tx *bolt.Tx) error {
				for i, cl := range calls {
					if err := safeCall(cl.fn, tx); err != nil {
						failed = i
						return err
					}
				}
				return nil
			})
			if failed >= 0 {
				calls[failed].err <- errSolo
				calls = append(calls[:failed:failed], calls[failed+1:]...)
				continue
			}
			c.nCommits.Add(1)
			c.nCalls.Add(uint64(len(calls)))
			c.commitNanos.Add(int64(time.Since(t0)))
			for _, cl := range calls {
				cl.err <- err
			}
			return
		}
	})
}

// gather waits, for at most batchGather, until g holds as many calls as
// the last commit did.
func (c *committer) gather(g *group) {
	t := time.NewTimer(batchGather)
	defer t.Stop()
	for {
		c.mu.Lock()
		n := len(g.calls)
		c.mu.Unlock()
		if n >= c.lastN || n >= batchMax {
			return
		}
		select {
		case <-g.joined:
		case <-t.C:
			return
		}
	}
}

// safeCall runs fn, turning a panic into an error (the caller sees it
// when its call runs alone).
func safeCall(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicked{p}
		}
	}()
	return fn(tx)
}

type panicked struct{ reason any }

func (p panicked) Error() string { return "panic in a batched store call" }

// CommitStats reports the MPA's group commits since Open: how many, how
// many calls they carried, and the time spent in them (transaction and
// fdatasyncs), for BenchmarkMPAAlone.
func (db *DB) CommitStats() (commits, calls uint64, spent time.Duration) {
	c := &db.commits
	return c.nCommits.Load(), c.nCalls.Load(), time.Duration(c.commitNanos.Load())
}
