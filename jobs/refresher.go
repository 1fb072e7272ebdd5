package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"postdeck/store"
)

// MapSaver saves a map through the validate/apply pipeline.
type MapSaver interface {
	PutMap(ctx context.Context, actor string, m store.Map) error
	// PutMaps saves maps together: one apply (one reload) when Postfix
	// takes them together. The errors are in the order of ms.
	PutMaps(ctx context.Context, actor string, ms []store.Map) []error
	GetMap(name string) (store.Map, error) // store.ErrNotFound when absent
}

// Refresh outcomes, as stored in the job status.
const (
	OutcomeUpdated   = "updated"   // a new map was saved and applied
	OutcomeUnchanged = "unchanged" // the result equals the live map
	OutcomeFailed    = "failed"    // the live map was kept; LastError says why
)

// The retries of a failed refresh (RefresherConfig.RetryAfter).
const (
	DefaultRetryAfter = 5 * time.Minute
	maxRetryDelay     = time.Hour
)

// retryJob names the pending retry of map name in the scheduler.
func retryJob(name string) string { return store.SPFJobName(name) + " retry" }

// retryLater sets up the retry of map name after its failures-th failed
// refresh in a row, unless the schedule runs it first.
func (r *Refresher) retryLater(name string, failures int) {
	d := r.retryAfter
	for i := 1; i < failures && d < maxRetryDelay; i++ {
		d *= 2
	}
	d = min(d, max(maxRetryDelay, r.retryAfter))
	if next := r.sched.Next(store.SPFJobName(name)); !next.IsZero() && !next.After(time.Now().Add(d)) {
		r.sched.Cancel(retryJob(name))
		return
	}
	r.sched.Later(retryJob(name), d, func(ctx context.Context) {
		r.scheduledRefresh(ctx, name)
	})
}

// maxChanges is how many past changes a status keeps.
const maxChanges = 10

// ActorRefresher is the audit actor of scheduled refreshes.
const ActorRefresher = "spf-refresher"

// RefresherConfig are the Refresher's dependencies and limits.
type RefresherConfig struct {
	DB        *store.DB
	Maps      MapSaver
	Scheduler *Scheduler
	Logger    *slog.Logger
	// Resolver is host:port of the DNS server to ask; empty means the
	// first nameserver of /etc/resolv.conf.
	Resolver string
	// QueryTimeout bounds each DNS query attempt (default 3 s).
	QueryTimeout time.Duration
	// Budget is the most DNS queries per source and run (default 30).
	Budget int
	// RefreshOnStart runs, at Start, every source that has never run, so a
	// fresh appliance does not wait up to a day for its maps.
	RefreshOnStart bool
	// OnScheduled, when set, hears the result of a refresh the refresher
	// ran on its own (schedule, start) when it is news: the map changed,
	// the first failure (after a success or at the first run), a failure
	// for another reason, the first success after failures, or an error
	// recording the status. The daemon audits those; a schedule of
	// "@every 1m" with the DNS down would otherwise fill the audit log
	// with one identical failure a minute. The status counts them all.
	OnScheduled func(res RefreshResult, err error)
	// RetryAfter is how long after a failed refresh it runs again, as a
	// scheduled one (default DefaultRetryAfter), doubled for each further
	// failure in a row up to maxRetryDelay; none when the schedule's own
	// run comes first. A daily schedule would otherwise leave a map that
	// one DNS timeout kept (empty at a first start without DNS) for a day.
	RetryAfter time.Duration
	// RunHere, when set, decides whether a refresh the refresher would run
	// on its own (schedule, start) runs on this node: a cluster runs each
	// once, on the node its election chose, and the others take the
	// resulting map from the cluster. Refreshes an administrator asks for
	// always run.
	RunHere func() bool
}

// Refresher keeps SPF-derived cidr maps current.
type Refresher struct {
	db    *store.DB
	maps  MapSaver
	sched *Scheduler
	log   *slog.Logger
	flat  *Flattener

	refreshOnStart bool
	retryAfter     time.Duration
	onScheduled    func(RefreshResult, error)
	runHere        func() bool

	mu            sync.Mutex
	locks         map[string]*sync.Mutex // one refresh per map at a time
	scheduledMaps map[string]bool        // the maps whose refresh is scheduled
	// unstored are the statuses of runs whose write failed (a full data
	// disk), by map: the status readers show them while they are newer
	// than the stored one, which would otherwise show the previous run as
	// if this one had not happened. Lost on a restart.
	unstored map[string]store.JobStatus

	burst burst
}

// NewRefresher checks cfg and resolves the default resolver.
func NewRefresher(cfg RefresherConfig) (*Refresher, error) {
	if cfg.DB == nil || cfg.Maps == nil || cfg.Scheduler == nil {
		return nil, errors.New("new refresher: DB, Maps and Scheduler are required")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	addr := cfg.Resolver
	var err error
	if addr == "" {
		addr, err = SystemResolver()
	} else {
		addr, err = NormalizeResolver(addr)
	}
	if err != nil {
		return nil, fmt.Errorf("new refresher: %w", err)
	}
	return &Refresher{
		db:    cfg.DB,
		maps:  cfg.Maps,
		sched: cfg.Scheduler,
		log:   logger,
		flat: &Flattener{
			Resolver: &Resolver{Server: addr, Timeout: cfg.QueryTimeout},
			Budget:   cfg.Budget,
			Logger:   logger,
		},
		locks:          map[string]*sync.Mutex{},
		refreshOnStart: cfg.RefreshOnStart,
		retryAfter:     cmp.Or(cfg.RetryAfter, DefaultRetryAfter),
		onScheduled:    cfg.OnScheduled,
		runHere:        cfg.RunHere,
	}, nil
}

// Start stores the built-in sources that are missing and schedules every
// source. Call it before Scheduler.Start.
func (r *Refresher) Start(ctx context.Context) error {
	for _, b := range BuiltinSources() {
		if _, err := r.db.GetSPFSource(b.Map); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("start refresher: %w", err)
		}
		b.Created = time.Now().UTC()
		if err := r.db.PutSPFSource(b); err != nil {
			return fmt.Errorf("start refresher: store source %s: %w", b.Map, err)
		}
	}
	srcs, err := r.db.ListSPFSources()
	if err != nil {
		return fmt.Errorf("start refresher: %w", err)
	}
	for _, s := range srcs {
		if r.runHere == nil {
			r.ensureMap(ctx, s.Map)
		}
		if err := r.schedule(s); err != nil {
			r.log.Error("schedule spf source", "map", s.Map, "err", err)
			continue
		}
		if r.refreshOnStart {
			st, err := r.db.GetJobStatus(store.SPFJobName(s.Map))
			if errors.Is(err, store.ErrNotFound) {
				name := s.Map
				r.sched.Go(store.SPFJobName(name), func(ctx context.Context) {
					r.scheduledRefresh(ctx, name)
				})
			} else if err == nil && st.Outcome == OutcomeFailed && r.sched.LaterAt(retryJob(s.Map)).IsZero() {
				// The retry the failure set up went with the previous
				// process (a restart, a shutdown that cut the run).
				r.retryLater(s.Map, st.ConsecutiveFailures)
			}
		}
	}
	return nil
}

func (r *Refresher) schedule(s store.SPFSource) error {
	name := s.Map
	r.sched.Remove(store.SPFJobName(name)) // a new schedule replaces the old
	err := r.sched.Add(store.SPFJobName(name), s.Schedule, func(ctx context.Context) {
		r.scheduledRefresh(ctx, name)
	})
	if err == nil {
		r.mu.Lock()
		if r.scheduledMaps == nil {
			r.scheduledMaps = map[string]bool{}
		}
		r.scheduledMaps[name] = true
		r.mu.Unlock()
	}
	return err
}

// ensureMap creates a source's map, empty, when it does not exist yet: the
// map can be referenced from main.cf at once (a first start without
// working DNS included), and stays empty ("never fetched") until a refresh
// succeeds. A failure is logged; the next refresh creates the map anyway.
//
// Start calls it on a standalone node only. A cluster's maps are the
// cluster's: the node that formed it brought them, and the first refresh
// of the node that leads creates one that is missing. And a node that
// starts does not follow the cluster yet: its save went to the cluster
// and waited for an answer that could not come (5 s a map, and an error
// logged, at every start of a node that had just joined).
func (r *Refresher) ensureMap(ctx context.Context, name string) {
	if _, err := r.maps.GetMap(name); !errors.Is(err, store.ErrNotFound) {
		return
	}
	err := r.maps.PutMap(ctx, ActorRefresher, store.Map{Name: name, Type: "cidr", Content: "", Owner: store.OwnerRefresher, Updated: time.Now().UTC()})
	if err != nil {
		r.log.Error("create empty spf map", "map", name, "err", err)
	}
}

// scheduledRefresh is a refresh the refresher runs on its own.
func (r *Refresher) scheduledRefresh(ctx context.Context, name string) {
	if r.runHere != nil && !r.runHere() {
		r.log.Debug("scheduled spf refresh runs on another node of the cluster", "map", name)
		return
	}
	res, err := r.refresh(ctx, ActorRefresher, name)
	if errors.Is(err, store.ErrNotFound) {
		// The source was removed as this run started (RemoveSource held
		// the map's lock): nothing to refresh, nothing to audit.
		r.log.Debug("scheduled spf refresh of a removed source", "map", name)
		return
	}
	if r.onScheduled != nil && (err != nil || res.news) {
		r.onScheduled(res, err)
	}
}

// SourceStatus is one source with the state of its refresh job, as the map
// page, GET /api/v1/jobs/spf and `postdeck spf list` show it.
type SourceStatus struct {
	Domain      string               `json:"domain"`
	Map         string               `json:"map"`
	Schedule    string               `json:"schedule"`
	Value       string               `json:"value"`
	Builtin     bool                 `json:"builtin"`
	NextRun     time.Time            `json:"next_run"`
	LastRun     time.Time            `json:"last_run"`
	LastSuccess time.Time            `json:"last_success"`
	Outcome     string               `json:"outcome"`
	PrefixCount int                  `json:"prefix_count"`
	LastError   string               `json:"last_error"`
	Warnings    []string             `json:"warnings"`
	Queries     int                  `json:"queries"`
	Changes     []store.PrefixChange `json:"changes"`

	// ConsecutiveFailures counts the failed refreshes since the last
	// success (0 after a success or before the first run).
	ConsecutiveFailures int `json:"consecutive_failures"`
	// FailingSince is when the first of them ran (zero when none failed,
	// or when they were counted before postdeck kept this time): how
	// long the map has gone without a refresh, also when none ever
	// succeeded.
	FailingSince time.Time `json:"failing_since"`
}

// nextRun is when map name is refreshed next: its schedule's run, or the
// retry of a failed refresh when that comes first.
func (r *Refresher) nextRun(name string) time.Time {
	next := r.sched.Next(store.SPFJobName(name))
	if retry := r.sched.LaterAt(retryJob(name)); !retry.IsZero() && (next.IsZero() || retry.Before(next)) {
		return retry.UTC()
	}
	return next
}

func (r *Refresher) status(s store.SPFSource, st store.JobStatus) SourceStatus {
	out := SourceStatus{
		Domain: s.Domain, Map: s.Map, Schedule: s.Schedule, Value: s.Value, Builtin: s.Builtin,
		NextRun: r.nextRun(s.Map),
		LastRun: st.LastRun, LastSuccess: st.LastSuccess, Outcome: st.Outcome,
		PrefixCount: st.PrefixCount, LastError: st.LastError, Queries: st.Queries,
		Warnings: st.Warnings, Changes: st.Changes,
		ConsecutiveFailures: st.ConsecutiveFailures, FailingSince: st.FailingSince,
	}
	if out.Warnings == nil {
		out.Warnings = []string{}
	}
	if out.Changes == nil {
		out.Changes = []store.PrefixChange{}
	}
	return out
}

// Statuses lists every source with its job status, sorted by map name.
func (r *Refresher) Statuses(ctx context.Context) ([]SourceStatus, error) {
	srcs, err := r.db.ListSPFSources()
	if err != nil {
		return nil, fmt.Errorf("list spf sources: %w", err)
	}
	out := make([]SourceStatus, 0, len(srcs))
	for _, s := range srcs {
		st, err := r.jobStatus(s.Map)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("list spf sources: %w", err)
		}
		out = append(out, r.status(s, st))
	}
	return out, nil
}

// Status returns the source of map name with its job status, or
// store.ErrNotFound.
func (r *Refresher) Status(ctx context.Context, name string) (SourceStatus, error) {
	s, err := r.db.GetSPFSource(name)
	if err != nil {
		return SourceStatus{}, err
	}
	st, err := r.jobStatus(name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return SourceStatus{}, fmt.Errorf("read spf status %s: %w", name, err)
	}
	return r.status(s, st), nil
}

// jobStatus is the status of map name's last run: the stored one, or
// the one whose write failed (unstored) while it is newer.
func (r *Refresher) jobStatus(name string) (store.JobStatus, error) {
	st, err := r.db.GetJobStatus(store.SPFJobName(name))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return st, err
	}
	r.mu.Lock()
	held, ok := r.unstored[name]
	r.mu.Unlock()
	if ok && held.LastRun.After(st.LastRun) {
		return held, nil
	}
	return st, err
}

// holdStatus keeps st, whose write failed with err, for the status
// readers (unstored), with a warning that says so.
func (r *Refresher) holdStatus(name string, st store.JobStatus, err error) {
	why := store.FullDisk(err, dataDir)
	if why == "" {
		why = "the store failed (postdeck's log has the details)"
	}
	st.Warnings = append(slices.Clip(st.Warnings), "This run's status could not be stored: "+why+". postdeck shows it until a later run stores one (a restart forgets it).")
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unstored == nil {
		r.unstored = map[string]store.JobStatus{}
	}
	r.unstored[name] = st
}

// dataDir names postdeck's data directory in a full-disk sentence.
const dataDir = "postdeck's data directory"

// RefreshResult is what one refresh did.
type RefreshResult struct {
	Map         string   `json:"map"`
	Domain      string   `json:"domain"`
	Outcome     string   `json:"outcome"`
	Error       string   `json:"error,omitempty"`
	PrefixCount int      `json:"prefix_count"`
	Added       []string `json:"added"`
	Removed     []string `json:"removed"`
	Warnings    []string `json:"warnings"`
	Queries     int      `json:"queries"`
	DurationMS  int64    `json:"duration_ms"`
	// Kept says, for a failed refresh, what Postfix goes on reading:
	// KeptLive (the last good map) or KeptEmpty (no refresh has filled
	// the map yet, so no address of the source is listed).
	Kept string `json:"kept,omitempty"`

	// news says that the outcome differs from the previous run's (see
	// RefresherConfig.OnScheduled).
	news bool
}

// What a failed refresh left in place (RefreshResult.Kept).
const (
	KeptLive  = "live"
	KeptEmpty = "empty"
)

// RefreshNow refreshes the source of map name at once and returns what it
// did. A refresh that kept the live map is not an error: its Outcome is
// "failed" and Error says why. The error is store.ErrNotFound for an
// unknown source, or a failure to record the status.
func (r *Refresher) RefreshNow(ctx context.Context, actor, name string) (RefreshResult, error) {
	if err := r.known(name); err != nil {
		return RefreshResult{}, err
	}
	return r.refresh(ctx, actor, name)
}

// known is nil when name has a source, before a lock is made for it:
// r.locks keeps one per name, so asking about names that have none must
// not add any (a caller could otherwise grow it without bound). A source
// added meanwhile is found again under the lock.
func (r *Refresher) known(name string) error {
	_, err := r.db.GetSPFSource(name)
	return err
}

func (r *Refresher) lock(name string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.locks[name]
	if !ok {
		l = &sync.Mutex{}
		r.locks[name] = l
	}
	return l
}

func (r *Refresher) refresh(ctx context.Context, actor, name string) (RefreshResult, error) {
	// From the start until its map is saved (or it saves none), this
	// refresh is one that others save with (burst). One waiting for a
	// refresh of the same map is not: that one would wait for it.
	mb := r.burst.join(r.maps)
	defer func() { mb.leave(ctx) }()
	l := r.lock(name)
	if !l.TryLock() {
		mb.leave(ctx)
		l.Lock()
		mb = r.burst.join(r.maps)
	}
	defer l.Unlock()

	src, err := r.db.GetSPFSource(name)
	if err != nil {
		return RefreshResult{}, err
	}
	start := time.Now().UTC()
	st, err := r.jobStatus(name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return RefreshResult{}, fmt.Errorf("refresh %s: %w", name, err)
	}
	st.Job = store.SPFJobName(name)
	prevOutcome, prevError := st.Outcome, st.LastError

	res := RefreshResult{Map: name, Domain: src.Domain, Added: []string{}, Removed: []string{}}
	flat, ferr := r.flat.Flatten(ctx, src.Domain)
	res.Queries = flat.Queries
	res.Warnings = append([]string{}, flat.Warnings...)
	for _, u := range flat.Unflattenable {
		res.Warnings = append(res.Warnings, u.Reason)
	}
	change, perr := r.apply(ctx, actor, src, flat, ferr, &res, mb)

	st.LastRun = start
	st.Queries = res.Queries
	st.Warnings = res.Warnings
	st.DurationMS = time.Since(start).Milliseconds()
	res.DurationMS = st.DurationMS
	st.Outcome = res.Outcome
	if perr != nil {
		// The count is the map's that stays, not the refused result's:
		// "failed, 0 prefixes" would read as an emptied map.
		res.Kept, res.PrefixCount = r.kept(name, st.PrefixCount)
		prefix := "kept the live map: "
		if res.Kept == KeptEmpty {
			prefix = "the map stays empty: "
		}
		res.Outcome, res.Error = OutcomeFailed, prefix+keptReason(perr)
		st.Outcome, st.LastError = res.Outcome, res.Error
		if st.ConsecutiveFailures == 0 {
			st.FailingSince = start
		}
		st.ConsecutiveFailures++
		res.news = prevOutcome != OutcomeFailed || prevError != res.Error
		r.log.Warn("spf refresh kept the live map", "map", name, "job", st.Job, "err", perr)
		r.retryLater(name, st.ConsecutiveFailures)
	} else {
		st.LastSuccess, st.LastError = start, ""
		st.ConsecutiveFailures, st.FailingSince = 0, time.Time{}
		st.PrefixCount = res.PrefixCount
		r.sched.Cancel(retryJob(name))
		res.news = res.Outcome == OutcomeUpdated || prevOutcome == OutcomeFailed
		if change != nil {
			st.Changes = append([]store.PrefixChange{*change}, st.Changes...)
			if len(st.Changes) > maxChanges {
				st.Changes = st.Changes[:maxChanges]
			}
			r.log.Info("spf map updated", "map", name, "job", st.Job, "added", len(change.Added), "removed", len(change.Removed))
		}
	}
	if err := r.db.PutJobStatus(st); err != nil {
		r.holdStatus(name, st, err)
		if why := store.FullDisk(err, dataDir); why != "" {
			r.log.Error("store spf refresh status", "map", name, "err", err)
			return res, store.Unavailable("The refresh of %s ran (%s), but its status could not be stored: %s. Free space on that disk; the SPF page shows this run until a later run stores its status", name, res.Outcome, why)
		}
		return res, fmt.Errorf("refresh %s: store status: %w", name, err)
	}
	r.mu.Lock()
	delete(r.unstored, name)
	r.mu.Unlock()
	return res, nil
}

// kept says what a failed refresh of map name left in place, and how many
// networks it holds: before any refresh filled it the map is empty (or
// absent), and "kept the live map" would suggest the provider's servers
// are listed when none is. A map that cannot be read counts as live:
// nothing says it is empty, and its count is lastCount, the last
// success's.
func (r *Refresher) kept(name string, lastCount int) (string, int) {
	m, err := r.maps.GetMap(name)
	if errors.Is(err, store.ErrNotFound) {
		return KeptEmpty, 0
	}
	if err != nil {
		return KeptLive, lastCount
	}
	n := len(ParseCIDR(m.Content))
	if n == 0 {
		return KeptEmpty, 0
	}
	return KeptLive, n
}

// apply decides what a flatten result does to the live map. An error
// means the live map was kept.
func (r *Refresher) apply(ctx context.Context, actor string, src store.SPFSource, flat FlattenResult, ferr error, res *RefreshResult, mb *burstMember) (*store.PrefixChange, error) {
	if ferr != nil {
		return nil, ferr
	}
	if len(flat.Prefixes) == 0 {
		return nil, refuse("the SPF record of %s lists no networks", src.Domain)
	}
	// Here, not in the flattener: SPF itself passes a private client (the
	// RFC 7208 suite checks that), only the map must never list one.
	prefixes, left := splitGlobal(flat.Prefixes)
	if len(left) > 0 {
		res.Warnings = append(res.Warnings, leftOutWarning(src.Domain, left))
		r.log.Warn("spf result lists non-global networks, left out of the map", "map", src.Map, "count", len(left), "networks", networkList(left))
	}
	if len(prefixes) == 0 {
		return nil, refuse("the SPF record of %s lists only non-global networks (private, loopback, link-local, multicast or reserved), which the map never holds: %s", src.Domain, networkList(left))
	}
	res.PrefixCount = len(prefixes)
	live, err := r.maps.GetMap(src.Map)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("read live map %s: %w", src.Map, err)
	}
	if exists && live.Owner != store.OwnerRefresher {
		return nil, refuse("map %s is edited by administrators, not by the refresher", src.Map)
	}
	content := RenderCIDR(prefixes, src.Value)
	if exists && live.Content == content {
		res.Outcome = OutcomeUnchanged
		return nil, nil
	}
	old := ParseCIDR(live.Content)
	// A non-global network a live map holds (saved before they were left
	// out) goes without counting: dropping it is the point.
	oldGlobal, _ := splitGlobal(old)
	lost := 0
	for _, p := range oldGlobal {
		if !covered(p, prefixes) {
			lost++
		}
	}
	if len(oldGlobal) > 0 && lost*2 > len(oldGlobal) {
		return nil, refuse("the new result (%d networks) drops %d of the %d live networks, more than half", len(prefixes), lost, len(oldGlobal))
	}
	// Counting networks alone misses a record that loses its few wide
	// ranges and keeps its many narrow ones: Office 365's top record
	// without its own terms drops 6 of 18 networks but nearly every
	// address Exchange Online sends from.
	if family, pct, ok := shrunk(oldGlobal, prefixes); ok {
		return nil, refuse("the new result's %s networks hold %d%% as many addresses as the live map's, less than half", family, pct)
	}
	now := time.Now().UTC()
	err = mb.save(ctx, actor, store.Map{
		Name: src.Map, Type: "cidr", Content: content, Owner: store.OwnerRefresher, Updated: now,
	})
	if err != nil {
		return nil, fmt.Errorf("save map %s: %w", src.Map, err)
	}
	res.Outcome = OutcomeUpdated
	oldSet := prefixStrings(old)
	newSet := prefixStrings(prefixes)
	for _, p := range newSet {
		if !slices.Contains(oldSet, p) {
			res.Added = append(res.Added, p)
		}
	}
	for _, p := range oldSet {
		if !slices.Contains(newSet, p) {
			res.Removed = append(res.Removed, p)
		}
	}
	return &store.PrefixChange{At: now, Added: res.Added, Removed: res.Removed}, nil
}

// shrunk reports the first address family whose networks in next hold
// fewer than half as many addresses as in live (both merged: none
// overlaps), with next's share of live's addresses in percent. A family
// live does not list is never shrunk.
func shrunk(live, next []netip.Prefix) (family string, pct int, ok bool) {
	for _, fam := range []struct {
		name string
		bits int
	}{{"IPv4", 32}, {"IPv6", 128}} {
		was, now := addresses(live, fam.bits), addresses(next, fam.bits)
		if was.Sign() == 0 || new(big.Int).Lsh(now, 1).Cmp(was) >= 0 {
			continue
		}
		share := new(big.Int).Div(new(big.Int).Mul(now, big.NewInt(100)), was)
		return fam.name, int(share.Int64()), true
	}
	return "", 0, false
}

// postfixRefusal is the apply pipeline's error for a map that did not go
// live (mta.ApplyError, seen through this interface: jobs does not import
// mta). Its text is Postfix's words or plain sentences, safe to show.
type postfixRefusal interface {
	error
	FromPostfix() bool
}

// refusal is a reason of the refresher's own to keep the live map, in
// words for the administrator (keptReason shows it as it is).
type refusal struct{ msg string }

func (e *refusal) Error() string { return e.msg }

func refuse(format string, args ...any) error {
	return &refusal{msg: fmt.Sprintf(format, args...)}
}

// internalFailure is what an administrator reads about a refresh that
// failed for a reason of postdeck's own (the store, the apply pipeline).
const internalFailure = "the refresh failed inside postdeck (its log has the details)"

// keptReason is what an administrator reads about a refresh that kept the
// live map (RefreshResult.Error, the status's last_error, the console's
// SPF page): why the SPF data was refused (DNS, the record tree, the
// refresher's own checks), a user error's sentence, Postfix's own words
// when it refused the map. Anything else (a store error, with its file
// path and bbolt's words) is internalFailure; refresh logs the detail.
func keptReason(err error) string {
	var ae postfixRefusal
	var ue *store.UserError
	var re *refusal
	var de *DNSError
	switch {
	case errors.As(err, &ae): // its text is safe to show
		return ae.Error()
	case errors.As(err, &ue):
		return ue.Msg
	case errors.As(err, &re):
		return re.Error()
	case errors.As(err, &de):
		// Flatten's words around the lookup, the lookup's in plain words.
		return strings.Replace(err.Error(), de.Error(), de.reason(), 1)
	case errors.Is(err, ErrNone), errors.Is(err, ErrPermError), errors.Is(err, ErrTooWide), errors.Is(err, ErrBudget):
		return err.Error()
	}
	return internalFailure
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// RenderCIDR renders a cidr table: one "NETWORK VALUE" line per prefix.
func RenderCIDR(ps []netip.Prefix, value string) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String())
		b.WriteByte(' ')
		b.WriteString(value)
		b.WriteByte('\n')
	}
	return b.String()
}

// ParseCIDR reads the networks of a cidr table (comments, blank lines and
// unparsable lines are skipped), merged and sorted.
func ParseCIDR(content string) []netip.Prefix {
	var out []netip.Prefix
	for _, line := range strings.Split(content, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if p, err := netip.ParsePrefix(f[0]); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(f[0]); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return mergePrefixes(out)
}

// AddSource validates in and adds it as a new source, scheduled at once.
// It does not refresh: call RefreshNow to fill the map. A source for an
// existing map, or a map edited by administrators, is store.ErrConflict.
func (r *Refresher) AddSource(ctx context.Context, actor string, in SourceInput) (SourceStatus, error) {
	s, err := ValidateSource(in)
	if err != nil {
		return SourceStatus{}, err
	}
	if m, err := r.maps.GetMap(s.Map); err == nil && m.Owner != store.OwnerRefresher {
		return SourceStatus{}, store.Conflict("Map %s already exists and is edited by administrators; choose another map name for this SPF source", s.Map)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return SourceStatus{}, fmt.Errorf("add spf source: %w", err)
	}
	s.Created = time.Now().UTC()
	if err := r.db.CreateSPFSource(s); err != nil {
		return SourceStatus{}, fmt.Errorf("add spf source: %w", err)
	}
	r.ensureMap(ctx, s.Map)
	if err := r.schedule(s); err != nil {
		return SourceStatus{}, fmt.Errorf("add spf source: %w", err)
	}
	return r.status(s, store.JobStatus{}), nil
}

// RemoveSource stops refreshing map name and forgets its status. The map
// keeps its last content and passes to the administrators (owner admin),
// who may then edit or delete it. Built-in sources cannot be removed
// (store.ErrConflict).
func (r *Refresher) RemoveSource(ctx context.Context, actor, name string) error {
	if err := r.known(name); err != nil {
		return err
	}
	l := r.lock(name)
	l.Lock()
	defer l.Unlock()
	s, err := r.db.GetSPFSource(name)
	if err != nil {
		return err
	}
	if s.Builtin {
		return store.Conflict("The SPF source of map %s is built in and cannot be removed", name)
	}
	r.sched.Remove(store.SPFJobName(name))
	r.sched.Cancel(retryJob(name))
	r.mu.Lock()
	delete(r.scheduledMaps, name)
	r.mu.Unlock()
	if err := r.db.DeleteSPFSource(name); err != nil {
		return fmt.Errorf("remove spf source: %w", err)
	}
	r.mu.Lock()
	delete(r.unstored, name)
	r.mu.Unlock()
	return r.HandOver(ctx, actor, name)
}

// HandOver passes map name, when the refresher still owns it, to the
// administrators (owner admin) with its last content: what follows the
// removal of its source (RemoveSource, or on a cluster node the removal
// from the cluster). The save goes through the refresher's MapSaver, the
// one path that may write a map the refresher owns.
func (r *Refresher) HandOver(ctx context.Context, actor, name string) error {
	m, err := r.maps.GetMap(name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove spf source: read map %s: %w", name, err)
	}
	if m.Owner != store.OwnerRefresher {
		return nil
	}
	m.Owner, m.Updated = store.OwnerAdmin, time.Now().UTC()
	if err := r.maps.PutMap(ctx, actor, m); err != nil {
		return fmt.Errorf("remove spf source: hand map %s to administrators: %w", name, err)
	}
	return nil
}
