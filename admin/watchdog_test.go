package admin

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"postdeck/store"
)

// TestWatchdogBacksOff (issue #17: postdeck brings a Postfix that died
// back up, with a back-off and an audit entry): a Postfix that does not
// start is tried again after twice the check interval, then four times,
// and so on up to 5 minutes, each failure in the audit log; a start that
// works, a Postfix found running or an administrator's stop end the
// back-off. The clock is the test's; the Postfix is a fake (the browser
// test TestWatchdogBringsPostfixBack kills a real one).
func TestWatchdogBacksOff(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s := New(Config{DB: db})
	up, broken, starts := false, true, 0
	w := watchdog{
		running: func(context.Context) bool { return up },
		start: func(context.Context) error {
			starts++
			if broken {
				return errors.New("fatal: bind 127.0.0.1 port 25: Address already in use")
			}
			up = true
			return nil
		},
	}
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)
	const interval = time.Second
	// Two minutes of checks, one per interval.
	var at []time.Duration
	for i := range 120 {
		before := starts
		s.watchOnce(ctx, &w, interval, t0.Add(time.Duration(i)*interval))
		if starts > before {
			at = append(at, time.Duration(i)*interval)
		}
	}
	want := []time.Duration{0, 2 * time.Second, 6 * time.Second, 14 * time.Second, 30 * time.Second, 62 * time.Second}
	if !slices.Equal(at, want) {
		t.Fatalf("start attempts at %v, want %v (waits doubling from twice the interval)", at, want)
	}
	entries, err := db.ListAudit(100)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, e := range entries {
		if e.Actor == "watchdog" && e.Action == "postfix start" && e.Result == ResultFailed {
			failed++
		}
	}
	if failed != len(want) {
		t.Errorf("%d failed starts in the audit log, want %d: %+v", failed, len(want), entries)
	}

	// However many failures, the wait stays at most 5 minutes.
	w.failures, w.next = 40, time.Time{}
	now := t0.Add(time.Hour)
	s.watchOnce(ctx, &w, interval, now)
	if d := w.next.Sub(now); d != 5*time.Minute {
		t.Errorf("after 41 failures the next try is in %v, want 5m", d)
	}

	// Postfix starts at the next try: the back-off is over and the audit
	// log says so.
	broken = false
	s.watchOnce(ctx, &w, interval, w.next)
	if !up || w.failures != 0 || !w.next.IsZero() {
		t.Fatalf("after a start that worked: up %v, failures %d, next %v", up, w.failures, w.next)
	}
	if es, err := db.ListAudit(1); err != nil || len(es) != 1 || es[0].Actor != "watchdog" || es[0].Result != ResultDone {
		t.Errorf("last audit entry %+v %v, want the watchdog's start done", es, err)
	}

	// A Postfix an administrator stopped is left stopped.
	up, starts = false, 0
	s.stoppedByAdmin.Store(true)
	for i := range 10 {
		s.watchOnce(ctx, &w, interval, now.Add(time.Duration(i)*time.Minute))
	}
	if starts != 0 {
		t.Errorf("the watchdog tried %d times to start a Postfix an administrator stopped", starts)
	}
}
