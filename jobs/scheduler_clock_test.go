package jobs

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// steppedSchedule runs every `every`, except that the second time cron
// asks, once armed, the run it gets is `back` later: the next run cron
// computes right after a run, just before the wall clock is set back by
// `back` (cron then waits for that wall time, `back` longer). The
// scheduler's clock seam is its schedule: cron reads the wall clock only
// to ask the schedule and compare with its answer.
type steppedSchedule struct {
	every, back time.Duration

	mu    sync.Mutex
	armed bool
	calls int // since armed
}

func (s *steppedSchedule) Next(t time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.armed {
		s.calls++
		if s.calls == 2 {
			return t.Add(s.every + s.back)
		}
	}
	return t.Add(s.every)
}

func (s *steppedSchedule) arm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = true
}

// TestScheduleSurvivesClockSetBack: a job whose next run cron computed
// before the wall clock was set back by an hour does not wait that hour:
// it runs at its monotonic deadline (its interval plus the grace after
// the last run), is scheduled again from the clock as it reads then, and
// goes on running; the overdue run is logged.
func TestScheduleSurvivesClockSetBack(t *testing.T) {
	logs := &logCounter{}
	s := NewScheduler(slog.New(logs))
	s.grace = 200 * time.Millisecond
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	sched := &steppedSchedule{every: 300 * time.Millisecond, back: time.Hour}
	runs := make(chan struct{}, 16)
	s.addSchedule("job", sched, func(ctx context.Context) { runs <- struct{}{} })
	sched.arm() // cron's first question is at Start, its second after the first run
	s.Start()
	for i := 1; i <= 3; i++ {
		select {
		case <-runs:
		case <-time.After(15 * time.Second):
			t.Fatalf("run %d did not come: the job waits for a wall time an hour after the clock was set back", i)
		}
		if i == 2 {
			// The overdue run scheduled the job again from the clock
			// as it reads now, not an hour ahead.
			s.mu.Lock()
			id := s.entries["job"].id
			s.mu.Unlock()
			if next := s.cron.Entry(id).Next; !next.Before(time.Now().Add(10 * time.Minute)) {
				t.Fatalf("after the overdue run cron still waits until %v", next)
			}
		}
	}
	if n := logs.count("scheduled job overdue: the system clock was probably set back; running it now and rescheduling it from the current time"); n < 1 {
		t.Fatalf("%d overdue runs logged", n)
	}
}

// TestLongestInterval: the monotonic deadline of a daily schedule is a
// day after its last run, of one on weekdays three days (Friday to
// Monday), of one every 6 hours 6 hours; a yearly one's is the longer
// year, a monthly one's on the 31st the two months it skips a month.
func TestLongestInterval(t *testing.T) {
	from := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC) // a Wednesday
	for spec, want := range map[string]time.Duration{
		"17 3 * * *":  24 * time.Hour,
		"0 3 * * 1-5": 72 * time.Hour,
		"@every 6h":   6 * time.Hour,
		"0 0 3 1 *":   366 * 24 * time.Hour, // yearly: 2028 is a leap year
		"0 3 31 * *":  61 * 24 * time.Hour,  // 31 May to 31 July
	} {
		sched, err := ParseSchedule(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := longestInterval(sched, from); got != want {
			t.Errorf("%s: %v, want %v", spec, got, want)
		}
	}
}
