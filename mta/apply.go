package mta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"postdeck/atomicfile"
	"postdeck/panics"
	"postdeck/postfix"
	"postdeck/store"
)

// ApplyError is a change that passed validation but did not go live:
// Postfix refused it when it was made live, or (rarely) making it live
// failed on postdeck's side (the new files could not be written to disk).
// The previous files are back in place (RolledBack).
//
// Its text (Error, PostfixSaid, RollbackSaid) reaches administrators and
// API clients, the audit log and the status page: Postfix's own words or
// plain sentences, never Go error text, file paths or errno text. The
// detail is in postdeck's log.
type ApplyError struct {
	Stage string // "reload", "start", "restart"
	// PostfixSaid is Postfix's own words about the refusal or, when the
	// failure was postdeck's (FromPostfix is false), a plain sentence
	// saying what failed.
	PostfixSaid string
	RolledBack  bool
	// RollbackErr is why restoring the previous configuration failed, for
	// the log: it may hold file paths and system error text. What may be
	// shown of it is RollbackSaid.
	RollbackErr error
	// NoPrevious: there was no previous configuration (a first start);
	// the new files were removed and Postfix is stopped.
	NoPrevious bool
	// Diff is the change of main.cf that was tried, for the audit log.
	Diff string
	// ours: PostfixSaid is a sentence of postdeck's about a failure on
	// its side, not Postfix's words (see FromPostfix).
	ours bool
}

func (e *ApplyError) Error() string {
	msg := fmt.Sprintf("Postfix refused the new configuration at %s: %s", e.Stage, e.PostfixSaid)
	if e.ours {
		msg = fmt.Sprintf("the new configuration could not be made live at %s: %s; %s", e.Stage, e.PostfixSaid, seeLog)
	}
	switch {
	case e.RollbackErr != nil:
		msg += fmt.Sprintf(" (restoring the previous configuration failed too: %s; %s)", e.RollbackSaid(), seeLog)
	case e.NoPrevious:
		msg += " (there was no previous configuration to go back to: Postfix is stopped)"
	case e.RolledBack:
		msg += " (the previous configuration was restored and Postfix is running it)"
	}
	return msg
}

// FromPostfix reports whether PostfixSaid holds Postfix's own words (it
// refused the configuration) rather than a sentence about a failure on
// postdeck's side.
func (e *ApplyError) FromPostfix() bool { return !e.ours }

// RollbackSaid is what may be shown of RollbackErr: Postfix's own words
// when the previous configuration did not go live again, else a plain
// sentence; "" when restoring went well.
func (e *ApplyError) RollbackSaid() string {
	if e.RollbackErr == nil {
		return ""
	}
	return shown(e.RollbackErr, "the previous files could not be put back")
}

// Unwrap makes a refused apply a user error: the input was not acceptable.
func (e *ApplyError) Unwrap() error { return store.ErrInvalid }

// seeLog points an administrator from a plain sentence to its detail.
const seeLog = "postdeck's log has the details"

// shownError is an error with the text a client may see of it: said is
// Postfix's own words or a plain sentence; err, when set, is the detail
// for the log (paths, system error text).
type shownError struct {
	said string
	err  error
}

func (e *shownError) Error() string {
	if e.err == nil {
		return e.said
	}
	return e.said + ": " + e.err.Error()
}

func (e *shownError) Unwrap() error { return e.err }

// shown is what a client may see of err: the words of the first
// *shownError in it, else what (a plain sentence) with the system cause
// when it is a common one (plainReason). Never err's own text, which may
// hold file paths and Go's wording: that is for the log.
func shown(err error, what string) string {
	var se *shownError
	if errors.As(err, &se) {
		return se.said
	}
	if r := plainReason(err); r != "" {
		return what + ": " + r
	}
	return what
}

// plainReason names the system cause of err in plain words when it is a
// common one, "" otherwise.
func plainReason(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return "the disk is full"
	case errors.Is(err, syscall.EDQUOT):
		return "the disk quota is used up"
	case errors.Is(err, syscall.EROFS):
		return "the file system is read-only"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return "permission denied"
	case errors.Is(err, syscall.EIO):
		return "the disk reported an input/output error"
	}
	return ""
}

// diskFull is the answer to a change whose new files could not be
// written because the disk is full (or the quota used up) before any live
// file changed: a sentence that says so, what it left as it was and what
// to do, instead of the internal error it was (a 500 "failed inside
// postdeck" for an administrator who has a disk to clean up). nil when
// err is not that.
func diskFull(err error) error {
	why := store.FullDisk(err, "Postfix's configuration directory")
	if why == "" {
		return nil
	}
	return &store.UserError{Kind: DiskFullError{Why: why}, Msg: store.Sentence("The change was not saved: %s, so postdeck could not write the new files. Postfix's files are unchanged and it runs the previous configuration; free space on that disk and save again", why)}
}

// DiskFullError is the kind of diskFull's and dataDiskFull's answers
// (a store.ErrUnavailable too, HTTP 503): Why says which disk. Their
// sentence says to save again, which is wrong for a cluster's revision:
// it is saved in the cluster, and this node applies it once there is
// room (ApplyRevision, propose).
type DiskFullError struct{ Why string }

func (e DiskFullError) Error() string { return e.Why }
func (DiskFullError) Unwrap() error   { return store.ErrUnavailable }

// dataDiskFull is diskFull for the store, once Postfix's files were
// put back (notStored). nil when err is not a full disk.
func dataDiskFull(err error) error {
	why := store.FullDisk(err, "postdeck's data directory")
	if why == "" {
		return nil
	}
	return &store.UserError{Kind: DiskFullError{Why: why}, Msg: store.Sentence("The change was not saved: %s, so postdeck could not store it. Postfix's previous files were put back and it runs the previous configuration; free space on that disk and save again", why)}
}

// Result tells what an apply did.
type Result struct {
	Changed  bool     `json:"changed"`
	Reloaded bool     `json:"reloaded"`
	Started  bool     `json:"started"`
	Files    []string `json:"files,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	Message  string   `json:"message"`
	// Diff is the unified diff of main.cf the apply made live, for the
	// audit log.
	Diff string `json:"-"`
}

const (
	stagingName = ".postdeck-staging"
	backupName  = ".postdeck-backup"
	// backdate is how far main.cf's mtime is set into the past: Postfix
	// stalls ~2 s on a main.cf younger than that.
	backdate = 10 * time.Second
)

// plan is the difference between the rendered and the live files.
type plan struct {
	rendered Rendered
	changed  []string // relative paths to write
	removed  []string // relative paths to delete (map sources and .db files)
	oldMain  []byte
	// oldMaster is the live master.cf: a password its -o overrides read
	// through a main.cf parameter is masked in oldMain's diff.
	oldMaster []byte
	// firstMain: there was no main.cf before (a first start), so there
	// is no previous configuration to go back to.
	firstMain bool
}

// diffLive compares the rendered files with the live directory.
func (m *Manager) diffLive(r Rendered) (plan, error) {
	p := plan{rendered: r}
	for rel, f := range r {
		live := filepath.Join(m.inst.ConfigDir, rel)
		cur, err := os.ReadFile(live)
		if rel == "main.cf" {
			p.oldMain = cur
			p.firstMain = errors.Is(err, fs.ErrNotExist)
		}
		if rel == "master.cf" {
			p.oldMaster = cur
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return p, fmt.Errorf("read %s: %w", live, err)
		}
		same := err == nil && bytes.Equal(cur, f.Data)
		if same {
			if fi, err := os.Stat(live); err != nil || fi.Mode().Perm() != f.Mode {
				same = false
			}
		}
		if same && isIndexed(rel) {
			src, _ := os.Stat(live)
			db, err := os.Stat(live + ".db")
			same = err == nil && src != nil && !db.ModTime().Before(src.ModTime()) && db.Mode().Perm() == f.Mode
		}
		if !same {
			p.changed = append(p.changed, rel)
		}
	}
	entries, err := os.ReadDir(m.inst.MapsDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return p, fmt.Errorf("read maps directory: %w", err)
	}
	for _, e := range entries {
		rel := "maps.d/" + e.Name()
		src := strings.TrimSuffix(rel, ".db")
		if !managedMapFile(e.Name()) {
			continue
		}
		if _, ok := r[src]; !ok {
			p.removed = append(p.removed, rel)
		}
	}
	sort.Strings(p.changed)
	sort.Strings(p.removed)
	return p, nil
}

var mapFileRe = regexp.MustCompile(`^(btree|cidr|hash|pcre|regexp)\.[A-Za-z0-9._-]+\.map(\.db)?$`)

func managedMapFile(name string) bool { return mapFileRe.MatchString(name) }

func isIndexed(rel string) bool {
	if !strings.HasPrefix(rel, "maps.d/") {
		return false
	}
	typ, _, _ := strings.Cut(strings.TrimPrefix(rel, "maps.d/"), ".")
	return indexedMap[typ]
}

// stage writes main.cf, master.cf and the changed maps into the staging
// directory and builds indexed maps there.
func (m *Manager) stage(ctx context.Context, p plan) (string, error) {
	staging := filepath.Join(m.inst.ConfigDir, stagingName)
	if err := os.RemoveAll(staging); err != nil {
		return "", fmt.Errorf("clear staging: %w", err)
	}
	// 0700: postmap creates a .db with the default mode before it gets the
	// mode of its source (0600 for the SASL password map).
	if err := os.MkdirAll(filepath.Join(staging, "maps.d"), 0o700); err != nil {
		return "", fmt.Errorf("create staging: %w", err)
	}
	write := func(rel string) error {
		f := p.rendered[rel]
		path := filepath.Join(staging, rel)
		if err := os.WriteFile(path, f.Data, f.Mode); err != nil {
			return fmt.Errorf("stage %s: %w", rel, err)
		}
		return os.Chmod(path, f.Mode) // WriteFile's mode is masked by umask
	}
	for _, rel := range []string{"main.cf", "master.cf"} {
		if err := write(rel); err != nil {
			return staging, err
		}
	}
	old := time.Now().Add(-backdate)
	if err := os.Chtimes(filepath.Join(staging, "main.cf"), old, old); err != nil {
		return staging, fmt.Errorf("backdate staged main.cf: %w", err)
	}
	var build []string
	for _, rel := range p.changed {
		if rel == "main.cf" || rel == "master.cf" {
			continue
		}
		if isIndexed(rel) {
			build = append(build, rel)
			continue
		}
		if err := write(rel); err != nil {
			return staging, err
		}
	}
	// Indexed maps are built several at a time (a restore, the first
	// start), or taken from their build ahead (prebuild.go).
	return staging, forEachMap(build, func(rel string) error {
		typ, _, _ := strings.Cut(strings.TrimPrefix(rel, "maps.d/"), ".")
		path := filepath.Join(staging, rel)
		if m.adoptPrebuilt(rel, p.rendered[rel].Data, staging) {
			if err := os.Chmod(path, p.rendered[rel].Mode); err != nil {
				return fmt.Errorf("chmod %s: %w", rel, err)
			}
		} else {
			if err := write(rel); err != nil {
				return err
			}
			_, stderr, err := m.pfStaging(staging).Run(ctx, nil, "postmap", typ+":"+path)
			if full := mapBuildFull(staging, rel, len(p.rendered[rel].Data), err, string(stderr)); full != nil {
				if !quietFull(ctx) {
					m.log.Error("postmap failed on a full disk", "map", rel, "postfix", firstProblem(string(stderr)))
				}
				return full
			}
			if err != nil || hasProblem(stderr) {
				return mapError(p.rendered, rel, staging, string(stderr), err)
			}
		}
		if err := os.Chmod(path+".db", p.rendered[rel].Mode); err != nil {
			return fmt.Errorf("chmod %s.db: %w", rel, err)
		}
		return nil
	})
}

func (m *Manager) pfStaging(staging string) postfix.Runner {
	return postfix.Runner{SbinDir: m.pf.SbinDir, ConfigDir: staging}
}

// hasProblem reports whether Postfix printed a warning, error or fatal.
func hasProblem(stderr []byte) bool {
	s := string(stderr)
	return strings.Contains(s, "warning:") || strings.Contains(s, "fatal:") || strings.Contains(s, "error:") || strings.Contains(s, "panic:")
}

var postmapLineRe = regexp.MustCompile(`, line ([0-9]+): (.*)`)

// mapError turns postmap's complaint about a staged map into an error on the
// map's content line, with the staging path removed from Postfix's words.
func mapError(r Rendered, rel, staging, stderr string, err error) error {
	name := strings.TrimSuffix(strings.TrimPrefix(rel, "maps.d/"), ".map")
	if _, n, ok := strings.Cut(name, "."); ok {
		name = n
	}
	stderr = strings.ReplaceAll(stderr, staging+"/", "")
	said := firstProblem(stderr)
	if said == "" && err != nil {
		said = err.Error()
	}
	if mm := postmapLineRe.FindStringSubmatch(said); mm != nil {
		var line int
		fmt.Sscanf(mm[1], "%d", &line)
		return store.InvalidLine("content", line, "map %s: %s", name, mm[2])
	}
	// Postfix's macro parser complains without a line (`warning:
	// truncated macro reference: "${1"`) and the table reader then names
	// it (`pcre map ..., line 2: bad replacement syntax`): the
	// administrator gets the line and both.
	if mm := postmapLineRe.FindStringSubmatch(stderr); mm != nil {
		var line int
		fmt.Sscanf(mm[1], "%d", &line)
		return store.InvalidLine("content", line, "map %s: %s; %s", name, strings.TrimPrefix(said, "warning: "), mm[2])
	}
	return store.Invalid("content", "map %s: Postfix says: %s", name, said)
}

// firstProblem returns the first warning/fatal line of Postfix's stderr,
// without the program prefix.
func firstProblem(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		for _, k := range []string{"fatal: ", "error: ", "warning: ", "panic: "} {
			if i := strings.Index(line, k); i >= 0 {
				return strings.TrimSpace(line[i:])
			}
		}
	}
	return strings.TrimSpace(stderr)
}

// validateStaged runs Postfix's own checks and ours on the staging copy
// (masterDoc: the master config document it renders, for lines).
// It reports whether the change is unread: only maps that no Postfix
// setting names changed (unreadMaps), while Postfix runs (running), so
// that nothing Postfix reads changed and the configuration checks that
// follow (the open-relay probe, the reload, the serve check) have nothing
// new to look at. The maps' own checks (postmap's build in stage, the
// probes of cidr, pcre and regexp tables here) run for every change.
func (m *Manager) validateStaged(ctx context.Context, p plan, staging string, params []Param, masterDoc string, running bool) (unread bool, err error) {
	expanded, err := m.expandedConfig(ctx, p, staging, params)
	if err != nil {
		return false, err
	}
	if err := m.probeMaps(ctx, p, staging); err != nil {
		return false, err
	}
	if running && !configChanged(p) && mapsOnly(p) {
		services, err := m.expandedServices(ctx, p, staging)
		if err != nil {
			return false, err
		}
		if unreadMaps(p, expanded, services) {
			return true, nil
		}
	}
	// Every type:/path table that main.cf references must exist and be of a
	// type this Postfix supports. params is not nil here, even for a
	// document without parameters: refError names the settings' fields.
	if params == nil {
		params = []Param{}
	}
	if err := m.checkReferences(expanded, p, staging, params); err != nil {
		return false, err
	}
	if err := m.checkFiles(expanded, staging, params); err != nil {
		return false, err
	}
	sc := stagedConfig{main: expandedValues(expanded)}
	if master, err := m.stagedMaster(staging); err == nil {
		sc.services, sc.master = parseMasterCF(string(master)), true
	}
	if err := m.checkKeyPairs(ctx, staging, sc, masterDoc, params); err != nil {
		return false, err
	}
	if err := m.checkQueueRoom(ctx, p, sc, params); err != nil {
		return false, err
	}
	if err := m.checkTLSCertificate(sc, masterDoc, params); err != nil {
		return false, err
	}
	if err := m.checkTLSTrust(ctx, p, staging, sc, params, masterDoc); err != nil {
		return false, err
	}
	if err := m.checkRelayRecipients(ctx, p, staging, sc, params); err != nil {
		return false, err
	}
	if err := m.checkDomainClasses(ctx, p, staging, sc, params); err != nil {
		return false, err
	}
	if err := m.checkEveryMatch(ctx, p, staging, sc, params); err != nil {
		return false, err
	}
	if configChanged(p) {
		if err := m.checkOverrides(ctx, p, staging); err != nil {
			return false, err
		}
	}
	return false, m.checkListeners(p)
}

// checkOverrides holds master.cf's -o overrides (postconf -P -x: each
// with its $names expanded) to what main.cf's parameters are held to:
// tables, pattern files and TLS files where they may be, existing and of
// the right kind. -o header_checks=regexp:/etc/shadow and -o
// smtpd_client_restrictions=check_client_access,hash:/etc/passwd (no .db:
// 451 at every RCPT) went through, as the checks read main.cf only.
func (m *Manager) checkOverrides(ctx context.Context, p plan, staging string) error {
	services, err := m.expandedServices(ctx, p, staging)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(services, "\n") {
		// service/type/name = value; a service name may hold '/' only
		// as part of a path (a unix-dgram postlog is postlog/unix-dgram).
		key, value, ok := strings.Cut(line, " = ")
		i := strings.LastIndexByte(key, '/')
		if !ok || i < 0 {
			continue
		}
		svc, name := key[:i], key[i+1:]
		if j := strings.LastIndexByte(svc, '/'); j >= 0 {
			svc = svc[:j]
		}
		if msg := m.patternFileProblem(name, value, staging, "", ""); msg != "" {
			return store.Invalid(FieldMasterConfig, "Service %s: -o %s: %s", svc, name, msg)
		}
		one := name + " = " + value
		err := m.checkReferences(one, p, staging, nil)
		if err == nil {
			err = m.checkFiles(one, staging, nil)
		}
		var ue *store.UserError
		if errors.As(err, &ue) {
			return store.Invalid(FieldMasterConfig, "Service %s: -o %s: %s", svc, name, strings.TrimSuffix(ue.Msg, "."))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// liveConfig is the running configuration: main.cf's parameters and
// master.cf's services (nil when master.cf cannot be read); ok is false
// when main.cf cannot be read or parsed. The checks that leave alone
// what the running configuration has already read it.
func (m *Manager) liveConfig() (params []Param, services []masterService, ok bool) {
	text, err := os.ReadFile(filepath.Join(m.inst.ConfigDir, "main.cf"))
	if err != nil {
		return nil, nil, false
	}
	if params, err = parseMainCF(string(text), true); err != nil {
		return nil, nil, false
	}
	if master, err := os.ReadFile(filepath.Join(m.inst.ConfigDir, "master.cf")); err == nil {
		services = parseMasterCF(string(master))
	}
	return params, services, true
}

// livePath is where a path of the staged configuration (postconf run on
// the staging directory names its files there) lies once it is live.
func (m *Manager) livePath(staging, path string) string {
	if rel, ok := strings.CutPrefix(path, staging+"/"); ok {
		return filepath.Join(m.inst.ConfigDir, rel)
	}
	return path
}

// stagedConfig is what the checks of validateStaged read of the staged
// configuration, read once: main.cf's parameters as postconf -n -x
// prints them, and master.cf's services (master is false when there is no
// master.cf yet: the start's checks say).
type stagedConfig struct {
	main     map[string]string
	services []masterService
	master   bool
}

// stagedMaster is the master.cf of the staging directory, or the live
// one when the change did not put it there (unchanged, and not linked
// in yet).
func (m *Manager) stagedMaster(staging string) ([]byte, error) {
	master, err := os.ReadFile(filepath.Join(staging, "master.cf"))
	if err != nil {
		master, err = os.ReadFile(filepath.Join(m.inst.ConfigDir, "master.cf"))
	}
	return master, err
}

// configChanged reports whether main.cf or master.cf changes.
func configChanged(p plan) bool {
	return slices.Contains(p.changed, "main.cf") || slices.Contains(p.changed, "master.cf")
}

// expandedConfig returns `postconf -n -x` of the staged main.cf: the
// parameters it sets with every $name expanded, for the checks of tables
// and files. When main.cf or master.cf changes, the same run is Postfix's
// check of both: it must print no warning, no fatal. postconf reads and
// checks master.cf whatever it is asked to show, and prints every
// diagnostic of master.cf that `postconf -M` prints (measured, see
// docs/postfix.md and TestPostconfNChecksMasterCF), so one run does what
// -n, -M and -n -x did apart.
//
// When neither changes, the output is that of the bytes checked before: it
// is kept from the last run (keyed by the bytes of both files) instead of
// asked again.
func (m *Manager) expandedConfig(ctx context.Context, p plan, staging string, params []Param) (string, error) {
	key := configKey(p)
	changed := configChanged(p)
	if !changed && m.expanded.key == key {
		return m.expanded.main, nil
	}
	out, stderr, err := m.pfStaging(staging).Run(ctx, nil, "postconf", "-n", "-x")
	if changed && (err != nil || hasProblem(stderr)) {
		said := firstProblem(strings.ReplaceAll(string(stderr), staging, m.inst.ConfigDir))
		if said == "" && err != nil {
			said = err.Error()
		}
		return "", docError(params, said)
	}
	if err != nil {
		return "", fmt.Errorf("postconf -n -x: %w", err)
	}
	if !hasProblem(stderr) {
		m.expanded = expandedCache{key: key, main: string(out)}
	}
	return string(out), nil
}

// expandedServices returns `postconf -P -x` of the staged configuration:
// every -o override of master.cf with its $names expanded (as the daemon
// expands them at run time). It is asked only for a change that may be
// unread (see validateStaged), after expandedConfig, and kept with its
// output.
func (m *Manager) expandedServices(ctx context.Context, p plan, staging string) (string, error) {
	key := configKey(p)
	if m.expanded.key == key && m.expanded.servicesDone {
		return m.expanded.services, nil
	}
	out, stderr, err := m.pfStaging(staging).Run(ctx, nil, "postconf", "-P", "-x")
	if err != nil {
		return "", fmt.Errorf("postconf -P -x: %w", err)
	}
	if m.expanded.key == key && !hasProblem(stderr) {
		m.expanded.services, m.expanded.servicesDone = string(out), true
	}
	return string(out), nil
}

// configKey is the digest of the rendered main.cf and master.cf, which
// key the kept postconf outputs.
func configKey(p plan) string {
	return store.DocVersion(p.rendered["main.cf"].Data, p.rendered["master.cf"].Data)
}

// expandedCache is the last `postconf -n -x` output and, once asked,
// `postconf -P -x`, with the digest of the main.cf and master.cf they
// were made from (guarded by Manager.mu).
type expandedCache struct {
	key, main, services string
	servicesDone        bool
}

// mapsOnly reports whether the plan changes or removes map files only.
func mapsOnly(p plan) bool {
	for _, rel := range p.changed {
		if !strings.HasPrefix(rel, "maps.d/") {
			return false
		}
	}
	for _, rel := range p.removed {
		if !strings.HasPrefix(rel, "maps.d/") {
			return false
		}
	}
	return true
}

// probeMaps probes every changed cidr, pcre and regexp table, which
// cannot be built, with `postmap -q` (several at a time) and turns every
// warning into an error on the map's line; the first map in name order
// that fails is reported.
func (m *Manager) probeMaps(ctx context.Context, p plan, staging string) error {
	var probe []string
	for _, rel := range p.changed {
		typ, _, _ := strings.Cut(strings.TrimPrefix(rel, "maps.d/"), ".")
		if strings.HasPrefix(rel, "maps.d/") && !indexedMap[typ] {
			probe = append(probe, rel)
		}
	}
	spf := m.pfStaging(staging)
	return forEachMap(probe, func(rel string) error {
		typ, _, _ := strings.Cut(strings.TrimPrefix(rel, "maps.d/"), ".")
		path := filepath.Join(staging, rel)
		_, stderr, _ := spf.Run(ctx, nil, "postmap", "-q", "postdeck-probe.invalid", typ+":"+path)
		if hasProblem(stderr) {
			return mapError(p.rendered, rel, staging, string(stderr), nil)
		}
		return nil
	})
}

// forEachMap runs fn for every element of rels, as many at a time as
// there are CPUs (each runs a Postfix command), and returns the error of
// the first element (in rels' order) that failed.
func forEachMap(rels []string, fn func(rel string) error) error {
	errs := make([]error, len(rels))
	sem := make(chan struct{}, max(1, runtime.NumCPU()))
	var wg sync.WaitGroup
	for i, rel := range rels {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer func() {
				if r := recover(); r != nil {
					panics.Recovered(panics.MTA)
					errs[i] = fmt.Errorf("map %s: internal error: %v", rel, r)
				}
			}()
			errs[i] = fn(rel)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// unreadMaps reports whether every map file the plan changes or removes
// is one that Postfix does not read: no setting names it. It looks for
// the file's name (TYPE.NAME.map) in the expanded main.cf (postconf -n
// -x), the expanded -o overrides of master.cf (postconf -P -x), and the
// content of every other map (an access table's result may name a table:
// check_*_access type:/path). It errs on the side of reading: a $ left
// after expansion, and a table type followed by a $ in a map
// (type:$name), count as naming every map.
func unreadMaps(p plan, expanded, services string) bool {
	if !mapsOnly(p) {
		return false
	}
	var names []string
	for _, rel := range append(slices.Clone(p.changed), p.removed...) {
		names = append(names, strings.TrimPrefix(strings.TrimSuffix(rel, ".db"), "maps.d/"))
	}
	if strings.Contains(expanded, "$") || strings.Contains(services, "$") {
		return false
	}
	master := string(p.rendered["master.cf"].Data)
	for _, name := range names {
		if strings.Contains(expanded, name) || strings.Contains(services, name) || strings.Contains(master, name) {
			return false
		}
	}
	for rel, f := range p.rendered {
		if !strings.HasPrefix(rel, "maps.d/") {
			continue
		}
		if namesTableThroughVar(f.Data) {
			return false
		}
		for _, name := range names {
			if rel != "maps.d/"+name && bytes.Contains(f.Data, []byte(name)) {
				return false
			}
		}
	}
	return true
}

// namesTableThroughVar reports whether a map's content names a table
// through a $name (type:$name, type:/path/$name): a $ in a word that has a
// table type and ':' before it. Most content has no $ at all, which one
// fast scan finds.
func namesTableThroughVar(content []byte) bool {
	for off := 0; ; {
		i := bytes.IndexByte(content[off:], '$')
		if i < 0 {
			return false
		}
		i += off
		start := i
		for start > 0 && !isWordEnd(content[start-1]) {
			start--
		}
		if c := bytes.IndexByte(content[start:i], ':'); c > 0 && isAlnum(content[start+c-1]) {
			return true
		}
		off = i + 1
	}
}

func isWordEnd(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == ',' }

var tableRefRe = regexp.MustCompile(`([a-z0-9]+):(/[^\s,]+)`)

// checkReferences checks every type:/path table of the staged main.cf
// (postconf -n -x): of a type this Postfix supports, existing (staged or
// live), and where tables may live (tableAllowed).
func (m *Manager) checkReferences(expanded string, p plan, staging string, params []Param) error {
	dataDir, queueDir := m.catalog.defaultOf("data_directory"), m.catalog.defaultOf("queue_directory")
	for _, line := range strings.Split(expanded, "\n") {
		name, value, ok := strings.Cut(line, " = ")
		switch {
		case ok && name == "data_directory":
			dataDir = value
		case ok && name == "queue_directory":
			queueDir = value
		}
	}
	for _, line := range strings.Split(expanded, "\n") {
		name, value, ok := strings.Cut(line, " = ")
		if !ok || name == "tls_random_source" { // dev:/dev/urandom is not a table
			continue
		}
		if err := m.patternFileError(name, value, staging, dataDir, queueDir, params); err != nil {
			return err
		}
		for _, mm := range tableRefRe.FindAllStringSubmatch(value, -1) {
			typ, path := mm[1], mm[2]
			if typ == "unix" || typ == "inet" || typ == "local" {
				continue
			}
			if !holdsTables(name) {
				continue // names a command or a parameter list, not a table
			}
			live := m.livePath(staging, path)
			if !m.tableAllowed(name, typ, live, dataDir, queueDir) {
				where := "the Postfix configuration directory " + m.inst.ConfigDir
				if createdByPostfix(name) {
					where += " or Postfix's data directory"
				}
				return refError(params, name, fmt.Sprintf("Parameter %s refers to %s:%s, outside %s; tables must live there or in a directory the daemon lists with --table-dirs", name, typ, live, where))
			}
			if createdByPostfix(name) {
				continue // a cache Postfix creates at first use
			}
			if m.catalog != nil && !m.catalog.mapTypes[typ] {
				return refError(params, name, fmt.Sprintf("%s refers to %s:%s, but this Postfix does not support table type %q (postconf -m)", name, typ, live, typ))
			}
			exists := false
			if rel, ok := strings.CutPrefix(path, staging+"/"); ok {
				_, exists = p.rendered[rel]
				path = filepath.Join(m.inst.ConfigDir, rel)
			} else {
				check := path
				if indexedMap[typ] {
					check += ".db"
				}
				_, err := os.Stat(check)
				exists = err == nil
			}
			if !exists {
				return refError(params, name, fmt.Sprintf("%s refers to %s:%s, which does not exist (create the map on the Maps page, or fix the name)", name, typ, path))
			}
		}
	}
	return nil
}

// patternFileParams are the Postfix lists that take "/file/name" entries
// (postconf(5)): Postfix reads the file's lines, as root, as more
// entries. A file is a table by another name: it must live where tables
// may (tableAllowed). relay_domains = /etc/shadow got past the table
// checks, and the probe's smtpd then quoted the file's lines in its
// errors ("unsupported dictionary type: root").
var patternFileParams = map[string]bool{
	"mydestination": true, "relay_domains": true, "mynetworks": true,
	"virtual_alias_domains": true, "virtual_mailbox_domains": true,
	"permit_mx_backup_networks": true, "debug_peer_list": true, "fast_flush_domains": true,
	"authorized_submit_users": true, "authorized_flush_users": true, "authorized_mailq_users": true,
	"authorized_verp_clients": true, "smtpd_authorized_verp_clients": true,
	"smtpd_authorized_xclient_hosts": true, "smtpd_authorized_xforward_hosts": true,
	"smtpd_client_event_limit_exceptions": true, "smtpd_sasl_exceptions_networks": true,
	"qmqpd_authorized_clients": true, "smtp_connection_cache_destinations": true,
	"lmtp_connection_cache_destinations": true, "smtp_sasl_mechanism_filter": true,
	"lmtp_sasl_mechanism_filter": true, "smtpd_log_access_permit_actions": true,
}

// patternFileError refuses a "/file/name" entry of a main.cf pattern
// list (value, as postconf -n -x prints it) that lies where tables may
// not, on the settings field or the document line that sets it.
func (m *Manager) patternFileError(name, value, staging, dataDir, queueDir string, params []Param) error {
	msg := m.patternFileProblem(name, value, staging, dataDir, queueDir)
	switch {
	case msg == "":
		return nil
	case name == "relay_domains":
		return store.Invalid(FieldRelayDomains, "Relay domains: %s", msg)
	case name == "mynetworks":
		return store.Invalid(FieldMyNetworks, "My Networks: %s", msg)
	}
	return refError(params, name, "Parameter "+name+": "+msg)
}

// patternFileProblem says what is wrong with the "/file/name" entries of
// a pattern list, "" when nothing is.
func (m *Manager) patternFileProblem(name, value, staging, dataDir, queueDir string) string {
	if !patternFileParams[name] {
		return ""
	}
	for _, tok := range refTokens(value) {
		path := strings.TrimLeft(tok, "!")
		if !strings.HasPrefix(path, "/") {
			continue
		}
		path = m.livePath(staging, path)
		if !m.tableAllowed(name, "", path, dataDir, queueDir) {
			return fmt.Sprintf("the pattern file %s is outside the Postfix configuration directory %s; pattern files must live there or in a directory the daemon lists with --table-dirs", path, m.inst.ConfigDir)
		}
	}
	return ""
}

// createdByPostfix reports parameters whose table is a cache Postfix
// creates itself (the verify and postscreen caches, TLS session caches), so
// it need not exist before the apply.
func createdByPostfix(name string) bool {
	return name == "address_verify_map" || name == "postscreen_cache_map" || strings.HasSuffix(name, "_cache_database")
}

// refError is a refusal of main.cf's parameter name: on the document
// line that sets it, or on the settings field that renders it. params is
// nil for master.cf's -o overrides, whose caller names the service.
func refError(params []Param, name, msg string) error {
	for _, p := range params {
		if p.Name == name {
			return store.InvalidLine(FieldMainConfig, p.Line, "%s", msg)
		}
	}
	if params != nil {
		// The document may not set these: the administrator edited
		// the settings page, which has no main config field.
		switch name {
		case "relay_domains":
			return store.Invalid(FieldRelayDomains, "Relay domains: %s", msg)
		case "mynetworks":
			return store.Invalid(FieldMyNetworks, "My Networks: %s", msg)
		}
	}
	return store.Invalid(FieldMainConfig, "%s", msg)
}

// checkListeners refuses a new inet listener whose address another program
// holds: master would die at reload while binding it.
func (m *Manager) checkListeners(p plan) error {
	if !slices.Contains(p.changed, "master.cf") {
		return nil
	}
	old, _ := os.ReadFile(filepath.Join(m.inst.ConfigDir, "master.cf"))
	have := map[string]bool{}
	for _, s := range masterServiceNames(string(old), "inet") {
		have[s] = true
	}
	for _, s := range masterServiceNames(string(p.rendered["master.cf"].Data), "inet") {
		if have[s] || !strings.Contains(s, ":") {
			continue
		}
		ln, err := net.Listen("tcp", s)
		if err != nil {
			return store.Invalid("listen", "Postfix cannot listen on %s: the address is in use or not on this machine", s)
		}
		_ = ln.Close()
	}
	return nil
}

// swap keeps the live files in the backup directory (hard links) and moves
// the staged ones in with rename. The fsync of the directories runs in the
// background, beside the reload and the serve check: durable waits for it
// and must be called before the state is stored, so that the store never
// names files a crash could lose (until then a crash leaves the previous
// state in the store, and the start-up apply renders it again).
func (m *Manager) swap(p plan, staging string) (durable func() error, err error) {
	backup := filepath.Join(m.inst.ConfigDir, backupName)
	// The previous apply's backup goes to the trash, removed after this
	// apply answered (trash.go).
	if err := m.discard(backup); err != nil {
		return nil, fmt.Errorf("clear backup: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(backup, "maps.d"), 0o700); err != nil {
		return nil, fmt.Errorf("create backup: %w", err)
	}
	if err := os.MkdirAll(m.inst.MapsDir(), 0o755); err != nil {
		return nil, fmt.Errorf("create maps directory: %w", err)
	}
	moves := installOrder(p.changed)
	for _, rel := range append(append([]string(nil), moves...), p.removed...) {
		live := filepath.Join(m.inst.ConfigDir, rel)
		if err := os.Link(live, filepath.Join(backup, rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("back up %s: %w", rel, err)
		}
	}
	for _, rel := range moves {
		if err := os.Rename(filepath.Join(staging, rel), filepath.Join(m.inst.ConfigDir, rel)); err != nil {
			return nil, fmt.Errorf("install %s: %w", rel, err)
		}
	}
	for _, rel := range p.removed {
		if err := os.Remove(filepath.Join(m.inst.ConfigDir, rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove %s: %w", rel, err)
		}
	}
	return m.syncInstalled(moves, p.removed)
}

// syncInstalled back-dates main.cf when it was moved in and starts the
// fsync of each moved file (staged with os.WriteFile, or written by
// postmap: their contents were in the page cache only) and then of each
// directory whose entries changed (the configuration directory for
// main.cf and master.cf, maps.d for maps), not of both every time: a
// settings save moves no map, a map save neither main.cf nor master.cf.
// The returned function waits for the fsyncs and gives their error (see
// swap).
func (m *Manager) syncInstalled(moved, removed []string) (func() error, error) {
	var config, maps bool
	for _, rel := range slices.Concat(moved, removed) {
		if strings.HasPrefix(rel, "maps.d/") {
			maps = true
		} else {
			config = true
		}
	}
	if slices.Contains(moved, "main.cf") {
		old := time.Now().Add(-backdate)
		if err := os.Chtimes(filepath.Join(m.inst.ConfigDir, "main.cf"), old, old); err != nil {
			return nil, fmt.Errorf("backdate main.cf: %w", err)
		}
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				panics.Recovered(panics.MTA)
				done <- fmt.Errorf("sync configuration: internal error: %v", r)
			}
		}()
		var errs []error
		for _, rel := range moved {
			err := atomicfile.SyncFile(filepath.Join(m.inst.ConfigDir, rel))
			if err == nil && m.afterFileSync != nil {
				err = m.afterFileSync(rel)
			}
			errs = append(errs, err)
		}
		for dir, changed := range map[string]bool{m.inst.ConfigDir: config, m.inst.MapsDir(): maps} {
			if changed {
				errs = append(errs, atomicfile.SyncDir(dir))
			}
		}
		done <- errors.Join(errs...)
	}()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() { err = <-done })
		return err
	}, nil
}

// installOrder lists the files to move for the changed ones (an indexed
// map's .db after its source) with main.cf and master.cf last. Postfix
// starts processes while the files are being moved (an smtpd for the next
// connection); each reads main.cf and master.cf when it starts and opens
// the tables they name. Tables first, configuration last: a process never
// finds a main.cf that names a table not there yet, and dies at start,
// which makes master throttle the service for a minute.
func installOrder(changed []string) []string {
	var out, last []string
	for _, rel := range changed {
		if rel == "main.cf" || rel == "master.cf" {
			last = append(last, rel)
			continue
		}
		out = append(out, rel)
		if isIndexed(rel) {
			out = append(out, rel+".db")
		}
	}
	slices.Sort(last) // main.cf, then master.cf
	return append(out, last...)
}

// rollback puts the backed-up files back and removes files that are new.
func (m *Manager) rollback(p plan) error {
	backup := filepath.Join(m.inst.ConfigDir, backupName)
	var errs []error
	// Tables the change removed come back first, then the old main.cf and
	// master.cf (which may name them), then the changed tables: no new
	// Postfix process meanwhile finds a main.cf that names a table not
	// there (see installOrder).
	all := append([]string(nil), p.removed...)
	moves := installOrder(p.changed)
	slices.Reverse(moves)
	all = append(all, moves...)
	for _, rel := range all {
		live := filepath.Join(m.inst.ConfigDir, rel)
		saved := filepath.Join(backup, rel)
		if _, err := os.Lstat(saved); err == nil {
			if err := os.Rename(saved, live); err != nil {
				errs = append(errs, err)
			}
		} else if err := os.Remove(live); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := m.syncAndBackdate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (m *Manager) syncAndBackdate() error {
	old := time.Now().Add(-backdate)
	main := filepath.Join(m.inst.ConfigDir, "main.cf")
	if err := os.Chtimes(main, old, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backdate main.cf: %w", err)
	}
	for _, dir := range []string{m.inst.ConfigDir, m.inst.MapsDir()} {
		if err := atomicfile.SyncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// linkUnchanged completes the staging directory for the open-relay probe,
// which runs Postfix on it: every rendered map that did not change is
// hard-linked from the live directory (source and .db), so that tables the
// document names through $config_directory are found there.
func (m *Manager) linkUnchanged(p plan, staging string) error {
	for rel := range p.rendered {
		if rel == "main.cf" || rel == "master.cf" || slices.Contains(p.changed, rel) {
			continue
		}
		files := []string{rel}
		if isIndexed(rel) {
			files = append(files, rel+".db")
		}
		for _, f := range files {
			if err := os.Link(filepath.Join(m.inst.ConfigDir, f), filepath.Join(staging, f)); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("stage unchanged %s: %w", f, err)
			}
		}
	}
	return nil
}
