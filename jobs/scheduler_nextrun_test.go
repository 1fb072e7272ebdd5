package jobs

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// stepWall makes s read the wall clock stepped by what the returned
// function sets (zero at first), as after NTP stepped the system clock:
// the monotonic clock, on which cron's and Later's waits are measured,
// does not move. Call it before Start.
func stepWall(s *Scheduler) func(time.Duration) {
	var step atomic.Int64
	s.wall = func(t time.Time) time.Time { return t.Round(0).UTC().Add(time.Duration(step.Load())) }
	return func(d time.Duration) { step.Store(int64(d)) }
}

// shutdownAtCleanup stops s when the test ends.
func shutdownAtCleanup(t *testing.T, s *Scheduler) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
}

// TestNextRunAfterClockSetForward: after the wall clock is set forward
// by 90 minutes, Next tells when cron's wait really ends in the clock as
// it reads now, not the wall time cron computed before the step (then
// 30 minutes in the past): the hourly job 90 minutes later than before,
// and the two-hourly one at the same time, since the wake that runs the
// hourly one then finds its time passed too.
func TestNextRunAfterClockSetForward(t *testing.T) {
	s := NewScheduler(testLogger(t))
	step := stepWall(s)
	shutdownAtCleanup(t, s)
	noop := func(context.Context) {}
	if err := s.Add("hourly", "@every 1h", noop); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("two-hourly", "@every 2h", noop); err != nil {
		t.Fatal(err)
	}
	s.Start()
	hourly, twoHourly := s.Next("hourly"), s.Next("two-hourly")
	if now := s.wall(time.Now()); !hourly.After(now) || !twoHourly.After(hourly) {
		t.Fatalf("before the step: hourly at %v, two-hourly at %v, now %v", hourly, twoHourly, now)
	}

	step(90 * time.Minute)
	now := s.wall(time.Now())
	if got, want := s.Next("hourly"), hourly.Add(90*time.Minute); !got.Equal(want) {
		t.Errorf("hourly job: next run %v after the clock was set forward 90 minutes, want %v (now %v)", got, want, now)
	}
	if got, want := s.Next("two-hourly"), hourly.Add(90*time.Minute); !got.Equal(want) {
		t.Errorf("two-hourly job: next run %v after the clock was set forward 90 minutes, want %v (now %v)", got, want, now)
	}
	for _, name := range []string{"hourly", "two-hourly"} {
		if next := s.Next(name); next.Before(now) {
			t.Errorf("%s: next run %v is in the past (now %v)", name, next, now)
		}
	}
}

// TestNextRunNotLaterThanTheRunAfterClockSetForward: the run of a job
// whose clock was set forward while cron waited comes no earlier than
// the next run Next told after the step; a time later than the run
// would be as wrong as one in the past.
func TestNextRunNotLaterThanTheRunAfterClockSetForward(t *testing.T) {
	s := NewScheduler(testLogger(t))
	step := stepWall(s)
	shutdownAtCleanup(t, s)
	ranAt := make(chan time.Time, 4)
	if err := s.Add("job", "@every 2s", func(context.Context) {
		select {
		case ranAt <- s.wall(time.Now()):
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	before := s.Next("job")
	step(time.Hour)
	told := s.Next("job")
	if !told.Equal(before.Add(time.Hour)) {
		t.Fatalf("next run %v after the clock was set forward an hour, want %v", told, before.Add(time.Hour))
	}
	select {
	case at := <-ranAt:
		if at.Before(told) {
			t.Fatalf("the job ran at %v, before the next run told, %v", at, told)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the job did not run")
	}
}

// TestLaterAtAfterClockSetForward: a retry set up with Later waits on
// the monotonic clock, so after the wall clock is set forward an hour it
// starts an hour later in the clock as it reads now than LaterAt told
// before the step.
func TestLaterAtAfterClockSetForward(t *testing.T) {
	s := NewScheduler(testLogger(t))
	step := stepWall(s)
	shutdownAtCleanup(t, s)
	s.Later("retry", 30*time.Minute, func(context.Context) {})
	before := s.LaterAt("retry")
	if now := s.wall(time.Now()); !before.After(now) {
		t.Fatalf("retry at %v, now %v", before, now)
	}
	step(time.Hour)
	if got, want := s.LaterAt("retry"), before.Add(time.Hour); !got.Equal(want) {
		t.Fatalf("retry at %v after the clock was set forward an hour, want %v", got, want)
	}
}
