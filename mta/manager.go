package mta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"postdeck/panics"
	"postdeck/postfix"
	"postdeck/store"
)

// Config wires a Manager.
type Config struct {
	Instance Instance
	// SbinDir holds Postfix's commands; default /usr/sbin.
	SbinDir string
	// ReloadSettle is how long after a reload or start Postfix must stay up
	// before the apply counts as done; default 250ms.
	ReloadSettle time.Duration
}

// Manager owns the Postfix files: every change of settings, the main config
// document or a map goes through Update, which validates, renders, applies
// and stores it, one at a time.
type Manager struct {
	inst   Instance
	pf     postfix.Runner
	db     *store.DB
	log    *slog.Logger
	settle time.Duration

	mu     sync.Mutex  // one apply at a time
	closed atomic.Bool // Shutdown began: Control starts nothing

	pendMu  sync.Mutex
	pending []*pendingUpdate // changes waiting for mu; the next holder applies them together
	catalog *paramCatalog

	statusMu sync.Mutex
	last     ApplyReport

	// repl is set on a cluster node (SetReplicator): changes go through
	// the cluster.
	repl *replication

	// afterSwap is a fault hook for tests: it runs after the new files are
	// in place and before the reload, and its error is treated as Postfix
	// refusing the reload.
	afterSwap func() error
}

// ApplyReport is the outcome of the last apply, for the status page.
type ApplyReport struct {
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Result  string    `json:"result"` // applied, unchanged, refused, rolled back, failed
	Message string    `json:"message"`
}

// New returns a Manager; Start applies the stored state.
func New(cfg Config, db *store.DB, log *slog.Logger) (*Manager, error) {
	if !filepath.IsAbs(cfg.Instance.ConfigDir) {
		return nil, fmt.Errorf("postfix config directory %q must be absolute", cfg.Instance.ConfigDir)
	}
	if cfg.Instance.Private && !filepath.IsAbs(cfg.Instance.BaseDir) {
		return nil, fmt.Errorf("private instance directory %q must be absolute", cfg.Instance.BaseDir)
	}
	if cfg.SbinDir == "" {
		cfg.SbinDir = postfix.DefaultSbinDir
	}
	if cfg.ReloadSettle == 0 {
		cfg.ReloadSettle = 250 * time.Millisecond
	}
	if cfg.Instance.SMTPListen == "" {
		cfg.Instance.SMTPListen = ":25"
	}
	return &Manager{
		inst:   cfg.Instance,
		pf:     postfix.Runner{SbinDir: cfg.SbinDir, ConfigDir: cfg.Instance.ConfigDir},
		db:     db,
		log:    log,
		settle: cfg.ReloadSettle,
	}, nil
}

// Postfix is the command runner for the managed instance.
func (m *Manager) Postfix() postfix.Runner { return m.pf }

// Instance describes the managed instance.
func (m *Manager) Instance() Instance { return m.inst }

// Start seeds a new database with the defaults, then renders and applies the
// stored state and makes sure Postfix runs. The result and error are what
// an Update would return, for the caller's audit entry.
func (m *Manager) Start(ctx context.Context) (Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.inst.Private {
		for _, d := range []string{m.inst.ConfigDir, filepath.Join(m.inst.BaseDir, "spool")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return Result{}, fmt.Errorf("create private instance: %w", err)
			}
		}
	}
	cat, err := loadCatalog(ctx, m.pf)
	if err != nil {
		return Result{}, err
	}
	m.catalog = cat
	ok, err := m.db.Initialized()
	if err != nil {
		return Result{}, err
	}
	if !ok {
		if err := m.db.SaveState(DefaultState(time.Now())); err != nil {
			return Result{}, fmt.Errorf("seed database: %w", err)
		}
		m.log.Info("database seeded with default settings, main config and maps")
	}
	st, err := m.db.LoadState()
	if err != nil {
		return Result{}, err
	}
	return m.applyLocked(ctx, "system", "apply at start", st, true)
}

// Shutdown stops a private Postfix; the system's Postfix keeps running.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.closed.Store(true) // no Control start from now on (the watchdog)
	if !m.inst.Private {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// The instance is found by its own pid file, not through main.cf (which
	// may be anything by now), and stopped like `postfix stop` does: SIGTERM
	// to master, which stops its children. Then wait until it is gone, so
	// that a stopped daemon means a stopped instance.
	pid := postfix.MasterPID(m.inst.QueueDir())
	if !postfix.Alive(pid) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return nil // already gone
	}
	for postfix.Alive(pid) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("stop private postfix (pid %d): %w", pid, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// pendingUpdate is one change waiting to be applied.
type pendingUpdate struct {
	actor, action string
	mutate        func(*store.State) error
	done          chan updateResult // buffered: written once
}

type updateResult struct {
	res Result
	err error
}

// Update loads the stored state, lets mutate change it, validates, renders
// and applies the result, and stores it only when Postfix took it. A
// refused change leaves the store and the live files as they were.
//
// Bursts coalesce: changes that arrive while an apply runs wait, and the
// next of them to get its turn applies them all at once (one staging, one
// validation by Postfix, one reload). Each change is checked on its own
// first, so a bad one is refused alone; if Postfix refuses the combination,
// they are applied one by one so that only the culprit fails.
func (m *Manager) Update(ctx context.Context, actor, action string, mutate func(*store.State) error) (Result, error) {
	if m.repl != nil {
		return m.propose(ctx, actor, action, mutate)
	}
	u := &pendingUpdate{actor: actor, action: action, mutate: mutate, done: make(chan updateResult, 1)}
	m.pendMu.Lock()
	m.pending = append(m.pending, u)
	m.pendMu.Unlock()

	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case r := <-u.done: // applied by an earlier holder of mu, with others
		return r.res, r.err
	default:
	}
	m.pendMu.Lock()
	batch := m.pending
	m.pending = nil
	m.pendMu.Unlock()
	m.applyBatch(ctx, batch)
	r := <-u.done
	return r.res, r.err
}

// applyBatch applies waiting changes together; it holds mu. Every change
// of the batch gets its answer, also when something panics: a change left
// without one would wait forever, and so would every later caller.
func (m *Manager) applyBatch(ctx context.Context, batch []*pendingUpdate) {
	defer func() {
		if r := recover(); r != nil {
			panics.Recovered(panics.MTA)
			m.log.Error("panic in apply", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			for _, u := range batch {
				if len(u.done) == 0 {
					u.done <- updateResult{err: fmt.Errorf("apply %s: internal error: %v", u.action, r)}
				}
			}
		}
	}()
	if len(batch) == 1 {
		m.applyOne(ctx, batch[0])
		return
	}
	st, err := m.db.LoadState()
	if err != nil {
		for _, u := range batch {
			u.done <- updateResult{err: err}
		}
		return
	}
	var took []*pendingUpdate
	var actors, actions []string
	for _, u := range batch {
		cand := cloneState(st)
		err := safeMutate(u, &cand)
		if err == nil {
			_, err = m.validateState(&cand)
		}
		if err != nil {
			m.record(u.actor, u.action, "refused", err.Error())
			u.done <- updateResult{err: err}
			continue
		}
		st = cand
		took = append(took, u)
		actors = append(actors, u.actor)
		actions = append(actions, u.action)
	}
	if len(took) == 0 {
		return
	}
	res, err := m.applyLocked(ctx, strings.Join(actors, ", "), strings.Join(actions, " + "), st, false)
	if err != nil && len(took) > 1 {
		m.log.Warn("a combined apply failed; applying its changes one by one", "changes", len(took), "err", err)
		for _, u := range took {
			m.applyOne(ctx, u)
		}
		return
	}
	for _, u := range took {
		u.done <- updateResult{res: res, err: err}
	}
}

// applyOne applies one change on the stored state.
func (m *Manager) applyOne(ctx context.Context, u *pendingUpdate) {
	st, err := m.db.LoadState()
	if err == nil {
		if err = safeMutate(u, &st); err != nil {
			m.record(u.actor, u.action, "refused", err.Error())
		}
	}
	var res Result
	if err == nil {
		res, err = m.applyLocked(ctx, u.actor, u.action, st, false)
	}
	u.done <- updateResult{res: res, err: err}
}

// safeMutate runs a change's mutation; a panic in it is that change's
// internal error, not the apply's.
func safeMutate(u *pendingUpdate, st *store.State) (err error) {
	defer func() {
		if r := recover(); r != nil {
			panics.Recovered(panics.MTA)
			err = fmt.Errorf("%s: internal error: %v", u.action, r)
		}
	}()
	return u.mutate(st)
}

// cloneState copies st deeply enough that a mutation of the copy (slices
// included) leaves st as it was.
func cloneState(st store.State) store.State {
	c := st
	c.Settings.RelayDomains = append([]string(nil), st.Settings.RelayDomains...)
	c.Settings.MyNetworks = append([]string(nil), st.Settings.MyNetworks...)
	c.Maps = append([]store.Map(nil), st.Maps...)
	return c
}

// Reapply renders and applies the stored state again (SIGHUP, restore).
func (m *Manager) Reapply(ctx context.Context, actor string) (Result, error) {
	return m.Update(ctx, actor, "re-apply", func(*store.State) error { return nil })
}

// SaveSettings validates and applies new MTA settings. base is the
// version (store.SettingsVersion) the change was based on: when the stored
// settings have another one, nothing changes and the error is
// store.Stale with the difference. An empty base saves unconditionally.
func (m *Manager) SaveSettings(ctx context.Context, actor string, s store.Settings, base string) (Result, error) {
	var warnings []string
	res, err := m.Update(ctx, actor, "settings", func(st *store.State) error {
		if cur := store.SettingsVersion(st.Settings); base != "" && base != cur {
			return store.Stale("the MTA settings", cur, UnifiedDiff("settings", st.Settings.Canonical(), s.Canonical()))
		}
		clean, w, err := ValidateSettings(s)
		if err != nil {
			return err
		}
		warnings = w
		st.Settings = clean
		return nil
	})
	res.Warnings = append(warnings, res.Warnings...)
	return res, err
}

// MainConfigVersion is the version of the Edit Main Config document.
func MainConfigVersion(text string) string { return store.DocVersion([]byte(text)) }

// SaveMainConfig validates and applies a new Edit Main Config document;
// base is the version it was based on (see SaveSettings).
func (m *Manager) SaveMainConfig(ctx context.Context, actor, text, base string) (Result, error) {
	return m.Update(ctx, actor, "mainconfig", func(st *store.State) error {
		norm := NormalizeDocument(text)
		if cur := MainConfigVersion(st.MainConfig); base != "" && base != cur {
			return store.Stale("the main config document", cur, UnifiedDiff("main config", st.MainConfig, norm))
		}
		st.MainConfig = norm
		return nil
	})
}

// validateState runs every check that needs no staging directory.
func (m *Manager) validateState(st *store.State) ([]Param, error) {
	if _, _, err := ValidateSettings(st.Settings); err != nil {
		return nil, err
	}
	master, err := renderMaster(m.inst, st.MasterConfig)
	if err != nil {
		return nil, err
	}
	params, err := validateDocument(st.MainConfig, m.inst, m.catalog, masterServiceNames(master, "unix"))
	if err != nil {
		return nil, err
	}
	if err := validateMaps(st.Maps); err != nil {
		return nil, err
	}
	return params, nil
}

// Check validates a whole state as an apply would, up to and including
// Postfix's own checks of the staged files, without making anything live
// or storing it: a restore checks the backup's state with it before it
// replaces anything.
func (m *Manager) Check(ctx context.Context, st store.State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	params, err := m.validateState(&st)
	if err != nil {
		return err
	}
	rendered, err := Render(m.inst, st)
	if err != nil {
		return err
	}
	p, err := m.diffLive(rendered)
	if err != nil {
		return fmt.Errorf("check state: %w", err)
	}
	if len(p.changed) == 0 && len(p.removed) == 0 {
		return nil
	}
	staging, err := m.stage(ctx, p)
	if err == nil {
		err = m.validateStaged(ctx, p, staging, params)
	}
	_ = os.RemoveAll(staging)
	return err
}

// applyLocked is the apply pipeline of docs/architecture.md. With start set, it also
// makes sure Postfix runs when nothing changed.
func (m *Manager) applyLocked(ctx context.Context, actor, action string, st store.State, start bool) (Result, error) {
	params, err := m.validateState(&st)
	if err != nil {
		m.record(actor, action, "refused", err.Error())
		return Result{}, err
	}
	rendered, err := Render(m.inst, st)
	if err != nil {
		m.record(actor, action, "refused", err.Error())
		return Result{}, err
	}
	p, err := m.diffLive(rendered)
	if err != nil {
		return Result{}, m.fail(actor, action, err)
	}
	if len(p.changed) == 0 && len(p.removed) == 0 {
		res := Result{Message: "no change: Postfix's files already match"}
		if start && !m.running(ctx) {
			if err := m.startPostfix(ctx); err != nil {
				return res, m.fail(actor, action, err)
			}
			res.Started = true
			res.Message = "Postfix started"
		}
		if err := m.db.SaveState(st); err != nil {
			return res, m.fail(actor, action, err)
		}
		m.record(actor, action, "unchanged", res.Message)
		return res, nil
	}
	// From here on the apply finishes (or rolls back) even when the caller
	// goes away, e.g. a SIGTERM while a SIGHUP re-apply runs: half an apply
	// is worse than a late one. Each Postfix command keeps its own timeout.
	ctx = context.WithoutCancel(ctx)
	staging, err := m.stage(ctx, p)
	if err == nil {
		err = m.validateStaged(ctx, p, staging, params)
	}
	if err != nil {
		_ = os.RemoveAll(staging)
		if errors.Is(err, store.ErrInvalid) {
			m.record(actor, action, "refused", err.Error())
			return Result{}, err
		}
		return Result{}, m.fail(actor, action, err)
	}
	if err := m.swap(p, staging); err != nil {
		rbErr := m.rollback(p)
		_ = os.RemoveAll(staging)
		return Result{}, m.fail(actor, action, errors.Join(err, rbErr))
	}
	_ = os.RemoveAll(staging)
	diff := UnifiedDiff("main.cf", string(p.oldMain), string(rendered["main.cf"].Data))
	res := Result{Changed: true, Files: append(p.changed, p.removed...)}
	settle := m.settle
	if !slices.Contains(p.changed, "main.cf") && !slices.Contains(p.changed, "master.cf") {
		// Only maps changed: master keeps the configuration it runs, so
		// the reload cannot kill it and there is nothing to wait for.
		settle = 0
	}
	stage, said := m.makeLive(ctx, &res, m.afterSwap, settle)
	if said != "" {
		aerr := &ApplyError{Stage: stage, PostfixSaid: said}
		if rbErr := m.rollback(p); rbErr != nil {
			aerr.RollbackErr = rbErr
		} else if _, again := m.makeLive(ctx, &Result{}, nil, m.settle); again != "" {
			aerr.RollbackErr = errors.New(again)
		} else {
			aerr.RolledBack = true
		}
		m.log.Error("apply rolled back", "action", action, "err", aerr)
		m.record(actor, action, "rolled back", aerr.Error())
		aerr.Diff = diff
		return Result{}, aerr
	}
	if err := m.db.SaveState(st); err != nil {
		// Postfix runs the new files; the next apply renders from the store.
		return res, m.fail(actor, action, fmt.Errorf("store applied state: %w", err))
	}
	if res.Reloaded {
		res.Message = "saved; Postfix was reloaded with the new configuration"
	} else {
		res.Message = "saved; Postfix was started with the new configuration"
	}
	m.record(actor, action, "applied", res.Message)
	res.Diff = diff
	return res, nil
}

// makeLive reloads (or starts) Postfix and checks it stays up. It returns
// the stage and Postfix's words on failure.
func (m *Manager) makeLive(ctx context.Context, res *Result, fault func() error, settle time.Duration) (stage, said string) {
	logStart := m.maillogSize()
	if fault != nil {
		if err := fault(); err != nil {
			return "reload", err.Error()
		}
	}
	if m.running(ctx) {
		m.log.Debug("reloading postfix")
		stage = "reload"
		if _, stderr, err := m.pf.Run(ctx, nil, "postfix", "reload"); err != nil {
			return stage, m.postfixWords(logStart, string(stderr), err)
		}
		res.Reloaded = true
	} else {
		m.log.Debug("starting postfix")
		stage = "start"
		if err := m.startPostfix(ctx); err != nil {
			return stage, m.postfixWords(logStart, "", err)
		}
		res.Started = true
	}
	select {
	case <-ctx.Done():
		return stage, ctx.Err().Error()
	case <-time.After(settle):
	}
	// settle 0: only maps changed and master reloads the configuration it
	// already runs, so there is no new reason for it to have stopped.
	if settle > 0 && !m.running(ctx) {
		return stage, m.postfixWords(logStart, "", errors.New("the Postfix master process is not running"))
	}
	m.log.Debug("postfix is up", "stage", stage)
	if said := problemSince(m.maillogPath(), logStart); said != "" {
		return stage, said
	}
	return "", ""
}

func (m *Manager) startPostfix(ctx context.Context) error {
	if _, stderr, err := m.pf.Run(ctx, nil, "postfix", "check"); err != nil {
		return fmt.Errorf("postfix check: %s", m.postfixWords(0, string(stderr), err))
	}
	if _, stderr, err := m.pf.Run(ctx, nil, "postfix", "start"); err != nil {
		return fmt.Errorf("postfix start: %s", m.postfixWords(0, string(stderr), err))
	}
	return nil
}

// running reports whether master runs: for a private instance by its pid
// file (whatever main.cf says now), otherwise `postfix status` (rc 0).
func (m *Manager) running(ctx context.Context) bool {
	if m.inst.Private {
		return postfix.Alive(postfix.MasterPID(m.inst.QueueDir()))
	}
	_, _, err := m.pf.Run(ctx, nil, "postfix", "status")
	return err == nil
}

// Running reports whether the managed Postfix's master process runs.
func (m *Manager) Running(ctx context.Context) bool { return m.running(ctx) }

// maillogPath is the instance's maillog_file, "" when Postfix logs to syslog.
func (m *Manager) maillogPath() string {
	if m.inst.Private {
		return filepath.Join(m.inst.BaseDir, "maillog")
	}
	return ""
}

func (m *Manager) maillogSize() int64 {
	if fi, err := os.Stat(m.maillogPath()); err == nil {
		return fi.Size()
	}
	return 0
}

// postfixWords finds what Postfix said: `postfix` writes its errors only to
// the log when stderr is not a terminal.
func (m *Manager) postfixWords(logStart int64, stderr string, err error) string {
	if said := firstProblem(stderr); said != "" {
		return said
	}
	if said := problemSince(m.maillogPath(), logStart); said != "" {
		return said
	}
	return err.Error()
}

// problemSince returns the problem lines the maillog got after offset.
func problemSince(path string, offset int64) string {
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return ""
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, k := range []string{"fatal: ", "panic: ", "error: "} {
			if i := strings.Index(line, k); i >= 0 {
				out = append(out, strings.TrimSpace(line[i:]))
			}
		}
	}
	return strings.Join(out, "; ")
}

func (m *Manager) fail(actor, action string, err error) error {
	m.log.Error("apply failed", "action", action, "err", err)
	m.record(actor, action, "failed", err.Error())
	return fmt.Errorf("apply %s: %w", action, err)
}

// applyResults counts applies by result (metrics state).
var applyResults sync.Map // result string -> *atomic.Uint64

// ApplyResults reports how many applies ended with each result ("applied",
// "unchanged", "refused", "rolled back", "failed") since the process started.
func ApplyResults() map[string]uint64 {
	out := map[string]uint64{}
	applyResults.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return out
}

// record counts an apply's result for the metrics and keeps it as the last
// apply for the status page. The audit entry is the caller's (package
// admin): it knows who asked for what.
func (m *Manager) record(actor, action, result, detail string) {
	n, _ := applyResults.LoadOrStore(result, new(atomic.Uint64))
	n.(*atomic.Uint64).Add(1)
	if result == "refused" {
		return // nothing changed: the last apply is still the one that did
	}
	m.statusMu.Lock()
	m.last = ApplyReport{Time: time.Now().UTC(), Actor: actor, Action: action, Result: result, Message: detail}
	m.statusMu.Unlock()
}

// LastApply reports the outcome of the most recent apply.
func (m *Manager) LastApply() ApplyReport {
	m.statusMu.Lock()
	defer m.statusMu.Unlock()
	return m.last
}

// Version is Postfix's mail_version.
func (m *Manager) Version() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.catalog == nil {
		return ""
	}
	return m.catalog.defaults["mail_version"]
}
