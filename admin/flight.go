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
