package admin

import (
	"context"
	"fmt"
	"sync"
	"time"

	"postdeck/panics"
)

// freshFlight shares a computation among callers without serving any of
// them something older than their call: a caller gets the result of a
// computation that started after it called, so it reflects every change
// made before (the queue index's own promise). However many call at once,
// one computation runs, and one more waits for it with every caller that
// came meanwhile. The dashboards every administrator keeps open and the
// pollers of /api/v1/status then cost one queue summary per round instead
// of one per request.
type freshFlight[T any] struct {
	mu      sync.Mutex
	running *flightCall[T]
	next    *flightCall[T] // starts when running ends
}

type flightCall[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// flightTimeout bounds one shared computation (it runs on after the
// caller that started it went away).
const flightTimeout = 30 * time.Second

// do returns fn's result from a call that started after this one came.
// fn runs detached from ctx (other callers wait for it too); the caller
// stops waiting when ctx ends. The result is shared: callers must not
// change it.
func (f *freshFlight[T]) do(ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	f.mu.Lock()
	var c *flightCall[T]
	start := false
	switch {
	case f.running == nil:
		c = &flightCall[T]{done: make(chan struct{})}
		f.running, start = c, true
	case f.next == nil:
		c = &flightCall[T]{done: make(chan struct{})}
		f.next = c
	default:
		c = f.next
	}
	f.mu.Unlock()
	if start {
		go f.run(context.WithoutCancel(ctx), c, fn)
	}
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// run computes c, then the next call if callers came meanwhile.
func (f *freshFlight[T]) run(ctx context.Context, c *flightCall[T], fn func(context.Context) (T, error)) {
	for c != nil {
		f.compute(ctx, c, fn)
		close(c.done)
		f.mu.Lock()
		c, f.next = f.next, nil
		f.running = c
		f.mu.Unlock()
	}
}

func (f *freshFlight[T]) compute(ctx context.Context, c *flightCall[T], fn func(context.Context) (T, error)) {
	defer func() {
		if r := recover(); r != nil {
			panics.Recovered(panics.Admin)
			c.err = fmt.Errorf("panic: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, flightTimeout)
	defer cancel()
	c.val, c.err = fn(ctx)
}

// queueCached keeps the last result of a computation over the queue
// index with the index's generation it was computed at (queue.Generation,
// read after the index took in every change made before the call). While
// the generation is the same the queue is the same, and the result is
// served as it is: a dashboard or status view costs a generation check.
// (The computation itself reads the summary the index keeps current, not
// the messages.) A change to the queue makes the next caller wait for a
// computation that started after it (freshFlight). What does move without
// a change are the ages (the result says as of when): after
// queueRefreshAfter the next caller starts a computation in the
// background and is served the result at hand, which is never older than
// queueMaxAge.
type queueCached[T any] struct {
	flight freshFlight[queueResult[T]]

	mu         sync.Mutex
	last       queueResult[T]
	valid      bool
	refreshing bool
}

type queueResult[T any] struct {
	val T
	gen uint64
	at  time.Time
}

const (
	queueRefreshAfter = time.Second
	queueMaxAge       = 10 * time.Second
)

// get returns fn's result for the queue as of the call. gen is
// queue.Generation; without an index (ok false) or when it fails, every
// caller waits for a fresh computation.
func (c *queueCached[T]) get(ctx context.Context, gen func(context.Context) (uint64, bool, error), fn func(context.Context) (T, error)) (T, error) {
	g, ok, err := gen(ctx)
	if err == nil && ok {
		c.mu.Lock()
		if c.valid && c.last.gen == g {
			age := time.Since(c.last.at)
			if age < queueMaxAge {
				v := c.last.val
				if age >= queueRefreshAfter && !c.refreshing {
					c.refreshing = true
					go c.refresh(gen, fn)
				}
				c.mu.Unlock()
				return v, nil
			}
		}
		c.mu.Unlock()
	}
	r, err := c.flight.do(ctx, c.compute(gen, fn))
	return r.val, err
}

// compute reads the generation before fn reads the index: the result is
// of that generation or a later one, so it is never served for a queue
// it did not see.
func (c *queueCached[T]) compute(gen func(context.Context) (uint64, bool, error), fn func(context.Context) (T, error)) func(context.Context) (queueResult[T], error) {
	return func(ctx context.Context) (queueResult[T], error) {
		at := time.Now()
		g, ok, gerr := gen(ctx)
		v, err := fn(ctx)
		if err != nil {
			return queueResult[T]{}, err
		}
		r := queueResult[T]{val: v, gen: g, at: at}
		c.mu.Lock()
		if gerr == nil && ok && (!c.valid || !at.Before(c.last.at)) {
			c.last, c.valid = r, true
		}
		c.mu.Unlock()
		return r, nil
	}
}

// refresh computes again in the background, for ages that moved.
func (c *queueCached[T]) refresh(gen func(context.Context) (uint64, bool, error), fn func(context.Context) (T, error)) {
	defer func() {
		c.mu.Lock()
		c.refreshing = false
		c.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), flightTimeout)
	defer cancel()
	_, _ = c.flight.do(ctx, c.compute(gen, fn))
}
