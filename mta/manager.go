package mta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"strconv"
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
	// AfterReload runs after every successful `postfix reload`, once master
	// has re-read its configuration (or the settle time passed) and before
	// the check that Postfix serves: a client that keeps SMTP connections to
	// Postfix open (the MPA's reinjection, mpa.Server.Reconnect) drops them,
	// so that the smtpd processes of the old configuration exit. Until they
	// do, master may leave the listener unserved (docs/postfix.md).
	AfterReload func()
	// PostfixUnit is the systemd unit that runs the managed Postfix
	// ("postfix.service"); "" for none. With a unit, Postfix starts with
	// `systemctl restart UNIT` and stops with `systemctl stop UNIT`, so
	// that master runs in its own unit, not in postdeck's cgroup and
	// sandbox (unit.go). Restart, not start: Debian's postfix.service is
	// a oneshot that stays "active (exited)" after master died, where a
	// start does nothing.
	PostfixUnit string
	// Systemctl is systemctl's path; default /usr/bin/systemctl (or
	// /bin/systemctl where only that exists).
	Systemctl string
}

// Manager owns the Postfix files: every change of settings, the main config
// document or a map goes through Update, which validates, renders, applies
// and stores it, one at a time.
type Manager struct {
	inst    Instance
	maillog string // the private instance's maillog_file ("" for the system's)
	pf      postfix.Runner
	db      *store.DB
	log     *slog.Logger
	settle  time.Duration
	// stopGrace is how long a stop waits for master's children after
	// master is gone before it kills them (tests shorten it).
	stopGrace time.Duration
	// certs caches the end dates of the server certificates
	// (CertificateNotices).
	certs certCache
	// maxMaps is how many maps a new one may join (maxMaps; tests lower
	// it).
	maxMaps int
	// afterReload is Config.AfterReload.
	afterReload func()
	// unit and systemctlPath are Config.PostfixUnit and Config.Systemctl:
	// with a unit, systemctl starts and stops Postfix (unit.go).
	unit, systemctlPath string

	mu     sync.Mutex  // one apply at a time
	closed atomic.Bool // Shutdown began: Control starts nothing

	pendMu  sync.Mutex
	pending []*pendingUpdate // changes waiting for mu; the next holder applies them together
	catalog *paramCatalog

	statusMu sync.Mutex
	last     ApplyReport
	held     heldState // see Hold

	problems problemTail // LogProblems' reader of Postfix's log
	// version is the catalog's mail_version, readable without mu (an
	// apply holds mu for a while; every status view asks).
	version atomic.Pointer[string]

	// liveRelay is whether the running configuration relays mail for
	// strangers, as far as the open-relay probe knows (guarded by mu).
	liveRelay relayState
	// expanded is the last `postconf -n -x` (guarded by mu).
	expanded expandedCache
	// prebuilt are the maps built ahead of their apply (prebuild.go).
	prebuilt prebuilds
	// trash is what applies left to remove after they answered (trash.go).
	trash trash

	// repl is set on a cluster node (SetReplicator): changes go through
	// the cluster.
	repl *replication

	// afterSwap is a fault hook for tests: it runs after the new files are
	// in place and before the reload, and its error is treated as Postfix
	// refusing the reload.
	afterSwap func() error
	// afterFileSync, when set, sees each installed file (relative to
	// ConfigDir) once its contents were fsynced; its error counts as the
	// fsync's (tests).
	afterFileSync func(rel string) error
	// skipRelayProbe switches the open-relay probe off, for the tests of
	// what comes after it and the benchmark that measures it.
	skipRelayProbe bool
}

// ApplyOptions are what a request may ask of an apply beyond its change.
type ApplyOptions struct {
	// AllowOpenRelay lets a change through that the open-relay probe finds
	// relaying mail for strangers; the result's message says it was
	// allowed, for the audit log.
	AllowOpenRelay bool
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
	if cfg.PostfixUnit != "" {
		if err := checkUnitName(cfg.PostfixUnit); err != nil {
			return nil, err
		}
		cfg.Systemctl = findSystemctl(cfg.Systemctl)
	}
	if cfg.ReloadSettle == 0 {
		cfg.ReloadSettle = 250 * time.Millisecond
	}
	if cfg.Instance.SMTPListen == "" {
		cfg.Instance.SMTPListen = ":25"
	}
	var maillog string
	if cfg.Instance.Private {
		maillog = filepath.Join(cfg.Instance.BaseDir, "maillog")
	}
	return &Manager{
		inst:          cfg.Instance,
		maillog:       maillog,
		pf:            postfix.Runner{SbinDir: cfg.SbinDir, ConfigDir: cfg.Instance.ConfigDir},
		db:            db,
		log:           log,
		settle:        cfg.ReloadSettle,
		stopGrace:     10 * time.Second,
		maxMaps:       maxMaps,
		afterReload:   cfg.AfterReload,
		problems:      problemTail{fresh: logProblemsFresh},
		unit:          cfg.PostfixUnit,
		systemctlPath: cfg.Systemctl,
	}, nil
}

// Postfix is the command runner for the managed instance.
func (m *Manager) Postfix() postfix.Runner { return m.pf }

// Instance describes the managed instance.
func (m *Manager) Instance() Instance { return m.inst }

// QueueDirectory is Postfix's queue_directory: a private instance's own,
// else the installation's (fixed by it, see InstallationParams); "" when
// unknown. The dashboard watches its free space.
func (m *Manager) QueueDirectory() string {
	if m.inst.Private {
		return m.inst.QueueDir()
	}
	return m.catalog.defaultOf("queue_directory")
}

// Start seeds a new database with the defaults, then renders and applies the
// stored state and makes sure Postfix runs. The result and error are what
// an Update would return, for the caller's audit entry.
func (m *Manager) Start(ctx context.Context) (Result, error) {
	if err := m.heldErr(); err != nil {
		return Result{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.inst.Private {
		for _, d := range []string{m.inst.ConfigDir, filepath.Join(m.inst.BaseDir, "spool")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return Result{}, fmt.Errorf("create private instance: %w", err)
			}
		}
	}
	// Builds ahead and trash a crash left behind (prebuild.go, trash.go).
	_ = os.RemoveAll(filepath.Join(m.inst.ConfigDir, prebuildName))
	_ = os.RemoveAll(filepath.Join(m.inst.ConfigDir, trashName))
	cat, err := loadCatalog(ctx, m.pf)
	if err != nil {
		return Result{}, err
	}
	m.catalog = cat
	v := cat.defaults["mail_version"]
	m.version.Store(&v)
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
	res, err := m.applyLocked(ctx, "system", "apply at start", st, true, ApplyOptions{})
	if err == nil {
		res.Warnings = append(res.Warnings, m.startWarnings(st)...)
	}
	return res, err
}

// startWarnings are what the stored state has that a change is refused
// for since this version and that the apply at start lets through:
// Postfix runs these files already, and a daemon that did not start
// could not take the change that fixes them (SASL passwords written into
// main.cf or master.cf, secrets.go; a mailbox limit below the Message
// Size Limit, checkMailboxLimits, which stops only local and virtual
// delivery). A later change may keep the passwords as they are
// (checkChangedLiteralPasswords), so that one document can be fixed
// after the other, and every apply says them again until they are gone;
// the mailbox limit likewise stays until a save fixes it (the Message
// Size Limit's or the line's; validateState lets a change keep it).
func (m *Manager) startWarnings(st store.State) []string {
	var out []string
	services := parseMasterCF(st.MasterConfig)
	if err := checkMasterCommands(services); err != nil {
		m.log.Warn("the stored master config has a service that master would run from outside its daemon directory, as root; the next change must fix it", "err", err)
		out = append(out, err.Error())
	}
	params, err := ParseMainConfig(st.MainConfig)
	if err != nil {
		return out
	}
	if err := checkLiteralPasswords(params, services); err != nil {
		m.log.Warn("the stored configuration writes SASL passwords into main.cf or master.cf; the next change must move them into a map", "err", err)
		out = append(out, err.Error())
	}
	if err = checkMailboxLimits(st.Settings, params, FieldMainConfig); err != nil {
		m.log.Warn("the stored configuration has a mailbox limit below the Message Size Limit, so Postfix's local or virtual delivery does not run; the next change must fix it", "err", err)
		out = append(out, err.Error())
	}
	return out
}

// Shutdown stops a private Postfix; the system's Postfix keeps running.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.closed.Store(true) // no Control start from now on (the watchdog)
	defer m.WaitTrash()
	if !m.inst.Private {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopPostfix(ctx)
}

// stopPostfix stops Postfix and waits until master is gone. A Postfix a
// systemd unit runs is stopped with `systemctl stop UNIT` (unit.go). A
// private instance is found by its own pid file, not through main.cf
// (which may be anything by now), and stopped like `postfix stop` does:
// SIGTERM to master, which stops its children. The system's Postfix is
// stopped with `postfix stop`.
func (m *Manager) stopPostfix(ctx context.Context) error {
	if !m.inst.Private || m.unit != "" {
		pid := m.masterPID()
		stopCmd := "postfix stop"
		if m.unit != "" {
			stopCmd = "systemctl stop " + m.unit
			if err := m.systemctl(ctx, "stop"); err != nil {
				return err
			}
		} else if _, stderr, err := m.pf.Run(ctx, nil, "postfix", "stop"); err != nil {
			return &shownError{said: commandSaid(stopCmd, m.postfixWords(0, string(stderr), err)), err: err}
		}
		for deadline := time.Now().Add(10 * time.Second); m.running(ctx); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				return &shownError{said: stopCmd + ": the master process still ran 10 s later"}
			}
		}
		return m.waitChildren(ctx, pid)
	}
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
	return m.waitChildren(ctx, pid)
}

// waitChildren waits, once master (pid) is gone, until the daemons it
// started are gone too, and kills those left after m.stopGrace. master
// sends them SIGTERM as it exits, but one busy under load, or stopped,
// ends later: a Postfix started meanwhile would run a second queue
// manager on the same queue, and the old smtpd processes would still
// accept connections with the old configuration on the sockets master
// gave them. master leads its own process group (its session), which
// holds all of them.
func (m *Manager) waitChildren(ctx context.Context, pid int) error {
	if pid <= 1 {
		return nil
	}
	deadline := time.Now().Add(m.stopGrace)
	for left := postfix.GroupMembers(pid); len(left) > 0; left = postfix.GroupMembers(pid) {
		if time.Now().After(deadline) {
			m.log.Warn("postfix processes still ran after master stopped; killing them", "master", pid, "pids", left)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			deadline = time.Now().Add(m.stopGrace) // the kernel ends them at once
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stop postfix (pid %d): its processes %v still run: %w", pid, left, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// pendingUpdate is one change waiting to be applied.
type pendingUpdate struct {
	actor, action string
	opts          ApplyOptions
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
	return m.UpdateWith(ctx, actor, action, ApplyOptions{}, mutate)
}

// UpdateWith is Update with options for the apply. In a burst, the
// combined apply allows what every change of it allows; a combination
// refused for what one change allows is retried one change at a time.
func (m *Manager) UpdateWith(ctx context.Context, actor, action string, opts ApplyOptions, mutate func(*store.State) error) (Result, error) {
	return m.updateOne(ctx, &pendingUpdate{actor: actor, action: action, opts: opts, mutate: mutate, done: make(chan updateResult, 1)})
}

// updateOne applies one change (updateBurst) and returns its answer.
func (m *Manager) updateOne(ctx context.Context, u *pendingUpdate) (Result, error) {
	m.updateBurst(ctx, []*pendingUpdate{u})
	r := <-u.done
	return r.res, r.err
}

// updateBurst queues changes together, so that the apply that takes them
// takes them all (one staging, one reload, as changes arriving during an
// apply are), and returns once each has its answer in its done. On a
// cluster node each is proposed in turn; while applies are held off
// (heldErr) each gets that error.
func (m *Manager) updateBurst(ctx context.Context, us []*pendingUpdate) {
	if err := m.heldErr(); err != nil {
		for _, u := range us {
			u.done <- updateResult{err: err}
		}
		return
	}
	if m.repl != nil {
		for _, u := range us {
			res, err := m.propose(ctx, u.actor, u.action, u.opts, u.mutate)
			u.done <- updateResult{res: res, err: err}
		}
		return
	}
	m.pendMu.Lock()
	m.pending = append(m.pending, us...)
	m.pendMu.Unlock()

	m.mu.Lock()
	defer m.mu.Unlock()
	// Queued together, they are taken together: all answered by an
	// earlier holder of mu, or none.
	if len(us[0].done) > 0 {
		return
	}
	m.pendMu.Lock()
	batch := m.pending
	m.pending = nil
	m.pendMu.Unlock()
	m.applyBatch(ctx, batch)
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
	opts := ApplyOptions{AllowOpenRelay: true}
	for _, u := range batch {
		cand := cloneState(st)
		err := safeMutate(u, &cand)
		if err == nil {
			_, err = m.validateState(&cand)
		}
		if err != nil {
			m.recordMutation(u, err)
			u.done <- updateResult{err: err}
			continue
		}
		st = cand
		opts.AllowOpenRelay = opts.AllowOpenRelay && u.opts.AllowOpenRelay
		took = append(took, u)
		actors = append(actors, u.actor)
		actions = append(actions, u.action)
	}
	if len(took) == 0 {
		return
	}
	res, err := m.applyLocked(ctx, strings.Join(actors, ", "), strings.Join(actions, " + "), st, false, opts)
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
			m.recordMutation(u, err)
		}
	}
	var res Result
	if err == nil {
		res, err = m.applyLocked(ctx, u.actor, u.action, st, false, u.opts)
	}
	u.done <- updateResult{res: res, err: err}
}

// recordMutation records a change that its mutation (or the validation
// of its result) did not let through: refused for the request's own
// fault, a user error; failed for anything else (a panic in the
// mutation), whose words (a Go runtime error, a path) go to postdeck's
// log and not to the last apply, which the dashboard shows every role,
// nor to the "refused" of postdeck_apply_total.
func (m *Manager) recordMutation(u *pendingUpdate, err error) {
	var ue *store.UserError
	if errors.As(err, &ue) {
		m.record(u.actor, u.action, "refused", err.Error())
		return
	}
	m.log.Error("change failed", "action", u.action, "err", err)
	m.record(u.actor, u.action, "failed", failedSentence(err))
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

// ReplaceStored runs replace, which replaces the stored state (a
// restore), and applies what it stored, with no other apply in between:
// an apply that loaded the state before the replacement would store that
// state over it once Postfix took it. When the apply fails, undo puts the
// stored state back (it gets the apply's error and returns its own) and
// that is applied again, also before any other apply; the answer is the
// apply's error, or undo's when undo fails. Not on a cluster node, whose
// stored state the cluster's revisions make.
func (m *Manager) ReplaceStored(ctx context.Context, actor string, replace func() error, undo func(applyErr error) error) (Result, error) {
	if err := m.heldErr(); err != nil {
		return Result{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := replace(); err != nil {
		return Result{}, err
	}
	apply := func() (Result, error) {
		st, err := m.db.LoadState()
		if err != nil {
			return Result{}, err
		}
		return m.applyLocked(ctx, actor, "re-apply", st, false, ApplyOptions{})
	}
	res, err := apply()
	if err == nil {
		return res, nil
	}
	if uerr := undo(err); uerr != nil {
		return Result{}, uerr
	}
	if _, rerr := apply(); rerr != nil {
		m.log.Error("re-apply after an undone replacement", "err", rerr)
	}
	return Result{}, err
}

// SaveSettings validates and applies new MTA settings. base is the
// version (store.SettingsVersion) the change was based on: when the stored
// settings have another one, nothing changes and the error is
// store.Stale with the difference. An empty base saves unconditionally.
// opts.AllowOpenRelay lets through settings that make Postfix relay for
// strangers (My Networks holding every address).
func (m *Manager) SaveSettings(ctx context.Context, actor string, s store.Settings, base string, opts ApplyOptions) (Result, error) {
	var warnings []string
	res, err := m.UpdateWith(ctx, actor, "settings", opts, func(st *store.State) error {
		if cur := store.SettingsVersion(st.Settings); base != "" && base != cur {
			return store.Stale("the MTA settings", cur, UnifiedDiff("settings", st.Settings.Canonical(), s.Canonical()))
		}
		clean, w, err := ValidateSettings(s)
		if err != nil {
			return err
		}
		if params, err := ParseMainConfig(st.MainConfig); err == nil {
			if err := checkMailboxLimits(clean, params, FieldMessageSizeLimit); err != nil {
				return err
			}
		}
		warnings = w
		services, rendered := m.renderedServices(st.MasterConfig)
		if rendered && clean.RelayTransport != st.Settings.RelayTransport {
			if err := checkRelayTransport(clean.RelayTransport, services); err != nil {
				return err
			}
		}
		st.Settings = clean
		if err := checkRelayCredentials(st); err != nil {
			return err
		}
		if !rendered {
			return nil // the master config's own checks say
		}
		if err := checkRelayWrapper(st, services); err != nil {
			return err
		}
		return m.checkRelayHostLoops(st, services)
	})
	res.Warnings = append(warnings, res.Warnings...)
	return res, err
}

// MainConfigVersion is the version of the Edit Main Config document.
func MainConfigVersion(text string) string { return store.DocVersion([]byte(text)) }

// SaveMainConfig validates and applies a new Edit Main Config document;
// base is the version it was based on and opts what it allows (see
// SaveSettings).
func (m *Manager) SaveMainConfig(ctx context.Context, actor, text, base string, opts ApplyOptions) (Result, error) {
	return m.UpdateWith(ctx, actor, "mainconfig", opts, func(st *store.State) error {
		norm := NormalizeDocument(text)
		if cur := MainConfigVersion(st.MainConfig); base != "" && base != cur {
			was, _ := MaskLiteralPasswords(st.MainConfig, st.MasterConfig)
			sent, _ := MaskLiteralPasswords(norm, st.MasterConfig)
			return store.Stale("the main config document", cur, UnifiedDiff("main config", was, sent))
		}
		if n := newReplacementLine(norm, st.MainConfig); n > 0 {
			return store.InvalidLine(FieldMainConfig, n, "%s", replacementInDocument("main.cf"))
		}
		// A mailbox limit below the Message Size Limit is refused with
		// the whole state (validateState), whatever changed it.
		services, rendered := m.renderedServices(st.MasterConfig)
		wasWrapped := rendered && checkRelayWrapper(st, services) == nil
		st.MainConfig = norm
		// The document took away the wrapper mode a relay host needs:
		// the refusal is the document's.
		var ue *store.UserError
		if err := checkRelayWrapper(st, services); errors.As(err, &ue) && wasWrapped {
			return store.Invalid(FieldMainConfig, "%s", strings.TrimSuffix(ue.Msg, "."))
		}
		return nil
	})
}

// validateState runs every check that needs no staging directory.
func (m *Manager) validateState(st *store.State) ([]Param, error) {
	params, err := m.validateStored(st)
	if err != nil {
		return nil, err
	}
	services := parseMasterCF(st.MasterConfig)
	// A restored backup or a replicated revision did not pass
	// SaveMasterConfig's checks.
	if err := checkMasterCommands(services); err != nil {
		return nil, err
	}
	// Nor did an import's state or a cluster revision (a node of an
	// older version made it); a main config save gets its refusal here:
	// Postfix's local(8) and virtual(8) would not run. A stored state
	// that has it already (an earlier version's, a restored backup's)
	// is kept as it is until one save fixes it, and every apply warns
	// (startWarnings): refused, every other change would be, a relay
	// host changed on a bad day for a problem of local delivery.
	if err := checkMailboxLimits(st.Settings, params, FieldMainConfig); err != nil {
		stored, lerr := m.db.LoadState()
		if lerr != nil {
			return nil, fmt.Errorf("load state: %w", lerr)
		}
		sp, perr := ParseMainConfig(stored.MainConfig)
		if perr != nil || checkMailboxLimits(stored.Settings, sp, FieldMainConfig) == nil {
			return nil, err
		}
	}
	if _, _, found := literalPasswords(params, services, nil); found {
		stored, err := m.db.LoadState()
		if err != nil {
			return nil, fmt.Errorf("load state: %w", err)
		}
		if err := checkChangedLiteralPasswords(params, services, stored); err != nil {
			return nil, err
		}
	}
	return params, nil
}

// validateStored is validateState but for the checks a state stored by
// an earlier version may fail without being refused at start
// (startWarnings).
func (m *Manager) validateStored(st *store.State) ([]Param, error) {
	if _, _, err := ValidateSettings(st.Settings); err != nil {
		return nil, err
	}
	master, err := renderMaster(m.inst, st.MasterConfig)
	if err != nil {
		return nil, err
	}
	params, err := validateDocument(st.MainConfig, m.inst, m.catalog, master, externalRefs(st.Settings, master))
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
// or storing it: a node of a cluster checks a revision with it before it
// stores it.
func (m *Manager) Check(ctx context.Context, st store.State) error {
	return m.check(ctx, st, m.validateState)
}

// CheckBackup is Check for a backup's state, which postdeck stored
// itself: as at start, SASL passwords it keeps in main.cf or master.cf
// are let through (the restore's apply warns about them, startWarnings,
// and the next change must move them into a map). Refused, the backup of
// a gateway upgraded from a version that took them could be restored
// nowhere, and the advice to move them into a map is none a backup can
// follow. A restore checks the backup's state with it before it replaces
// anything.
func (m *Manager) CheckBackup(ctx context.Context, st store.State) error {
	return m.check(ctx, st, m.validateBackup)
}

// validateBackup is validateState for a backup's state (CheckBackup).
func (m *Manager) validateBackup(st *store.State) ([]Param, error) {
	params, err := m.validateStored(st)
	if err != nil {
		return nil, err
	}
	// Not what an earlier version took: master runs these as root.
	if err := checkMasterCommands(parseMasterCF(st.MasterConfig)); err != nil {
		return nil, err
	}
	// A mailbox limit below the Message Size Limit is let through as the
	// passwords are: the restore's apply warns of it (startWarnings), and
	// the backup of a gateway an earlier version let take it could be
	// restored nowhere otherwise, for a problem of local delivery only.
	return params, nil
}

func (m *Manager) check(ctx context.Context, st store.State, validate func(*store.State) ([]Param, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	params, err := validate(&st)
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
		_, err = m.validateStaged(ctx, p, staging, params, st.MasterConfig, false)
	}
	_ = os.RemoveAll(staging)
	if full := diskFull(err); full != nil {
		// A cluster change is checked before it is committed: the
		// answer was "build ...: no space left on device", an internal
		// error's words.
		m.log.Error("check a change on a full disk", "err", err)
		return full
	}
	return err
}

// applyLocked is the apply pipeline of docs/architecture.md. With start set, it also
// makes sure Postfix runs when nothing changed.
func (m *Manager) applyLocked(ctx context.Context, actor, action string, st store.State, start bool, opts ApplyOptions) (applied Result, applyErr error) {
	// What the apply discards goes once it has answered.
	defer m.emptyTrash()
	if !start { // Start says it once
		defer func() {
			if applyErr == nil {
				applied.Warnings = append(applied.Warnings, m.startWarnings(st)...)
			}
		}()
	}
	validate := m.validateState
	if start {
		validate = m.validateStored // see startWarnings
	}
	params, err := validate(&st)
	if err != nil {
		m.record(actor, action, "refused", err.Error())
		return Result{}, err
	}
	// The maps this configuration makes secret stay secret once it is
	// stored (secrets.go).
	markSecretMaps(m.inst, &st)
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
			logStart := m.maillogSize()
			if err := m.startPostfix(ctx); err != nil {
				return res, m.fail(actor, action, err)
			}
			res.Started = true
			res.Message = "Postfix started"
			// Nothing to roll back to: a listener that does not answer is
			// a warning here.
			if said, _ := m.checkServes(ctx, logStart); said != "" {
				res.Warnings = append(res.Warnings, store.Sentence("Postfix started, but %s", said))
			}
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
	// The open-relay probe asks the running Postfix (its trivial-rewrite
	// and cleanup); when none runs, it asks the new one right after the
	// start below.
	wasRunning := m.running(ctx)
	if wasRunning && !mapsOnly(p) {
		// The probe below will need them; they start while we stage
		// and Postfix checks the files.
		m.warmProbeServices()
	}
	staging, err := m.stage(ctx, p)
	unread := false
	if err == nil {
		unread, err = m.validateStaged(ctx, p, staging, params, st.MasterConfig, wasRunning)
	}
	// The probe comes after validateStaged, never beside it: its smtpd
	// opens every table main.cf names, as root, and only validateStaged's
	// checks keep those where tables may live (tableAllowed).
	var relay relayOutcome
	var active func() ([]byte, error)
	if err == nil && wasRunning && !unread {
		// The reload's check of the active queue (reload) runs beside
		// the probe: it reads the queue, not the new files.
		active = m.checkActiveQueue(ctx)
		defer func() { _, _ = active() }() // never left running
		if err = m.linkUnchanged(p, staging); err == nil {
			relay, err = m.checkRelay(ctx, p, staging, params, st.MasterConfig, opts)
		}
	}
	// A milter or policy service that does not answer is a warning
	// (reach.go), read from validateStaged's postconf run.
	var milters []string
	if err == nil && !unread && m.expanded.key == configKey(p) {
		masterCF, _ := m.stagedMaster(staging)
		milters = m.reachWarnings(ctx, m.expanded.main, string(masterCF))
	}
	if err != nil {
		_ = os.RemoveAll(staging)
		if errors.Is(err, store.ErrInvalid) {
			m.record(actor, action, "refused", err.Error())
			return Result{}, err
		}
		ferr := m.failFull(ctx, actor, action, err, diskFull(err))
		if full := diskFull(err); full != nil {
			return Result{}, full // nothing live changed yet
		}
		return Result{}, ferr
	}
	durable, err := m.swap(p, staging)
	if err != nil {
		rbErr := m.rollback(p)
		_ = os.RemoveAll(staging)
		return Result{}, m.fail(actor, action, errors.Join(err, rbErr))
	}
	_ = m.discard(staging)
	// An older main.cf may still hold SASL passwords (refused since),
	// and so may the new one (a stored state that keeps them, see
	// startWarnings): the diff, which the audit log keeps, masks them
	// on both sides.
	oldMain, _ := MaskLiteralPasswords(string(p.oldMain), string(p.oldMaster))
	newMain, _ := MaskLiteralPasswords(string(rendered["main.cf"].Data), string(rendered["master.cf"].Data))
	diff := UnifiedDiff("main.cf", oldMain, newMain)
	res := Result{Changed: true, Files: append(p.changed, p.removed...)}
	if unread {
		// Only maps no Postfix setting names changed: no Postfix process
		// reads them, so there is nothing to reload, nothing new for the
		// open-relay probe or the serve check to find (validateStaged).
		if err := durable(); err != nil {
			rbErr := m.rollback(p)
			return Result{}, m.fail(actor, action, errors.Join(err, rbErr))
		}
		if err := m.db.SaveState(st); err != nil {
			return Result{}, m.notStored(ctx, actor, action, p, false, err)
		}
		res.Message = "saved; no Postfix setting names the changed map, so Postfix was not reloaded"
		m.record(actor, action, "applied", res.Message)
		return res, nil
	}
	live := m.makeLive(ctx, &res, m.afterSwap, active, m.settle, false)
	// The fsync of the swap ran beside the reload; what follows may roll
	// back or store the state, so it waits for it.
	if err := durable(); err != nil {
		if live.said == "" {
			live = notDurable(err)
		} else {
			// Postfix refused already, and the rollback below puts the
			// previous files back; the failed fsync still says something
			// about the disk.
			m.log.Error("the new files could not be made durable (Postfix refused them anyway)", "action", action, "err", err)
		}
	}
	if live.said == "" && !wasRunning {
		var rerr error
		if relay, rerr = m.checkRelay(ctx, p, m.inst.ConfigDir, params, st.MasterConfig, opts); rerr != nil {
			// Refused after all: the previous files go back, and the
			// refusal is the answer (the previous files run again).
			if _, err := m.goBack(ctx, p, false); err != nil {
				return Result{}, m.fail(actor, action, errors.Join(rerr, err))
			}
			m.record(actor, action, "refused", rerr.Error())
			return Result{}, rerr
		}
	}
	if live.said != "" {
		aerr := &ApplyError{Stage: live.stage, PostfixSaid: live.said, ours: live.ours}
		aerr.NoPrevious, aerr.RollbackErr = m.goBack(ctx, p, live.serve)
		aerr.RolledBack = aerr.RollbackErr == nil && !aerr.NoPrevious
		// The answer's text is for clients; the log gets the detail.
		m.log.Error("apply rolled back", "action", action, "err", errors.Join(aerr, live.err, aerr.RollbackErr))
		m.record(actor, action, "rolled back", aerr.Error())
		aerr.Diff = diff
		return Result{}, aerr
	}
	if err := m.db.SaveState(st); err != nil {
		return Result{}, m.notStored(ctx, actor, action, p, true, err)
	}
	m.liveRelay = relay.state
	if res.Reloaded {
		res.Message = "saved; Postfix was reloaded with the new configuration"
	} else {
		res.Message = "saved; Postfix was started with the new configuration"
	}
	if relay.note != "" {
		res.Message += "; " + relay.note
	}
	res.Warnings = append(res.Warnings, relay.warnings...)
	res.Warnings = append(res.Warnings, milters...)
	m.record(actor, action, "applied", res.Message)
	res.Diff = diff
	return res, nil
}

// notStored is the answer to an apply whose files are live but whose
// state the store could not keep (the data directory's disk full, a
// failed write): the previous files go back, made live again when
// reload (else no Postfix process read the new ones), so that Postfix
// runs what the store holds, which the pages show and the next apply
// renders from. Postfix ran the new files and the store kept the old
// state, and the answer was an internal error.
func (m *Manager) notStored(ctx context.Context, actor, action string, p plan, reload bool, err error) error {
	serr := fmt.Errorf("store applied state: %w", err)
	var back error
	if reload {
		_, back = m.goBack(ctx, p, false)
	} else {
		back = m.rollback(p)
	}
	if back != nil {
		return m.fail(actor, action, errors.Join(serr, back))
	}
	ferr := m.failFull(ctx, actor, action, serr, dataDiskFull(err))
	if full := dataDiskFull(err); full != nil {
		return full
	}
	return ferr
}

// goBack puts the files before p back and makes them live again (with
// restart, a running Postfix restarts rather than reloads, see makeLive).
// When there were none (a first start), the Postfix the apply started
// stops, while its files are still there, and the new files go: nothing
// reports noPrevious.
func (m *Manager) goBack(ctx context.Context, p plan, restart bool) (noPrevious bool, err error) {
	if p.firstMain {
		var stopErr error
		if err := m.stopPostfix(ctx); err != nil {
			stopErr = &shownError{said: shown(err, "the Postfix this apply started could not be stopped"), err: err}
		}
		return true, errors.Join(stopErr, m.rollback(p))
	}
	if err := m.rollback(p); err != nil {
		return false, err
	}
	if again := m.makeLive(ctx, &Result{}, nil, nil, m.settle, restart); again.said != "" {
		return false, &shownError{said: again.said, err: again.err}
	}
	return false, nil
}

// liveOutcome is how making a configuration live went.
type liveOutcome struct {
	stage string // "reload", "start" or "restart"
	// said is Postfix's words when it failed, or a plain sentence of
	// postdeck's (ours), "" when it went well; clients see it.
	said  string
	serve bool  // it failed because an smtpd listener did not answer
	ours  bool  // said is postdeck's sentence about a failure on its side
	err   error // the failure's detail for the log, when there is one
}

// notDurable is the outcome of an apply whose new files could not be
// made durable (the fsync of their directories failed).
func notDurable(err error) liveOutcome {
	return liveOutcome{stage: "reload", said: shown(err, "the new files could not be written to disk"), ours: true, err: err}
}

// makeLive reloads (or starts) Postfix, checks it stays up and that its
// smtpd listeners answer (checkServes). With restart, a running Postfix
// is stopped and started instead of reloaded: after an smtpd that could
// not start, master throttles the service for about a minute, and only a
// new master forgets that.
//
// A listener that takes the connection and stays silent after a reload,
// while the mail log shows no smtpd dying, gets one restart: during mail
// flow the MPA's reinjection listener has been seen silent for over a
// minute after a reload (master started no new smtpd while the MPA's
// sessions stalled), with any configuration, and a restart ends that.
func (m *Manager) makeLive(ctx context.Context, res *Result, fault func() error, active func() ([]byte, error), settle time.Duration, restart bool) liveOutcome {
	logStart := m.maillogSize()
	if fault != nil {
		if err := fault(); err != nil {
			return liveOutcome{stage: "reload", said: err.Error()}
		}
	}
	var out liveOutcome
	pid := 0 // master's, when it is known to have taken the reload
	switch running := m.running(ctx); {
	case running && !restart:
		m.log.Debug("reloading postfix")
		out.stage = "reload"
		master := m.masterPID()
		oldSMTPD := smtpdChildren(master)
		if stderr, err := m.reload(ctx, master, active); err != nil {
			out.said, out.err = m.postfixWords(logStart, string(stderr), err), err
			return out
		}
		res.Reloaded = true
		// Wait until master has re-read the configuration (see
		// reloadwait.go), at most the settle time.
		if waitReloadTaken(ctx, master, settle) {
			pid = master
		}
		settle = 0 // waited for, or waitReloadTaken slept it
		// Only now: a connection made between the signal and master's
		// re-read is one of the old configuration too, and a client told
		// to drop its connections before then would keep it.
		if m.afterReload != nil {
			m.afterReload()
		}
		// The serve check must reach an smtpd of the new configuration.
		if pid != 0 && !waitOldSMTPDGone(ctx, pid, oldSMTPD, oldSMTPDBound) {
			m.log.Warn("an idle smtpd of the previous configuration is still there after the reload", "bound", oldSMTPDBound)
		}
	default:
		out.stage = "start"
		if running {
			m.log.Debug("restarting postfix")
			out.stage = "restart"
			if err := m.stopPostfix(ctx); err != nil {
				out.said, out.ours, out.err = shown(err, "Postfix could not be stopped for the restart"), true, err
				return out
			}
		}
		m.log.Debug("starting postfix")
		if err := m.startPostfix(ctx); err != nil {
			out.said, out.err = m.postfixWords(logStart, "", err), err
			return out
		}
		res.Started = true
	}
	select {
	case <-ctx.Done():
		out.said, out.ours, out.err = "the apply was interrupted before Postfix was seen running", true, ctx.Err()
		return out
	case <-time.After(settle):
	}
	if said := m.stillUp(ctx, pid, logStart); said != "" {
		out.said = said
		return out
	}
	serveStart := time.Now()
	said, silent := m.checkServes(ctx, logStart)
	if said == "" {
		// Master may have died in the re-read after it answered (a fatal
		// error sleeps a second before master exits): look again, at
		// master and its own lines only. What the smtpd processes the
		// serve check started logged is the serve check's to judge, as
		// it was before.
		if said := m.masterStillUp(ctx, pid, logStart); said != "" {
			out.said = said
			return out
		}
	}
	if said != "" && silent && out.stage == "reload" {
		m.log.Warn("an smtpd listener is silent after the reload; restarting postfix", "said", said)
		logStart = m.maillogSize()
		if err := m.stopPostfix(ctx); err != nil {
			out.said, out.ours, out.err = shown(err, "Postfix could not be stopped for the restart"), true, err
			return out
		}
		if err := m.startPostfix(ctx); err != nil {
			out.stage, out.said, out.err = "restart", m.postfixWords(logStart, "", err), err
			return out
		}
		res.Started = true
		res.Warnings = append(res.Warnings, store.Sentence("After the reload %s, so Postfix was restarted", said))
		said, _ = m.checkServes(ctx, logStart)
	}
	if said != "" {
		out.said, out.serve = said, true
		return out
	}
	m.log.Debug("postfix is up", "stage", out.stage, "serve_check", time.Since(serveStart))
	return liveOutcome{}
}

// stillUp returns what went wrong when master no longer runs (pid, when
// known, else as running finds it) or the mail log got a problem line
// since logStart; "" when neither.
func (m *Manager) stillUp(ctx context.Context, pid int, logStart int64) string {
	if !m.masterAlive(ctx, pid) {
		return m.postfixWords(logStart, "", errMasterGone)
	}
	return problemSince(m.maillogPath(), logStart)
}

// masterStillUp is stillUp for master alone: it runs, and the mail log
// got no problem line of master's since logStart.
func (m *Manager) masterStillUp(ctx context.Context, pid int, logStart int64) string {
	if !m.masterAlive(ctx, pid) {
		return m.postfixWords(logStart, "", errMasterGone)
	}
	return logSinceOf(m.maillogPath(), logStart, "/master[", "fatal: ", "panic: ", "error: ")
}

// errMasterGone is master found gone when Postfix said nothing about why.
var errMasterGone = &shownError{said: "the Postfix master process is not running"}

func (m *Manager) startPostfix(ctx context.Context) error {
	if _, stderr, err := m.pf.Run(ctx, nil, "postfix", "check"); err != nil {
		return &shownError{said: commandSaid("postfix check", m.postfixWords(0, string(stderr), err)), err: err}
	}
	if m.unit != "" {
		// Restart: see Config.PostfixUnit.
		return m.systemctl(ctx, "restart")
	}
	m.giveMaillogToMailOwner()
	if _, stderr, err := m.pf.Run(ctx, nil, "postfix", "start"); err != nil {
		return &shownError{said: commandSaid("postfix start", m.postfixWords(0, string(stderr), err)), err: err}
	}
	return nil
}

// giveMaillogToMailOwner makes a private instance's maillog_file the mail
// owner's before master starts. postlogd, which runs as root, writes it
// while master runs; while master is stopped postsuper and postqueue
// write their own lines, as the mail owner, and on a file root owned
// postsuper acted on the first id of an action and then died ("open
// logfile ... Permission denied"): a queue action half done. A failure
// is logged; Postfix starts all the same.
func (m *Manager) giveMaillogToMailOwner() {
	if !m.inst.Private || m.maillog == "" {
		return
	}
	owner := "postfix"
	if m.catalog != nil && m.catalog.defaults["mail_owner"] != "" {
		owner = m.catalog.defaults["mail_owner"]
	}
	err := func() error {
		u, err := user.Lookup(owner)
		if err != nil {
			return err
		}
		uid, err := strconv.Atoi(u.Uid)
		if err != nil {
			return err
		}
		gid, err := strconv.Atoi(u.Gid)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(m.maillog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Chown(uid, gid)
	}()
	if err != nil {
		m.log.Warn("give the maillog to the mail owner; queue actions while Postfix is stopped may fail", "path", m.maillog, "owner", owner, "err", err)
	}
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
func (m *Manager) maillogPath() string { return m.maillog }

func (m *Manager) maillogSize() int64 {
	if fi, err := os.Stat(m.maillogPath()); err == nil {
		return fi.Size()
	}
	return 0
}

// postfixWords finds what Postfix said: `postfix` writes its errors only to
// the log when stderr is not a terminal. When it said nothing, the answer
// is a plain sentence (clients see it): the exit status of the command,
// or why it could not run, never the error's own text (which names
// Postfix's directory), which goes to the log.
func (m *Manager) postfixWords(logStart int64, stderr string, err error) string {
	if said := firstProblem(stderr); said != "" {
		return said
	}
	if said := problemSince(m.maillogPath(), logStart); said != "" {
		return said
	}
	var se *shownError
	if errors.As(err, &se) {
		return se.said
	}
	if m.log != nil {
		m.log.Warn("a Postfix command failed without saying why", "err", err)
	}
	var ce *postfix.CmdError
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ce) && errors.As(err, &ee) && ee.Exited():
		return fmt.Sprintf("%s failed with exit status %d and said nothing", ce.Cmd, ee.ExitCode())
	case errors.As(err, &ce) && errors.As(err, &ee):
		return ce.Cmd + " was killed before it finished"
	case errors.As(err, &ce):
		return shown(err, ce.Cmd+" could not be run") + " (" + seeLog + ")"
	}
	return "Postfix gave no reason (" + seeLog + ")"
}

// commandSaid is what a Postfix command said (postfixWords) after its
// name, unless postfixWords' own sentence begins with it.
func commandSaid(cmd, said string) string {
	if strings.HasPrefix(said, cmd+" ") {
		return said
	}
	return cmd + ": " + said
}

// problemSince returns the problem lines (fatal, panic, error) the
// maillog got after offset.
func problemSince(path string, offset int64) string {
	return logSince(path, offset, "fatal: ", "panic: ", "error: ")
}

// explainSince returns the problem and warning lines the maillog got
// after offset (at most maxExplain of them): once a failure is known, the
// warnings often say what the fatal line does not ("unsupported SASL
// server implementation: bogus" before "SASL per-process initialization
// failed").
func explainSince(path string, offset int64) string {
	return logSince(path, offset, "fatal: ", "panic: ", "error: ", "warning: ")
}

// maxExplain bounds the log lines quoted in an error.
const maxExplain = 5

func logSince(path string, offset int64, kinds ...string) string {
	return logSinceOf(path, offset, "", kinds...)
}

// logSinceOf is logSince for the lines that hold prog ("/master[" for
// master's), all lines when prog is "".
func logSinceOf(path string, offset int64, prog string, kinds ...string) string {
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
		if prog != "" && !strings.Contains(line, prog) {
			continue
		}
		for _, k := range kinds {
			if i := strings.Index(line, k); i >= 0 && len(out) < maxExplain {
				out = append(out, strings.TrimSpace(line[i:]))
				break
			}
		}
	}
	return strings.Join(out, "; ")
}

// failFull is fail, but a full disk (full, when not nil) that a
// cluster revision tried again (quietFull) met again is recorded without
// being logged again: its first try logged it.
func (m *Manager) failFull(ctx context.Context, actor, action string, err, full error) error {
	return m.failLogged(actor, action, err, full == nil || !quietFull(ctx))
}

// fail logs an apply's internal failure and records it for the status
// page in a plain sentence: every role reads the last apply, and err's
// text (file paths, system and bbolt errors) is for the log.
func (m *Manager) fail(actor, action string, err error) error {
	return m.failLogged(actor, action, err, true)
}

// failLogged is fail, which logs err only when log is set.
func (m *Manager) failLogged(actor, action string, err error, log bool) error {
	if log {
		m.log.Error("apply failed", "action", action, "err", err)
	}
	m.record(actor, action, "failed", failedSentence(err))
	return fmt.Errorf("apply %s: %w", action, err)
}

// failedSentence is the last apply's message of an internal failure:
// Postfix's words when it failed to start, else a plain sentence.
func failedSentence(err error) string {
	var se *shownError
	if errors.As(err, &se) {
		return "the apply failed: " + se.said
	}
	if r := plainReason(err); r != "" {
		return "the apply failed: " + r + "; " + seeLog
	}
	return "the apply failed on an internal error; " + seeLog
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

// Version is Postfix's mail_version ("" before Start). It does not wait
// for an apply in progress.
func (m *Manager) Version() string {
	if v := m.version.Load(); v != nil {
		return *v
	}
	return ""
}
