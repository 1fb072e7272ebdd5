package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"postdeck/panics"
	"runtime/debug"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// specParser accepts the five standard cron fields with an optional leading
// seconds field, and descriptors such as @daily or @every 1h.
var specParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour |
	cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule checks a cron spec as the scheduler will read it: five fields
// (minute hour day-of-month month day-of-week), or six with leading seconds,
// or a descriptor (@daily, @every 6h). Times are UTC.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := specParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("parse schedule %q: %w", spec, err)
	}
	return s, nil
}

// Scheduler runs named jobs on cron schedules in UTC. A job whose previous
// run has not finished is skipped, a panic is recovered, logged and counted,
// and Shutdown waits for running jobs.
type Scheduler struct {
	log    *slog.Logger
	cron   *cron.Cron
	ctx    context.Context // cancelled when Shutdown gives up waiting
	cancel context.CancelFunc

	mu      sync.Mutex
	entries map[string]entry
	extra   sync.WaitGroup // one-off runs started with Go or Later
	later   map[string]*laterRun
	stopped bool // Shutdown began: no Later run starts any more
}

// laterRun is a run Later set up that has not started yet.
type laterRun struct {
	at    time.Time
	timer *time.Timer
}

// NewScheduler returns a stopped scheduler.
func NewScheduler(logger *slog.Logger) *Scheduler {
	if logger == nil {
		logger = slog.Default()
	}
	cl := cronLogger{logger}
	ctx, cancel := context.WithCancel(context.Background())
	return &Scheduler{
		log:    logger,
		ctx:    ctx,
		cancel: cancel,
		cron: cron.New(
			cron.WithLocation(time.UTC),
			cron.WithParser(specParser),
			cron.WithLogger(cl),
			// Skip is outermost: cron's SkipIfStillRunning does not release
			// its token when the job panics, so the panic must be recovered
			// inside it or the job would never run again.
			cron.WithChain(cron.SkipIfStillRunning(cl), recoverJob(logger)),
		),
		entries: map[string]entry{},
		later:   map[string]*laterRun{},
	}
}

// Add schedules fn under name, replacing a job of the same name. fn gets a
// context that is cancelled only when Shutdown stops waiting for it.
func (s *Scheduler) Add(name, spec string, fn func(ctx context.Context)) error {
	sched, err := ParseSchedule(spec)
	if err != nil {
		return err
	}
	job := cron.FuncJob(func() {
		s.log.Debug("job start", "job", name)
		fn(s.ctx)
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.entries[name]; ok {
		s.cron.Remove(old.id)
	}
	// Schedule wraps job with the chain (recover, skip-if-still-running)
	// once per entry, so each job is tracked on its own.
	s.entries[name] = entry{id: s.cron.Schedule(sched, job), sched: sched}
	return nil
}

// Remove unschedules the job name; a running run finishes.
func (s *Scheduler) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[name]; ok {
		s.cron.Remove(e.id)
		delete(s.entries, name)
	}
}

// Next returns when job name runs next (zero when unknown). Before Start it
// is computed from the schedule.
func (s *Scheduler) Next(name string) time.Time {
	s.mu.Lock()
	e, ok := s.entries[name]
	s.mu.Unlock()
	if !ok {
		return time.Time{}
	}
	if next := s.cron.Entry(e.id).Next; !next.IsZero() {
		return next
	}
	return e.sched.Next(time.Now().UTC())
}

type entry struct {
	id    cron.EntryID
	sched cron.Schedule
}

// Go runs fn once now, in the background, with the same context, panic
// recovery and Shutdown wait as scheduled jobs.
func (s *Scheduler) Go(name string, fn func(ctx context.Context)) {
	s.extra.Add(1)
	go func() {
		defer s.extra.Done()
		defer recoverPanic(s.log, "job "+name)
		fn(s.ctx)
	}()
}

// Later runs fn once after d, with the same context, panic recovery and
// Shutdown wait as scheduled jobs, unless Cancel(name) or Shutdown comes
// first. A later call for the same name replaces the pending run. name is
// its own: Add, Remove and Next do not see it (LaterAt does).
func (s *Scheduler) Later(name string, d time.Duration, fn func(ctx context.Context)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	if old, ok := s.later[name]; ok {
		old.timer.Stop()
	}
	run := &laterRun{at: time.Now().Add(d)}
	// The timer's function takes s.mu, held here until run is stored.
	run.timer = time.AfterFunc(d, func() {
		s.mu.Lock()
		if s.stopped || s.later[name] != run {
			s.mu.Unlock()
			return
		}
		delete(s.later, name)
		s.extra.Add(1)
		s.mu.Unlock()
		defer s.extra.Done()
		defer recoverPanic(s.log, "job "+name)
		s.log.Debug("job start", "job", name)
		fn(s.ctx)
	})
	s.later[name] = run
}

// Cancel drops the run Later set up under name, when it has not started.
func (s *Scheduler) Cancel(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if run, ok := s.later[name]; ok {
		run.timer.Stop()
		delete(s.later, name)
	}
}

// LaterAt returns when the run Later set up under name starts (zero when
// none is pending).
func (s *Scheduler) LaterAt(name string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if run, ok := s.later[name]; ok {
		return run.at
	}
	return time.Time{}
}

// Start starts running jobs in the background.
func (s *Scheduler) Start() { s.cron.Start() }

// Shutdown stops scheduling and waits for running jobs. When ctx ends first,
// the jobs' context is cancelled and Shutdown still waits for them to
// return (they stop at their next DNS query), then reports ctx's error.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	for name, run := range s.later {
		run.timer.Stop()
		delete(s.later, name)
	}
	s.mu.Unlock()
	stopped := s.cron.Stop()
	done, allDone := context.WithCancel(context.Background())
	go func() {
		<-stopped.Done()
		s.extra.Wait()
		allDone()
	}()
	select {
	case <-done.Done():
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		<-done.Done()
		return fmt.Errorf("shut down scheduler: %w", ctx.Err())
	}
}

// recoverJob recovers a panicking job, logs it with its stack and counts it.
// cron.Recover would log but not count.
func recoverJob(logger *slog.Logger) cron.JobWrapper {
	return func(j cron.Job) cron.Job {
		return cron.FuncJob(func() {
			defer recoverPanic(logger, "scheduled job")
			j.Run()
		})
	}
}

// recoverPanic is deferred at the top of every goroutine the package starts.
func recoverPanic(logger *slog.Logger, what string) {
	if r := recover(); r != nil {
		panics.Recovered(panics.Jobs)
		logger.Error("panic recovered", "in", what, "err", fmt.Sprint(r), "stack", string(debug.Stack()))
	}
}

// recoverTo is recoverPanic for goroutines that report an error: the panic
// becomes *errp.
func recoverTo(logger *slog.Logger, what string, errp *error) {
	if r := recover(); r != nil {
		panics.Recovered(panics.Jobs)
		logger.Error("panic recovered", "in", what, "err", fmt.Sprint(r), "stack", string(debug.Stack()))
		*errp = fmt.Errorf("internal error in %s", what)
	}
}

// cronLogger adapts slog to cron.Logger; cron's chatty info goes to debug.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append([]any{"err", err}, kv...)...)
}
