package queue

import (
	"context"
	"fmt"
	"sync"
	"time"

	"postdeck/panics"
)

// Bouncing a message in the middle of a delivery attempt.
//
// A bounce expires the message (postsuper -f); Postfix's queue manager
// returns an expired message to its sender when it reads it into the
// active queue. A deferred message gets there at once with
// `postqueue -i`; one already in the active queue is in the middle of an
// attempt that `postqueue -i` does not touch (measured on Postfix 3.7:
// it moves deferred files only). With a relay that hangs, that attempt
// lasts until smtp_helo_timeout or smtp_data_*_timeout (minutes), and
// the message then waits in deferred for its next retry time (up to
// maximal_backoff_time, hours): the console had said "bounced". The
// chase follows such messages through the index and triggers each as
// soon as it is deferred.

// chasePoll is how often the chase looks where its messages are.
const chasePoll = time.Second

// chaseFor is how long a message is followed: a message still in the
// active queue after it (waiting for a delivery slot behind a long
// backlog) is returned when Postfix next reads it, as before.
const chaseFor = time.Hour

// chaseMax bounds the messages followed at once (each costs a few lstat
// calls per chasePoll); bounces past it are reported as not triggered.
var chaseMax = MaxTriggerEach

// chase is the set of bounced messages followed until they are deferred.
type chase struct {
	mu      sync.Mutex
	until   map[string]time.Time
	running bool
}

// splitActive returns the ids the index finds in the active queue
// (inDelivery) apart from the others. Without the index every id is in
// now: the chase needs it to follow them.
func (q *Queue) splitActive(ids []string) (now, inDelivery []string) {
	w := q.watcher()
	if w == nil {
		return ids, nil
	}
	for _, id := range ids {
		if _, qi, ok := w.findFile(id); ok && qi == activeQueue {
			inDelivery = append(inDelivery, id)
		} else {
			now = append(now, id)
		}
	}
	return now, inDelivery
}

// add follows ids (at most chaseMax at once) and returns those past the
// bound, which it does not follow. An id already followed is followed
// on, also when the bound is reached: it is never among those returned.
func (c *chase) add(q *Queue, ids []string) (over []string) {
	if len(ids) == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.until == nil {
		c.until = make(map[string]time.Time)
	}
	deadline := time.Now().Add(chaseFor)
	for _, id := range ids {
		if _, ok := c.until[id]; !ok && len(c.until) >= chaseMax {
			over = append(over, id)
			continue
		}
		c.until[id] = deadline
	}
	if !c.running {
		c.running = true
		go q.chaseLoop()
	}
	return over
}

// chaseLoop looks every chasePoll where the followed messages are
// (chaseLook) and triggers the deferred ones. It ends when none is left,
// or when the index stops (Shutdown), which drops them all.
func (q *Queue) chaseLoop() {
	defer func() {
		if r := recover(); r != nil {
			panics.Recovered(panics.Queue)
			q.log.Error("queue: following bounced messages panicked; Postfix returns them at their next retry", "err", fmt.Errorf("panic: %v", r))
			q.chase.mu.Lock()
			q.chase.until, q.chase.running = nil, false
			q.chase.mu.Unlock()
		}
	}()
	tick := time.NewTicker(chasePoll)
	defer tick.Stop()
	for range tick.C {
		due, more := q.chaseLook()
		if len(due) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if _, err := q.trigger(ctx, due); err != nil {
				q.log.Warn("trigger bounced messages after their delivery attempt: Postfix returns them at their next retry", "messages", len(due), "err", err)
			}
			cancel()
		}
		if !more {
			return
		}
	}
}

// chaseLook returns the followed messages that are deferred now, and
// drops them and the messages that left the queue (returned, delivered,
// deleted), went on hold (an administrator's decision) or were followed
// for chaseFor. more is false once none is left to follow, or when the
// index stopped: the chase then ends (running is cleared here, under the
// same lock as add's check, so that an add never finds it running as it
// ends).
func (q *Queue) chaseLook() (due []string, more bool) {
	c := &q.chase
	c.mu.Lock()
	defer c.mu.Unlock()
	w := q.watcher()
	if w == nil || w.stopping() {
		c.until, c.running = nil, false
		return nil, false
	}
	now := time.Now()
	for id, until := range c.until {
		_, qi, ok := w.findFile(id)
		switch {
		case ok && qi == deferredQueue:
			due = append(due, id)
		case ok && qi == activeQueue && now.Before(until):
			continue
		case ok && qi == activeQueue:
			q.log.Info("bounced message still in delivery after an hour: Postfix returns it when it next reads it", "queue_id", id)
		}
		delete(c.until, id)
	}
	if len(c.until) == 0 {
		c.running = false
		return due, false
	}
	return due, true
}
