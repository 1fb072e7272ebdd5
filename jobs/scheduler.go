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
//
// The schedule follows the wall clock, so a clock that is stepped (NTP
// correcting a bad hardware clock) moves the runs; the waits themselves
// are measured on the monotonic clock. A clock set forward moves one run
// of a job, never into a loop: the wait for the run already due ends
// when it would have, later than its time on the stepped clock (and runs
// the jobs whose time that clock then shows with it, earlier than
// theirs), and the next run is computed from the new time. A clock set back would make the job wait for the old time again,
// as long as the step (a year for a hardware clock a year ahead), so
// each job also has a deadline on the monotonic clock: its schedule's
// longest interval (a day for a daily schedule) plus overdueGrace after
// its last run. A job that reaches it runs then, and its schedule is
// computed again from the wall clock as it reads now; that can add one
// run soon after, then the job follows its schedule again. Next and
// LaterAt tell when a run really starts, in the wall clock as it reads
// now: after a step forward, later than the wall time cron computed.
type Scheduler struct {
	log    *slog.Logger
	cron   *cron.Cron
	chain  cron.Chain      // skip if still running, recover; one per entry
	ctx    context.Context // cancelled when Shutdown gives up waiting
	cancel context.CancelFunc
	// grace is how long after its monotonic deadline (the schedule's
	// longest interval after the last run) a job counts as overdue;
	// overdueGrace, shorter in tests.
	grace time.Duration
	// wall returns the wall-clock reading of t, a time.Now() reading
	// (t.Round(0) in UTC); tests add a step to it.
	wall func(t time.Time) time.Time
	// armed is when cron last read the clock to set its timer.
	armed cronArmed

	mu      sync.Mutex
	entries map[string]*entry
	extra   sync.WaitGroup // one-off runs started with Go or Later, overdue runs
	later   map[string]*laterRun
	started bool // Start ran: the overdue watches are armed
	stopped bool // Shutdown began: no Later run starts any more
}

// overdueGrace is how much later than the schedule's longest interval
// after its last run a job counts as overdue (the wall clock was set
// back): late enough that the schedule's own run always comes first
// while the clock keeps time.
const overdueGrace = time.Minute

// laterRun is a run Later set up that has not started yet.
type laterRun struct {
	at    time.Time // when it starts, on the monotonic clock
	wall  time.Time // the same in the wall clock as it read in Later
	timer *time.Timer
}

// NewScheduler returns a stopped scheduler.
func NewScheduler(logger *slog.Logger) *Scheduler {
	if logger == nil {
		logger = slog.Default()
	}
	cl := cronLogger{l: logger}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scheduler{
		log:    logger,
		ctx:    ctx,
		cancel: cancel,
		grace:  overdueGrace,
		wall:   func(t time.Time) time.Time { return t.Round(0).UTC() },
		// Applied here, not by cron (WithChain): an overdue run goes
		// through the same wrapped job, so it is skipped while a
		// scheduled run is still going. Skip is outermost: cron's
		// SkipIfStillRunning does not release its token when the job
		// panics, so the panic must be recovered inside it or the job
		// would never run again.
		chain:   cron.NewChain(cron.SkipIfStillRunning(cl), recoverJob(logger)),
		entries: map[string]*entry{},
		later:   map[string]*laterRun{},
	}
	// Cron logs every time it reads the clock before setting its timer
	// (start, wake, added, removed), from its own goroutine.
	s.cron = cron.New(
		cron.WithLocation(time.UTC),
		cron.WithParser(specParser),
		cron.WithLogger(cronLogger{l: logger, event: s.cronEvent}),
	)
	return s
}

// cronArmed is a clock reading taken when cron last read the clock to set
// its timer: cron's timer waits, on the monotonic clock, the wall-clock
// time from that reading to its first entry's Next.
type cronArmed struct {
	mu   sync.Mutex // never held while calling cron
	at   time.Time  // time.Now() at that moment, zero before cron starts
	wall time.Time  // the wall clock then (Scheduler.wall(at))
}

// cronEvent is called by cron's logger from cron's goroutine at each event
// of its loop (start, wake, run, added, removed, stop), before it sets its
// timer again from the clock it read for that event.
func (s *Scheduler) cronEvent() {
	now := time.Now()
	s.armed.mu.Lock()
	defer s.armed.mu.Unlock()
	s.armed.at, s.armed.wall = now, s.wall(now)
}

// clockStep is how far the wall clock was stepped (forward when positive)
// between cron's last setting of its timer and now, a time.Now() reading.
func (s *Scheduler) clockStep(now time.Time) time.Duration {
	s.armed.mu.Lock()
	defer s.armed.mu.Unlock()
	if s.armed.at.IsZero() {
		return 0
	}
	return s.wallStep(s.armed.at, s.armed.wall, now)
}

// wallStep is how far the wall clock was stepped (forward when positive)
// between two time.Now() readings then and now, wallThen being
// s.wall(then), to the millisecond: below that it is the jitter between
// the wall and monotonic clocks time.Now reads one after the other.
func (s *Scheduler) wallStep(then, wallThen, now time.Time) time.Duration {
	return (s.wall(now).Sub(wallThen) - now.Sub(then)).Round(time.Millisecond)
}

// Add schedules fn under name, replacing a job of the same name. fn gets a
// context that is cancelled only when Shutdown stops waiting for it.
func (s *Scheduler) Add(name, spec string, fn func(ctx context.Context)) error {
	sched, err := ParseSchedule(spec)
	if err != nil {
		return err
	}
	s.addSchedule(name, sched, fn)
	return nil
}

// addSchedule is Add with a parsed schedule.
func (s *Scheduler) addSchedule(name string, sched cron.Schedule, fn func(ctx context.Context)) {
	e := &entry{sched: sched, period: longestInterval(sched, time.Now().UTC())}
	// The chain (recover, skip-if-still-running) wraps the job once per
	// entry, so each job is tracked on its own.
	e.job = s.chain.Then(cron.FuncJob(func() {
		s.ran(name, e)
		s.log.Debug("job start", "job", name)
		fn(s.ctx)
	}))
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.entries[name]; ok {
		s.cron.Remove(old.id)
		old.unwatch()
	}
	e.id = s.cron.Schedule(sched, e.job)
	s.entries[name] = e
	if s.started && !s.stopped {
		s.watch(name, e)
	}
}

// longestInterval is the longest interval between two runs of sched
// among its next dozen after from: a day for a daily schedule, three
// days for one on weekdays; zero when it runs once or never.
func longestInterval(sched cron.Schedule, from time.Time) time.Duration {
	var longest time.Duration
	prev := sched.Next(from)
	for range 12 {
		if prev.IsZero() {
			break
		}
		next := sched.Next(prev)
		if next.IsZero() {
			break
		}
		longest = max(longest, next.Sub(prev))
		prev = next
	}
	return longest
}

// watch (s.mu held) sets e's deadline on the monotonic clock: its
// longest interval plus the grace from now. A run (ran) sets it again.
func (s *Scheduler) watch(name string, e *entry) {
	e.unwatch()
	if e.period <= 0 {
		return
	}
	d := e.period + s.grace
	e.gen++
	gen := e.gen
	e.due = time.Now().Add(d) // keeps the monotonic reading
	e.timer = time.AfterFunc(d, func() { s.overdue(name, e, gen) })
}

// ran notes that a run of e starts.
func (s *Scheduler) ran(name string, e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries[name] == e && s.started && !s.stopped {
		s.watch(name, e)
	}
}

// overdue runs job name, which has not run for its longest interval plus
// the grace on the monotonic clock: the wall clock was set back while
// cron waited for a time it computed before. The entry is scheduled
// again, from the wall clock as it reads now.
func (s *Scheduler) overdue(name string, e *entry, gen int) {
	s.mu.Lock()
	if s.stopped || s.entries[name] != e || e.gen != gen {
		s.mu.Unlock()
		return
	}
	s.log.Warn("scheduled job overdue: the system clock was probably set back; running it now and rescheduling it from the current time",
		"job", name, "interval", e.period.String(), "scheduled", s.cron.Entry(e.id).Next)
	s.cron.Remove(e.id)
	e.id = s.cron.Schedule(e.sched, e.job)
	s.watch(name, e) // again, should this run be skipped
	s.extra.Add(1)
	s.mu.Unlock()
	defer s.extra.Done()
	e.job.Run() // recovers its panic
}

// Remove unschedules the job name; a running run finishes.
func (s *Scheduler) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[name]; ok {
		s.cron.Remove(e.id)
		e.unwatch()
		delete(s.entries, name)
	}
}

// Next returns when job name runs next, in the wall clock as it reads now
// (zero when unknown). Before Start it is computed from the schedule.
// After the clock was set forward it is when cron's wait, measured on the
// monotonic clock, really ends; after it was set back, the job's
// monotonic deadline (see Scheduler) when that comes first.
func (s *Scheduler) Next(name string) time.Time {
	s.mu.Lock()
	e, ok := s.entries[name]
	var id cron.EntryID
	var due time.Time
	if ok {
		id, due = e.id, e.due
	}
	s.mu.Unlock()
	if !ok {
		return time.Time{}
	}
	// The snapshot first: the clock reading of cron's last event, read
	// after it, is the one cron set its timer from for this snapshot.
	var next, first time.Time
	for _, ce := range s.cron.Entries() {
		if ce.Next.IsZero() {
			continue
		}
		if ce.ID == id {
			next = ce.Next
		}
		if first.IsZero() || ce.Next.Before(first) {
			first = ce.Next
		}
	}
	now := time.Now()
	wall := s.wall(now)
	if next.IsZero() {
		return e.sched.Next(wall)
	}
	// Cron's timer ends the wait for its first entry when the wall clock
	// as it read it would show first: first plus the step since, in the
	// clock as it reads now. That wake runs every entry whose Next the
	// clock then shows, so a step forward moves this one to it; a later
	// entry's wait starts there from the clock as it reads then.
	if at := first.Add(s.clockStep(now)); at.After(next) {
		next = at
	}
	if !due.IsZero() {
		// due.Sub(now) is on the monotonic clock.
		if at := wall.Add(due.Sub(now)); at.Before(next) {
			return at
		}
	}
	return next
}

// entry is one scheduled job.
type entry struct {
	id     cron.EntryID
	sched  cron.Schedule
	job    cron.Job      // fn wrapped in the chain
	period time.Duration // the schedule's longest interval (longestInterval)

	// Set by watch, with s.mu held: the monotonic deadline, its timer and
	// the timer's generation (a timer that fires after it was replaced
	// does nothing).
	due   time.Time
	timer *time.Timer
	gen   int
}

// unwatch stops e's deadline (s.mu held).
func (e *entry) unwatch() {
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	e.due = time.Time{}
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
	now := time.Now()
	run := &laterRun{at: now.Add(d), wall: s.wall(now).Add(d)}
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

// LaterAt returns when the run Later set up under name starts, in the
// wall clock as it reads now (zero when none is pending).
func (s *Scheduler) LaterAt(name string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if run, ok := s.later[name]; ok {
		// The wait is on the monotonic clock: a step of the wall clock
		// since moves the start by as much.
		return run.wall.Add(s.wallStep(run.at, run.wall, time.Now()))
	}
	return time.Time{}
}

// Start starts running jobs in the background.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return
	}
	s.started = true
	for name, e := range s.entries {
		s.watch(name, e)
	}
	s.cron.Start()
}

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
	for _, e := range s.entries {
		e.unwatch()
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
// event, when set, is called at each info message (Scheduler.cronEvent).
type cronLogger struct {
	l     *slog.Logger
	event func()
}

func (c cronLogger) Info(msg string, kv ...any) {
	if c.event != nil {
		c.event()
	}
	c.l.Debug("cron: "+msg, kv...)
}
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append([]any{"err", err}, kv...)...)
}
