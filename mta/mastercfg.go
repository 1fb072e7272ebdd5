package mta

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"postdeck/postfix"
	"postdeck/store"
)

// FieldMasterConfig is the API field of the Edit Master Config document.
const FieldMasterConfig = "text"

// maxMasterConfig bounds the document, like maxMainConfig.
const maxMasterConfig = 256 << 10

// neededServices are the services mail passes through on its way to and
// from the MPA (the reinjection smtpd hands it to cleanup, qmgr schedules
// the mpa transport, trivial-rewrite resolves addresses, bounce, defer and
// trace report): a document without them would leave mail stuck.
var neededServices = []struct{ name, why string }{
	{"cleanup", "the smtpd services (and the MPA's reinjection) hand every message to it"},
	{"qmgr", "it schedules every delivery, the MPA's included"},
	{"rewrite", "trivial-rewrite resolves every address smtpd and qmgr see"},
	{"bounce", "it reports failed deliveries"},
	{"defer", "it reports delayed deliveries"},
	{"trace", "it reports delivery status requests"},
}

// externalRefs are the $names the MTA settings lists and a rendered
// master.cf use, for validateDocument.
func externalRefs(s store.Settings, master string) map[string]bool {
	refs := masterRefs(parseMasterCF(master))
	var list []Param
	for _, v := range append(append([]string(nil), s.RelayDomains...), s.MyNetworks...) {
		list = append(list, Param{Value: v})
	}
	for name := range referencedNames(list) {
		refs[name] = true
	}
	return refs
}

// DefaultMasterConfig is the document of an installation that has none of
// its own: the smtpd listener (--smtp-listen) and Debian's services. Once
// saved, it is the administrator's, listener included.
func DefaultMasterConfig(in Instance) string {
	svc, err := listenService(in.SMTPListen)
	if err != nil {
		svc = "smtp"
	}
	return "# postdeck's service table; the MPA's services are added by postdeck.\n" +
		"# service type  private unpriv  chroot  wakeup  maxproc command + args\n" +
		svc + " inet n - n - - smtpd\n" + postfix.DebianServices
}

// MasterConfigDoc is the Edit Master Config document as the page shows it.
type MasterConfigDoc struct {
	Text string
	// Default is true when no document is stored and Text is postdeck's
	// own service table.
	Default bool
	// Version is the version of Text (MasterConfigVersion).
	Version string
	// Managed is what postdeck adds to the document in master.cf: the
	// MPA's services and the content filter returns it takes over.
	Managed string
}

// MasterConfigVersion is the version of an Edit Master Config text.
func MasterConfigVersion(text string) string { return store.DocVersion([]byte(text)) }

// MasterConfig returns the stored document, or the default table.
func (m *Manager) MasterConfig() (MasterConfigDoc, error) {
	text, err := m.db.LoadMasterConfig()
	if err != nil {
		return MasterConfigDoc{}, err
	}
	return m.MasterConfigOf(text), nil
}

// MasterConfigOf is MasterConfig for a stored document text ("" is
// postdeck's own): a cluster node shows the cluster's document with it
// when it refused the cluster's configuration.
func (m *Manager) MasterConfigOf(text string) MasterConfigDoc {
	doc := MasterConfigDoc{Text: text}
	if text == "" {
		doc.Text, doc.Default = DefaultMasterConfig(m.inst), true
	}
	doc.Version = MasterConfigVersion(doc.Text)
	doc.Managed = m.managedMaster(doc.Text)
	return doc
}

// managedMaster describes what postdeck adds to the document.
func (m *Manager) managedMaster(doc string) string {
	if m.inst.MPAListen == "" {
		return ""
	}
	var b strings.Builder
	if m.inst.ChainFilter == "" || m.inst.ChainOrder != ChainBefore {
		for _, r := range filterReturns(parseMasterCF(doc)) {
			if r.Name != reinjectName(m.inst) {
				fmt.Fprintf(&b, "# after line %d (service %s): mail returning here goes on to the MPA\n  -o content_filter=%s\n", r.End, r.Name, m.inst.mpaNextHop())
			}
		}
	}
	mpa, err := renderMPAServices(m.inst)
	if err == nil {
		b.WriteString(mpa)
	}
	return b.String()
}

// SaveMasterConfig validates and applies a new Edit Master Config
// document; base is the version it was based on (see SaveSettings). Our
// checks and Postfix's (postconf -M and -P on a copy of the rendered
// files) name the document's line; then the apply pipeline stages,
// validates, reloads and rolls back as for every change.
func (m *Manager) SaveMasterConfig(ctx context.Context, actor, text, base string) (Result, error) {
	return m.SaveMasterConfigWith(ctx, actor, text, base, ApplyOptions{})
}

// SaveMasterConfigWith is SaveMasterConfig with what the change allows: a
// listener that relays for strangers gets through with
// opts.AllowOpenRelay, as a main config or settings change does.
func (m *Manager) SaveMasterConfigWith(ctx context.Context, actor, text, base string, opts ApplyOptions) (Result, error) {
	if err := m.heldErr(); err != nil {
		return Result{}, err
	}
	norm := NormalizeDocument(text)
	cur, err := m.db.LoadState()
	if err != nil {
		return Result{}, err
	}
	if err := m.checkMasterDocument(ctx, cur, norm); err != nil {
		m.record(actor, "mastercfg", "refused", err.Error())
		return Result{}, err
	}
	var prev, mainDoc string
	// Diffs mask the SASL passwords an older document may still hold
	// (MaskLiteralPasswords): the answer and the audit log show them.
	diff := func(a, b string) string {
		_, a = MaskLiteralPasswords(mainDoc, a)
		_, b = MaskLiteralPasswords(mainDoc, b)
		return UnifiedDiff("master config", a, b)
	}
	res, err := m.UpdateWith(ctx, actor, "mastercfg", opts, func(st *store.State) error {
		stored := st.MasterConfig
		if stored == "" {
			stored = DefaultMasterConfig(m.inst)
		}
		mainDoc = st.MainConfig
		if v := MasterConfigVersion(stored); base != "" && base != v {
			return store.Stale("the master config document", v, diff(stored, norm))
		}
		prev = stored
		st.MasterConfig = norm
		return nil
	})
	if err == nil && res.Changed {
		// The audit entry shows the document's change, not main.cf's.
		res.Diff = diff(prev, norm)
	}
	return res, err
}

// checkMasterDocument runs our checks of a master.cf document and then
// Postfix's on a scratch copy of the files st renders with it.
func (m *Manager) checkMasterDocument(ctx context.Context, st store.State, doc string) error {
	cat := m.catalogNow()
	if err := validateMasterDocument(doc, m.inst, cat); err != nil {
		return err
	}
	stored := st.MasterConfig
	if stored == "" {
		stored = DefaultMasterConfig(m.inst)
	}
	if n := newReplacementLine(doc, stored); n > 0 {
		return store.InvalidLine(FieldMasterConfig, n, "%s", replacementInDocument("master.cf"))
	}
	services, storedServices := parseMasterCF(doc), parseMasterCF(stored)
	if err := checkListenerKept(services, storedServices, m.inst.SMTPListen); err != nil {
		return err
	}
	if cat != nil {
		if err := checkMasterPrograms(services, storedServices, cat.defaults["daemon_directory"]); err != nil {
			return err
		}
	}
	st.MasterConfig = doc
	return m.postfixCheckMaster(ctx, st)
}

// checkMasterPrograms refuses a service whose command is not a program
// of Postfix's daemon directory (dir). Postfix checks nothing of it:
// postconf and the reload take `127.0.0.1:2526 inet n - n - - smtdp`,
// and master's exec fails only when the service is used (`fatal:
// master_spawn: exec .../smtdp: No such file or directory`, then `bad
// command startup -- throttling`): a listener that never greets, a
// transport whose mail waits in the queue. Only services whose command
// the change adds or changes (against stored) are checked, so that a
// stored document with such a service can still be edited elsewhere.
func checkMasterPrograms(services, stored []masterService, dir string) error {
	if dir == "" {
		return nil
	}
	had := map[string]string{}
	for _, s := range stored {
		had[s.Key()] = s.Command()
	}
	for _, s := range services {
		cmd := s.Command()
		if cmd == "" || strings.Contains(cmd, "/") {
			continue // no command column, or checkMasterCommands' to refuse
		}
		if prev, ok := had[s.Key()]; ok && prev == cmd {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, cmd)); errors.Is(err, fs.ErrNotExist) {
			return store.InvalidLine(FieldMasterConfig, s.Line, "Service %s: there is no program %q in Postfix's daemon directory %s, so master would fail to start the service each time it is used; check the command's name (such as smtpd, smtp, pipe or spawn)", s.Name, truncate(cmd, 60), dir)
		}
	}
	return nil
}

// catalogNow is the parameter catalog once Start loaded it.
func (m *Manager) catalogNow() *paramCatalog {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.catalog
}

// validateMasterDocument applies our checks to a master.cf document:
// what Postfix does not check (-o without NAME=VALUE, a value of the wrong
// kind, a service defined twice), the services the MPA needs, and the
// MPA's own services, which postdeck writes.
func validateMasterDocument(doc string, in Instance, cat *paramCatalog) error {
	if len(doc) > maxMasterConfig {
		return store.Invalid(FieldMasterConfig, "the master config is %d bytes; at most %d are allowed", len(doc), maxMasterConfig)
	}
	if strings.TrimSpace(doc) == "" {
		return store.Invalid(FieldMasterConfig, "the master config is empty; Postfix needs its services (start from the default table)")
	}
	for i, line := range strings.Split(doc, "\n") {
		if strings.ContainsAny(line, "\r\x00") {
			return store.InvalidLine(FieldMasterConfig, i+1, "contains a carriage return or NUL character")
		}
	}
	services := parseMasterCF(doc)
	seen := map[string]int{}
	for _, s := range services {
		if prev, ok := seen[s.Key()]; ok && len(s.Fields) >= 2 {
			return store.InvalidLine(FieldMasterConfig, s.Line, "Service %s (%s) is already defined on line %d; Postfix would run only one of them", s.Name, s.Type, prev)
		}
		seen[s.Key()] = s.Line
		for _, o := range s.Opts {
			if o.Bad {
				return store.InvalidLine(FieldMasterConfig, o.Line, "Service %s: -o %s is not NAME=VALUE (write -o name=value, or -o name= for an empty value)", s.Name, truncate(o.Raw, 60))
			}
			if cat != nil {
				if msg := cat.checkValue(o.Name, o.Value); msg != "" {
					return store.InvalidLine(FieldMasterConfig, o.Line, "Service %s: -o %s: %s", s.Name, o.Name, msg)
				}
			}
		}
	}
	if err := checkMasterCommands(services); err != nil {
		return err
	}
	// Before Postfix reads a scratch copy of it: passwords written into
	// master.cf are refused (secrets.go). Those in main.cf parameters an
	// -o override uses are refused with the whole state (validateState).
	if err := checkLiteralPasswords(nil, services); err != nil {
		return err
	}
	if in.MPAListen != "" {
		if err := checkMPAServices(in, services); err != nil {
			return err
		}
	}
	for _, need := range neededServices {
		found := false
		for _, s := range services {
			found = found || s.Name == need.name && (s.Type == "unix" || s.Type == "fifo")
		}
		if !found {
			return store.Invalid(FieldMasterConfig, "Service %s (unix) is missing: %s, and the MPA's mail passes through it; keep its line", need.name, need.why)
		}
	}
	return nil
}

// checkMasterCommands refuses a service whose command (the eighth
// column) is not a plain program name. master runs the command as root
// from daemon_directory/COMMAND, so ../../../tmp/x (or /tmp/x, read as
// daemon_directory//tmp/x) would make it run a program of the caller's
// choosing: what InstallationParams keeps the Edit Main Config document
// from doing with daemon_directory. Programs outside the daemon directory
// run through pipe(8) or spawn(8), which drop root.
//
// A service name with a '/' is refused too: master makes a unix or fifo
// service's socket at queue_directory/private/NAME (or public/NAME), as
// root, and ../../../tmp/x reached out of the queue directory; master
// died at the reload ("the Postfix master process is not running").
func checkMasterCommands(services []masterService) error {
	for _, s := range services {
		if strings.Contains(s.Name, "/") && len(s.Fields) >= 2 {
			return store.InvalidLine(FieldMasterConfig, s.Line, "Service %s: a service name may not hold a '/'; master makes a unix or fifo service's socket in the queue directory under that name (use a plain name such as policy-check)", truncate(s.Name, 60))
		}
		if cmd := s.Command(); strings.Contains(cmd, "/") {
			return store.InvalidLine(FieldMasterConfig, s.Line, "Service %s: the command %q is not a program of Postfix's daemon directory; master runs it as root, so it may only be a name such as smtpd or pipe (run other programs through pipe or spawn)", s.Name, truncate(cmd, 60))
		}
	}
	return nil
}

var (
	postfixLineRe   = regexp.MustCompile(`master\.cf: line ([0-9]+)`)
	postfixQuotedRe = regexp.MustCompile(`in "([^"]*)"`)
	anyQuotedRe     = regexp.MustCompile(`"([^"]*)"`)
	unusedParamRe   = regexp.MustCompile(`unused parameter: ([^=\s]+)=`)
	undefinedRe     = regexp.MustCompile(`undefined parameter: ([A-Za-z0-9_]+)`)
)

// postfixCheckMaster writes the main.cf and master.cf st renders to a
// scratch directory and runs postconf -M, -F and -P there: any warning or
// fatal is refused with Postfix's words, on the document line it is about.
func (m *Manager) postfixCheckMaster(ctx context.Context, st store.State) error {
	r, err := Render(m.inst, st)
	if err != nil {
		return err
	}
	scratch, err := os.MkdirTemp("", "postdeck-mastercheck-")
	if err != nil {
		return fmt.Errorf("check master config: %w", err)
	}
	defer os.RemoveAll(scratch)
	for _, rel := range []string{"main.cf", "master.cf"} {
		if err := os.WriteFile(filepath.Join(scratch, rel), r[rel].Data, 0o644); err != nil {
			return fmt.Errorf("check master config: %w", err)
		}
	}
	old := time.Now().Add(-backdate)
	if err := os.Chtimes(filepath.Join(scratch, "main.cf"), old, old); err != nil {
		return fmt.Errorf("check master config: %w", err)
	}
	pf := postfix.Runner{SbinDir: m.pf.SbinDir, ConfigDir: scratch}
	for _, args := range [][]string{{"-M"}, {"-F"}, {"-P"}} {
		_, stderr, err := pf.Run(ctx, nil, "postconf", args...)
		if err != nil || hasProblem(stderr) {
			said := firstProblem(strings.ReplaceAll(string(stderr), scratch, m.inst.ConfigDir))
			if said == "" && err != nil {
				said = err.Error()
			}
			return masterError(st.MasterConfig, string(r["master.cf"].Data), said)
		}
	}
	return nil
}

// masterError puts Postfix's words about a rendered master.cf on the
// document line they are about: a line number of the rendered file, the
// service line Postfix quotes, the -o that sets or uses the parameter
// it names, or the -o that names the file it quotes.
func masterError(doc, rendered, said string) error {
	docLines := strings.Split(doc, "\n")
	line := 0
	if mm := postfixLineRe.FindStringSubmatch(said); mm != nil {
		n, _ := strconv.Atoi(mm[1])
		line = docLineOf(docLines, strings.Split(rendered, "\n"), n)
	}
	services := parseMasterCF(doc)
	if mm := postfixQuotedRe.FindStringSubmatch(said); line == 0 && mm != nil {
		quoted := strings.Join(strings.Fields(mm[1]), " ")
		for _, s := range services {
			if strings.HasPrefix(quoted, strings.Join(strings.Fields(docLines[s.Line-1]), " ")) {
				line = s.Line
				break
			}
		}
	}
	if line == 0 {
		// Any quoted line: "logical line must not start with whitespace".
		for _, mm := range anyQuotedRe.FindAllStringSubmatch(said, -1) {
			for i, l := range docLines {
				if q := strings.TrimSpace(mm[1]); q != "" && strings.TrimSpace(l) == q && line == 0 {
					line = i + 1
				}
			}
		}
	}
	if mm := unusedParamRe.FindStringSubmatch(said); line == 0 && mm != nil {
		line = optLine(services, func(o masterOpt) bool { return o.Name == mm[1] })
	}
	if mm := undefinedRe.FindStringSubmatch(said); line == 0 && mm != nil {
		ref := regexp.MustCompile(`\$(\{|\()?` + regexp.QuoteMeta(mm[1]) + `\b`)
		line = optLine(services, func(o masterOpt) bool { return ref.MatchString(o.Value) })
	}
	// A file Postfix cannot open (a pasted master.cf's -o with an ldap:
	// or mysql: table of the system it came from): the -o that names it.
	for _, path := range saidPaths(said) {
		if line != 0 {
			break
		}
		line = optLine(services, func(o masterOpt) bool { return valueNamesPath(o.Value, path) })
	}
	if line > 0 {
		return store.InvalidLine(FieldMasterConfig, line, "Postfix says: %s", said)
	}
	return store.Invalid(FieldMasterConfig, "Postfix refused the master config: %s", said)
}

// optLine is the line of the first -o that matches, 0 when none does.
func optLine(services []masterService, match func(masterOpt) bool) int {
	for _, s := range services {
		for _, o := range s.Opts {
			if match(o) {
				return o.Line
			}
		}
	}
	return 0
}

// docLineOf maps line n of the rendered master.cf to the document line
// with the same text, counting only lines after the document's marker.
func docLineOf(doc, rendered []string, n int) int {
	start := 0
	for i, l := range rendered {
		if l+"\n" == masterDocMarker {
			start = i + 1
			break
		}
	}
	if n-1 < start || n-1 >= len(rendered) {
		return 0
	}
	// Walk both texts; rendered lines the document does not have (added
	// by masterDocBody) are skipped.
	d := 0
	for i := start; i < len(rendered) && d < len(doc); i++ {
		if rendered[i] == doc[d] || privateChroot(doc[d]) == rendered[i] {
			if i == n-1 {
				return d + 1
			}
			d++
		}
	}
	return 0
}
