package mta

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"postdeck/postfix"
	"postdeck/store"
)

// ErrImport marks a main.cf that cannot be imported: a managed parameter
// with a value the MTA Settings page cannot hold, an MPA address given on
// the command line that the configuration uses already, and so on. The
// message says what to change before importing again. It wraps
// store.ErrInvalid.
var ErrImport = fmt.Errorf("%w: cannot import", store.ErrInvalid)

// ImportedMap is one lookup table Import turned into a postdeck map.
type ImportedMap struct {
	Name   string // postdeck map name
	Type   string // hash, btree, cidr, pcre or regexp
	Source string // absolute path of the original source file
	// References are the references as main.cf and master.cf wrote them
	// ("hash:/etc/postfix/virtual"), all rewritten to NewRef.
	References []string
	NewRef     string // "hash:$config_directory/maps.d/hash.NAME.map"
}

// UnmanagedTable is a table reference the import left as it was: Postfix
// goes on reading the file (or the database) it names.
type UnmanagedTable struct {
	Ref    string   // as written: "proxy:mysql:/etc/postfix/mysql/relay_domains.cf"
	Params []string // where: main.cf parameters and master.cf "service/type -o name"
	Reason string   // why postdeck does not manage it
}

// ImportResult is what Import made of a Postfix configuration directory.
type ImportResult struct {
	State store.State
	Maps  []ImportedMap
	// Unmanaged are the tables left as references to their files.
	Unmanaged []UnmanagedTable
	// Unused are parameters of the administrator's own (not Postfix's)
	// that were used only where the import took the use away (table
	// directories, managed parameters): nothing refers to them any more,
	// and Postfix would warn, so they are commented out.
	Unused []string
	// IgnoredOpts are the master.cf -o options Postfix ignores (postconf:
	// unused parameter) that the import commented out, as
	// "service/type/name": Postfix reads the same without them.
	IgnoredOpts []string
	// Installation are the parameters kept in the state's Installation
	// part (InstallationParams the main.cf sets).
	Installation []string
	// OutsideDirs are the directories outside the configuration directory
	// that hold tables the import left as they are (/etc/pmg for
	// hash:/etc/pmg/domains) or pattern files (relay_domains =
	// /srv/relay/domains): Postfix goes on reading files there, and the
	// daemon applies them only when its --table-dirs lists them.
	OutsideDirs []string
	// Instance is the instance the state is meant for: the caller's, with
	// the MPA's addresses and chain of State.Wiring.
	Instance Instance
	// Chain says in one sentence where mail goes: the MPA and any content
	// filter the configuration had.
	Chain string
	// Notes say, for the administrator, what moved where (managed
	// parameters to MTA Settings, dropped duplicates, moved ports).
	Notes []string
}

// ImportOptions say what the imported state will run on.
type ImportOptions struct {
	// SbinDir holds Postfix's commands; default /usr/sbin.
	SbinDir string
	// Instance is the daemon's instance: its MPA addresses (MPAListen ""
	// leaves content_filter to the document) and listener.
	Instance Instance
	// FixedMPAListen and FixedReinjectListen say the addresses were given
	// explicitly (flags): a collision with the configuration is refused
	// instead of moved to free ports.
	FixedMPAListen, FixedReinjectListen bool
	// Order puts the MPA after (ChainAfter, the default) or before
	// (ChainBefore) a content_filter the configuration has.
	Order string
}

// importManaged are the parameters that become store.Settings, in the
// order renderMain writes them.
var importManaged = []string{
	"myhostname", "relay_domains", "relayhost", "relay_transport", "mynetworks",
	"message_size_limit", "smtp_helo_name", "unverified_recipient_reject_code",
}

// importKeepRefs are parameters whose table references are not postmap
// tables and stay as they are: the alias files are built by postalias
// ("name: value"), and caches are databases Postfix writes itself.
var importKeepRefs = map[string]bool{
	"alias_maps": true, "alias_database": true,
	"address_verify_map": true, "postscreen_cache_map": true,
}

func keepRefs(name string) bool {
	return importKeepRefs[name] || createdByPostfix(name)
}

// wellKnownMaps gives a hash table referenced as the whole value of these
// parameters the name of postdeck's default map, so that the console's
// checks for that map (SASL passwords written 0600, for one) apply.
var wellKnownMaps = map[string]string{
	"virtual_alias_maps":      MapVirtualAlias,
	"transport_maps":          MapTransport,
	"smtp_tls_policy_maps":    MapTLSPolicy,
	"smtp_sasl_password_maps": MapSASLPasswords,
}

// Import reads an existing Postfix configuration and returns the state
// that renders to the same Postfix behaviour, for an instance without the
// MPA. See ImportConfig.
func Import(ctx context.Context, pf postfix.Runner, dir string) (store.State, error) {
	res, err := ImportConfig(ctx, pf, dir)
	if err != nil {
		return store.State{}, err
	}
	return res.State, nil
}

// ImportConfig reads dir/main.cf, dir/master.cf and the tables they
// reference, for an instance without the MPA (content_filter stays in the
// document): the managed parameters become Settings, the installation
// parameters the Installation part, every other line stays in the main
// config document with its comments and continuation lines, master.cf
// becomes the master config document, and each table of a type postdeck
// manages that lives under dir becomes a map whose references are
// rewritten to $config_directory/maps.d/TYPE.NAME.map. Every other table
// stays a reference to its file. pf supplies SbinDir. Import only reads:
// BackupConfig keeps the originals, SaveState stores the result.
func ImportConfig(ctx context.Context, pf postfix.Runner, dir string) (*ImportResult, error) {
	return importFrom(ctx, dir, ImportOptions{SbinDir: pf.SbinDir, Instance: Instance{SMTPListen: ":25"}})
}

// importFrom is the import itself; ImportWith adds the checks an apply
// would make.
func importFrom(ctx context.Context, dir string, opts ImportOptions) (*ImportResult, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if opts.SbinDir == "" {
		opts.SbinDir = postfix.DefaultSbinDir
	}
	pf := postfix.Runner{SbinDir: opts.SbinDir, ConfigDir: dir}
	raw, err := os.ReadFile(filepath.Join(dir, "main.cf"))
	if err != nil {
		return nil, fmt.Errorf("import: read main.cf: %w", err)
	}
	doc := NormalizeDocument(strings.ReplaceAll(string(raw), "\r\n", "\n"))
	doc, ignoredFirst, ignoredLast := commentLeadingContinuation(doc)
	all, err := parseMainCF(doc, true)
	if err != nil {
		return nil, mainCFParseErr(err)
	}
	scratch, err := os.MkdirTemp("", "postdeck-import-")
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer os.RemoveAll(scratch)
	if err := os.WriteFile(filepath.Join(scratch, "main.cf"), nil, 0o644); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	old := time.Now().Add(-backdate)
	if err := os.Chtimes(filepath.Join(scratch, "main.cf"), old, old); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	master, err := importMaster(dir)
	if err != nil {
		return nil, err
	}
	im := &importer{ctx: ctx, pf: pf, scratch: scratch, dir: dir, opts: opts,
		lines: strings.Split(strings.TrimSuffix(doc, "\n"), "\n"), master: master}
	if doc == "" {
		im.lines = nil
	}
	if master != "" {
		im.masterLines = strings.Split(strings.TrimSuffix(master, "\n"), "\n")
	}
	if ignoredFirst > 0 {
		lines := fmt.Sprintf("line %d", ignoredFirst)
		if ignoredLast > ignoredFirst {
			lines = fmt.Sprintf("lines %d-%d", ignoredFirst, ignoredLast)
		}
		im.note("main.cf %s: starts with white space, but no parameter comes before it; Postfix ignores it (warning: logical line must not start with whitespace), so it is commented out", lines)
	}
	im.params = im.dropDuplicates(all)
	if err := refuseLiteralPasswords(im.params, master); err != nil {
		return nil, err
	}
	im.before = im.usedNames()
	if err := im.readPostconf(); err != nil {
		return nil, err
	}
	res := &ImportResult{}
	im.installation(res)
	if err := im.tables(); err != nil {
		return nil, err
	}
	im.patternFiles()
	if res.State.Settings, err = im.settings(); err != nil {
		return nil, err
	}
	if err := im.stripVerify(&res.State.Settings); err != nil {
		return nil, err
	}
	im.contentFilter(&res.State)
	im.removeManaged()
	if res.Unused, err = im.dropUnused(res); err != nil {
		return nil, err
	}
	im.applyDrops()
	res.State.MainConfig = joinLines(im.lines)
	res.State.MasterConfig = joinLines(im.masterLines)
	if _, err := ParseMainConfig(res.State.MainConfig); err != nil {
		return nil, fmt.Errorf("import: the rewritten main config does not parse: %w", err)
	}
	now := time.Now().UTC()
	taken := map[string]bool{}
	for _, t := range im.managed {
		res.State.Maps = append(res.State.Maps, store.Map{Name: t.name, Type: t.typ, Content: t.content, Owner: store.OwnerAdmin, Updated: now})
		res.Maps = append(res.Maps, ImportedMap{Name: t.name, Type: t.typ, Source: t.path, References: t.refs, NewRef: t.newRef()})
		taken[t.name] = true
	}
	for _, name := range DefaultMapNames {
		if !taken[name] {
			res.State.Maps = append(res.State.Maps, store.Map{Name: name, Type: "hash", Owner: store.OwnerAdmin, Updated: now})
		}
	}
	sort.Slice(res.State.Maps, func(i, j int) bool { return res.State.Maps[i].Name < res.State.Maps[j].Name })
	if err := validateMaps(res.State.Maps); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	// Tables the password parameters name are secret from the start.
	markSecretMaps(opts.Instance, &res.State)
	res.Unmanaged = im.unmanaged
	sort.Strings(im.outsideDirs)
	res.OutsideDirs = im.outsideDirs
	res.Notes = im.notes
	res.IgnoredOpts = im.ignoredOpts
	res.Instance = opts.Instance
	res.Instance.ConfigDir = dir
	return res, nil
}

// refuseLiteralPasswords refuses a configuration whose SASL password
// parameters write passwords into main.cf or master.cf (an inline:,
// static: or randmap: table; secrets.go). postdeck writes both files
// readable by all and shows them to every console role, so such a table
// is not carried over; the administrator moves the passwords into a
// table file, which the import takes as a private map.
func refuseLiteralPasswords(params []Param, master string) error {
	src, typ, found := literalPasswords(params, parseMasterCF(master), nil)
	if !found {
		return nil
	}
	file, what := "main.cf", src.name
	if src.service != "" {
		file, what = "master.cf", "service "+src.service+" -o "+src.name
	}
	uses := ""
	if src.via != src.name {
		uses = " that " + src.via + " uses"
	}
	return importFix("move them into a table file (such as hash:/etc/postfix/sasl_passwd, built with postmap) and refer to that instead", "%s line %d: %s has %s table%s, which would put SASL passwords in the %s postdeck writes readable by all and shows to every console role", file, src.line, what, withArticle(typ+":"), uses, file)
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// importer carries one import's working state.
type importer struct {
	ctx  context.Context
	pf   postfix.Runner
	opts ImportOptions
	// scratch is an empty configuration for postmap, which would otherwise
	// read dir/main.cf and fail on what it references (myorigin = /etc/mailname).
	scratch string
	dir     string
	// lines is the main.cf document being rewritten, without trailing
	// newline; rewrites keep the line count, so params' lines stay valid.
	lines       []string
	params      []Param // the definitions Postfix uses (the last of duplicates)
	master      string  // the master.cf document as read
	masterLines []string
	ignoredOpts []string          // "service/type/name" of the -o options commented out
	before      map[string]bool   // $names used before the import changed anything
	eff         map[string]string // postconf -x -h of the managed parameters
	set         map[string]string // postconf -n -x: every parameter main.cf sets, expanded
	ignored     map[string]bool   // parameters postconf -n calls unused: Postfix ignores them
	managed     []*importTable
	unmanaged   []UnmanagedTable
	notes       []string
	drop        map[int]bool // main.cf document lines removed at the end (1-based)
	instText    []string     // the Installation part's lines
	instNames   []string
	outsideDirs []string // directories of tables left as they are, outside dir
}

type importTable struct {
	typ, path, name, content string
	refs                     []string
	// secret: a SASL password parameter refers to it (the map is
	// written readable by root only).
	secret bool
}

func (t *importTable) newRef() string {
	return t.typ + ":$config_directory/" + MapFile(t.typ, t.name)
}

// commentLeadingContinuation comments out the logical line that starts
// main.cf when its first line starts with white space: Postfix warns
// ("logical line must not start with whitespace") and ignores the whole
// logical line, that line and the lines that continue it (up to the next
// line that starts with neither white space nor '#'), and reads on. It
// returns the document and the first and last line commented out (0 when
// none).
func commentLeadingContinuation(doc string) (string, int, int) {
	lines := strings.Split(doc, "\n")
	first, last := 0, 0
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if first == 0 {
			if !isContinuation(line[0]) {
				break
			}
			first = i + 1
		} else if !isContinuation(line[0]) {
			break
		}
		lines[i] = "#" + line
		last = i + 1
	}
	if first == 0 {
		return doc, 0, 0
	}
	return strings.Join(lines, "\n"), first, last
}

// mainCFParseErr makes a refusal of parseMainCF the import's sentence,
// "main.cf line N: ...", with what to do.
func mainCFParseErr(err error) error {
	var ue *store.UserError
	if !errors.As(err, &ue) {
		return fmt.Errorf("import main.cf: %w", err)
	}
	msg := strings.TrimSuffix(ue.Msg, ".")
	if ue.Line > 0 {
		msg = strings.TrimPrefix(msg, "Line "+strconv.Itoa(ue.Line)+": ")
		return importFix("correct the line in main.cf", "main.cf line %d: %s", ue.Line, msg)
	}
	return importFix("correct main.cf", "main.cf: %s", msg)
}

// at names where main.cf sets a managed parameter, for a refusal of its
// value: "main.cf line N: name", or "name (not set in main.cf)" for
// Postfix's default.
func (im *importer) at(name string) string {
	if p, ok := im.param(name); ok {
		return fmt.Sprintf("main.cf line %d: %s", p.Line, name)
	}
	return name + " (not set in main.cf)"
}

// settingParams are the main.cf parameters of the MTA Settings fields.
var settingParams = map[string]string{
	FieldHostname: "myhostname", FieldRelayDomains: "relay_domains",
	FieldExternalRelay: "relayhost", FieldInternalRelay: "relay_transport",
	FieldRelayTransport: "relay_transport", FieldMyNetworks: "mynetworks",
	FieldMessageSizeLimit: "message_size_limit", FieldHeloName: "smtp_helo_name",
	FieldRejectCode: "unverified_recipient_reject_code",
}

// SettingFields returns the MTA settings fields that set Postfix's
// parameter param (case aside), sorted: "my_networks" for mynetworks, two
// for relay_transport; nil for a parameter no field sets.
func SettingFields(param string) []string {
	var out []string
	for field, p := range settingParams {
		if strings.EqualFold(p, param) {
			out = append(out, field)
		}
	}
	sort.Strings(out)
	return out
}

// ImportError is the refusal of an import: a user error (it matches
// *store.UserError and its kind, ErrImport) whose sentence, "Cannot
// import: <Problem>; <Fix>, then import again.", is the one `postdeck
// import` and the API show. Problem and Fix are its parts, so that the
// daemon's first start, which imports by itself, can say what to do there
// (restart postdeck) instead of "import again".
type ImportError struct {
	store.UserError
	// Problem says where and what is wrong, without a final period:
	// "main.cf line 4: relay_transport = bad!name: ...".
	Problem string
	// Fix is what to change, "correct the line in main.cf"; empty when
	// Problem says what to do already (or nothing is to be changed).
	Fix string
}

// Unwrap makes the error match *store.UserError (and its kind).
func (e *ImportError) Unwrap() error { return &e.UserError }

func (e *ImportError) Error() string { return e.Msg }

// importErr is a user error of kind ErrImport: the configuration cannot be
// imported as it is, and the sentence (which has no fix of its own, see
// importFix) says so.
func importErr(format string, args ...any) error {
	return refuseImport(ErrImport, "", format, args...)
}

// importFix is importErr with fix, what to change in the configuration
// before the next import: "Cannot import: <problem>; <fix>, then import
// again."
func importFix(fix, format string, args ...any) error {
	return refuseImport(ErrImport, fix, format, args...)
}

// refuseImport makes the ImportError of kind (ErrImport, or
// store.ErrUnavailable when the machine lacks room rather than the
// configuration being wrong).
func refuseImport(kind error, fix, format string, args ...any) error {
	problem := strings.TrimSuffix(strings.TrimSpace(fmt.Sprintf(format, args...)), ".")
	msg := "Cannot import: " + problem
	if fix != "" {
		msg += "; " + fix + ", then import again"
	}
	e := &ImportError{UserError: store.UserError{Kind: kind, Msg: store.Sentence("%s", msg)}, Problem: problem, Fix: fix}
	if kind == ErrImport {
		e.Field = "main.cf"
	}
	return e
}

// importWrap makes err, found while importing what, an import error: a
// user error keeps its sentence behind what; anything else stays internal.
func importWrap(what string, err error) error {
	var ue *store.UserError
	if errors.As(err, &ue) {
		return importErr("%s: %s", what, ue.Msg)
	}
	return fmt.Errorf("import %s: %w", what, err)
}

func (im *importer) param(name string) (Param, bool) {
	for _, p := range im.params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

func (im *importer) note(format string, args ...any) {
	im.notes = append(im.notes, fmt.Sprintf(format, args...))
}

// dropDuplicates comments out every definition of a parameter that a later
// one overrides (Postfix reads main.cf top to bottom, warns, and takes the
// last), keeping its text, and returns the definitions that count.
func (im *importer) dropDuplicates(all []Param) []Param {
	last := map[string]Param{}
	for _, p := range all {
		last[p.Name] = p
	}
	var out []Param
	for _, p := range all {
		if l := last[p.Name]; l.Line != p.Line {
			for i := p.Line; i <= p.End; i++ {
				if t := strings.TrimSpace(im.lines[i-1]); t != "" && !strings.HasPrefix(t, "#") {
					im.lines[i-1] = "#" + im.lines[i-1]
				}
			}
			im.note("main.cf line %d: %s is set again on line %d and Postfix uses the last definition, so line %d is commented out", p.Line, p.Name, l.Line, p.Line)
			continue
		}
		out = append(out, p)
	}
	return out
}

// usedNames are the $names main.cf's parameters and master.cf's -o values
// use.
func (im *importer) usedNames() map[string]bool {
	used := referencedNames(im.params)
	for name := range masterRefs(parseMasterCF(joinLines(im.masterLines))) {
		used[name] = true
	}
	return used
}

// readPostconf asks Postfix for the effective (expanded) values: the
// managed parameters whether set or not, and every parameter main.cf sets.
func (im *importer) readPostconf() error {
	out, _, err := im.pf.Run(im.ctx, nil, "postconf", append([]string{"-x", "-h"}, importManaged...)...)
	if err != nil {
		return fmt.Errorf("import: read managed parameters: %w", err)
	}
	vals := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(vals) != len(importManaged) {
		return fmt.Errorf("import: postconf printed %d values for %d parameters", len(vals), len(importManaged))
	}
	im.eff = map[string]string{}
	for i, name := range importManaged {
		im.eff[name] = strings.TrimSpace(vals[i])
	}
	out, stderr, err := im.pf.Run(im.ctx, nil, "postconf", "-n", "-x")
	if err != nil {
		return fmt.Errorf("import: read main.cf with postconf -n: %w", err)
	}
	im.set = parsePostconf(string(out))
	im.ignored = map[string]bool{}
	for _, m := range mainUnusedRe.FindAllStringSubmatch(string(stderr), -1) {
		im.ignored[m[1]] = true
	}
	return im.dropIgnoredOpts(string(stderr))
}

var (
	mainUnusedRe   = regexp.MustCompile(`main\.cf: unused parameter: ([^=\s]+)=`)
	masterUnusedRe = regexp.MustCompile(`master\.cf: unused parameter: ([^=\s]+)=`)
)

// dropIgnoredOpts comments out the master.cf -o options Postfix ignores
// (postconf: unused parameter) when an option has its line to itself, and
// takes it out of its line otherwise: the apply refuses every warning, and
// Postfix does not use them.
func (im *importer) dropIgnoredOpts(stderr string) error {
	for _, m := range masterUnusedRe.FindAllStringSubmatch(stderr, -1) {
		for _, s := range parseMasterCF(joinLines(im.masterLines)) {
			for _, o := range s.Opts {
				if o.Name != m[1] {
					continue
				}
				line := strings.TrimSpace(im.masterLines[o.Line-1])
				if line == "-o "+o.Raw || line == "-o"+o.Raw {
					im.masterLines[o.Line-1] = "#" + im.masterLines[o.Line-1]
					im.ignoredOpts = append(im.ignoredOpts, s.Key()+"/"+o.Name)
					im.note("master.cf line %d: Postfix ignores -o %s (postconf: unused parameter), so the line is commented out", o.Line, o.Name)
					continue
				}
				// On a line with other text (the service's own line):
				// the option is taken out of it.
				re := regexp.MustCompile(`[ \t]+-o[ \t]*` + regexp.QuoteMeta(o.Raw) + `([ \t]|$)`)
				text := im.masterLines[o.Line-1]
				loc := re.FindStringSubmatchIndex(text)
				if loc == nil {
					return importFix("remove the option from master.cf", "master.cf line %d: Postfix ignores -o %s (postconf: unused parameter), and postdeck applies no master.cf Postfix warns about", o.Line, o.Name)
				}
				im.masterLines[o.Line-1] = text[:loc[0]] + text[loc[2]:]
				im.ignoredOpts = append(im.ignoredOpts, s.Key()+"/"+o.Name)
				im.note("master.cf line %d: Postfix ignores -o %s (postconf: unused parameter), so it is taken out of the line", o.Line, truncate(o.Raw, 120))
			}
		}
	}
	return nil
}

// parsePostconf reads "name = value" lines.
func parsePostconf(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		name, value, ok := strings.Cut(line, "=")
		if ok {
			m[strings.TrimSpace(name)] = strings.TrimSpace(value)
		}
	}
	return m
}

// listTokens splits a Postfix list on commas and white space.
func listTokens(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' })
}

// installation moves the definitions of InstallationParams out of the
// document into the state's Installation part, as written.
func (im *importer) installation(res *ImportResult) {
	for _, p := range im.params {
		if !isInstallationParam(p.Name) {
			continue
		}
		for i := p.Line; i <= p.End; i++ {
			if t := strings.TrimSpace(im.lines[i-1]); i == p.Line || t != "" && !strings.HasPrefix(t, "#") {
				im.instText = append(im.instText, im.lines[i-1])
			}
		}
		im.lines[p.Line-1] = "# " + p.Name + ": fixed by the installation; postdeck keeps it as imported (was: " + truncate(p.Value, 120) + ")"
		im.dropValueLines(p)
		im.instNames = append(im.instNames, p.Name)
	}
	if len(im.instNames) > 0 {
		res.State.Installation = joinLines(im.instText)
		res.Installation = im.instNames
		im.note("%s: kept as imported in the installation part of main.cf (not in Edit Main Config, which refuses installation parameters)", strings.Join(im.instNames, ", "))
	}
}

// settings turns the managed parameters into Settings, refusing values the
// settings page cannot hold exactly.
func (im *importer) settings() (store.Settings, error) {
	var s store.Settings
	e := im.eff
	s.Hostname = e["myhostname"]
	if err := checkFQDN(FieldHostname, "My Host Name", s.Hostname); err != nil {
		if _, set := im.param("myhostname"); !set {
			return s, importFix("set myhostname = the gateway's fully qualified name in main.cf", "main.cf does not set myhostname and this machine's name %q is not usable as My Host Name (%v)", s.Hostname, err)
		}
		return s, importFix("set myhostname to the gateway's fully qualified name", "%s = %s: %v", im.at("myhostname"), s.Hostname, strings.TrimSuffix(err.Error(), "."))
	}
	if _, set := im.param("myhostname"); !set {
		im.note("myhostname was not set; this machine's name (%s) became My Host Name and is written into main.cf, so renaming the host no longer changes it", s.Hostname)
	}
	s.RelayDomains = im.listSetting("relay_domains")
	if _, set := im.param("relay_domains"); !set && len(s.RelayDomains) > 0 {
		im.note("relay_domains was not set; its default (%s) became the Relay domains list", strings.Join(s.RelayDomains, ", "))
	}
	var err error
	if s.ExternalRelayHost, err = importRelayHost(im.at("relayhost"), FieldExternalRelay, "External Relay Host", "", e["relayhost"]); err != nil {
		return s, err
	}
	transport, next, _ := strings.Cut(e["relay_transport"], ":")
	if !serviceNameRe.MatchString(transport) {
		return s, importFix("write the service's name, such as relay or smtp", "%s = %s: %q is not a master.cf service name (letters, digits, '_', '-' and '.')", im.at("relay_transport"), e["relay_transport"], transport)
	}
	if transport != "relay" {
		s.RelayTransport = transport
	}
	if next != "" {
		if s.InternalRelayHost, err = importRelayHost(im.at("relay_transport"), FieldInternalRelay, "Internal Relay Host", transport+":", next); err != nil {
			return s, err
		}
	}
	s.MyNetworks = im.listSetting("mynetworks")
	if _, set := im.param("mynetworks"); !set {
		im.note("mynetworks was not set; its value on this machine (%s) became My Networks", strings.Join(s.MyNetworks, " "))
	}
	if s.MessageSizeLimit, err = strconv.ParseInt(e["message_size_limit"], 10, 64); err != nil || s.MessageSizeLimit < 0 {
		return s, importFix("write the size in bytes (50 MB is 52428800)", "%s = %s: Message Size Limit must be a number of bytes", im.at("message_size_limit"), e["message_size_limit"])
	}
	if s.MessageSizeLimit == 0 || s.MessageSizeLimit > MaxMessageSizeLimit {
		// Unlimited (0) cannot be represented: the MPA takes at most 4 GiB.
		// The check reports the change; the first start then keeps the
		// original running.
		im.note("message_size_limit = %s cannot be represented (Message Size Limit is at most 4 GiB, the MPA's limit): it becomes %d", e["message_size_limit"], MaxMessageSizeLimit)
		s.MessageSizeLimit = MaxMessageSizeLimit
	}
	if p, set := im.param("smtp_helo_name"); set && p.Value != "$myhostname" && p.Value != "${myhostname}" && p.Value != "$(myhostname)" {
		s.HeloName = e["smtp_helo_name"]
		if s.HeloName == s.Hostname {
			s.HeloName = ""
		}
	}
	if s.UnverifiedRecipientRejectCode, err = strconv.Atoi(e["unverified_recipient_reject_code"]); err != nil {
		return s, importFix("correct it", "%s = %s: must be an SMTP reply code from 400 to 599, such as 450 or 550", im.at("unverified_recipient_reject_code"), e["unverified_recipient_reject_code"])
	}
	clean, warnings, err := ValidateSettings(s)
	if err != nil {
		var ue *store.UserError
		if errors.As(err, &ue) && settingParams[ue.Field] != "" {
			return s, importFix("correct it in main.cf", "%s: %s", im.at(settingParams[ue.Field]), strings.TrimSuffix(ue.Msg, "."))
		}
		return s, importWrap("the MTA settings", err)
	}
	if err := im.mailboxLimits(clean); err != nil {
		return s, err
	}
	im.notes = append(im.notes, warnings...)
	return clean, nil
}

// mailboxLimits refuses a main.cf that sets mailbox_size_limit or
// virtual_mailbox_limit (as Postfix expands it) to a number other than 0
// below the Message Size Limit the import takes from message_size_limit:
// Postfix's local(8) or virtual(8) refuses to run with it already, and
// every apply would refuse the imported state (checkMailboxLimits). A
// main.cf consistent by itself is taken over as it is: its
// message_size_limit, or Postfix's default when unset, becomes the
// Message Size Limit and the limits stay in the document. (Its 0, no
// limit, becomes 4 GiB; Postfix itself wants the mailbox limits 0 then.)
func (im *importer) mailboxLimits(s store.Settings) error {
	for _, name := range mailboxLimitParams {
		p, set := im.param(name)
		if !set {
			continue
		}
		v, agent, below := mailboxLimitBelow(name, im.set[name], s.MessageSizeLimit)
		if !below {
			continue
		}
		size := "message_size_limit = " + im.eff["message_size_limit"] + " (Postfix's default; main.cf does not set it)"
		if q, ok := im.param("message_size_limit"); ok {
			size = fmt.Sprintf("message_size_limit = %s (main.cf line %d)", im.eff["message_size_limit"], q.Line)
		}
		return importFix(fmt.Sprintf("in main.cf, set %s to at least %d or to 0 (no limit), or lower message_size_limit to at most %d", name, s.MessageSizeLimit, v),
			"main.cf line %d: %s = %d is smaller than %s, which becomes the Message Size Limit of %d bytes, and Postfix's %s refuses to run then",
			p.Line, name, v, size, s.MessageSizeLimit, agent)
	}
	return nil
}

// listSetting is Relay domains or My Networks from the parameter as main.cf
// writes it (parameters and tables stay as they are, so that Postfix reads
// the same list), or from its effective value when main.cf does not set it.
// A table that became a postdeck map is written map:NAME, or with its new
// file when it is reached through proxy:.
func (im *importer) listSetting(name string) []string {
	p, set := im.param(name)
	if !set {
		return append([]string{}, refTokens(im.eff[name])...)
	}
	out := []string{}
	for _, tok := range refTokens(p.Value) {
		if t := im.tableOf(tok); t != nil {
			if strings.TrimPrefix(tok, "proxy:") == tok && !strings.Contains(tok, "{") {
				tok = MapRefPrefix + t.name
			} else {
				tok = rewriteToken(tok, t)
			}
		}
		out = append(out, tok)
	}
	return out
}

// tableOf is the managed table a list element references, nil when none.
func (im *importer) tableOf(tok string) *importTable {
	for _, t := range im.managed {
		for _, r := range t.refs {
			if strings.TrimPrefix(tok, "proxy:") == r {
				return t
			}
		}
	}
	return nil
}

// rewriteToken rewrites the references of t within one list element.
func rewriteToken(tok string, t *importTable) string {
	for _, r := range t.refs {
		tok = rewriteRefIn(tok, r, t.newRef())
	}
	return tok
}

// importRelayHost accepts a next hop only when the settings page writes it
// back the same way (up to letter case, which DNS ignores). param says
// where main.cf sets it (importer.at); the parameter's value is prefix+v
// (relay_transport = relay:[10.0.0.1] has the prefix "relay:"), and a
// refusal quotes all of it, as main.cf shows it.
func importRelayHost(param, field, label, prefix, v string) (string, error) {
	norm, err := normalizeRelayHost(field, label, v)
	if err != nil {
		var ue *store.UserError
		if errors.As(err, &ue) {
			return "", importFix("correct it in main.cf", "%s = %s: %s", param, prefix+v, strings.TrimSuffix(ue.Msg, "."))
		}
		return "", importWrap(param+" = "+prefix+v, err)
	}
	written := strings.Join(relayHops(v), ", ") // a list as the page writes it
	if !strings.EqualFold(norm, written) {
		unbracket := strings.NewReplacer("[", "", "]", "").Replace
		if !strings.EqualFold(unbracket(norm), unbracket(written)) {
			// Not the brackets: the name's trailing dot, which the page
			// drops (normalizeRelayHost).
			return "", importFix(fmt.Sprintf("write %s in main.cf", prefix+norm), "%s = %s: the host name ends in a dot, which Postfix's smtp does not take (it exits: valid hostname or network address required)", param, prefix+v)
		}
		return "", importFix(fmt.Sprintf("write %s in main.cf if that is meant", prefix+norm), "%s = %s: the MTA Settings page would write it as %s, which Postfix treats differently (brackets turn off MX lookups)", param, prefix+v, prefix+norm)
	}
	return norm, nil
}

// verifyRe finds the token the "Reject unverified recipient" switch owns.
var verifyRe = regexp.MustCompile(`(^|[\s,])` + restrictionVerify + `(\s*,)?`)

// stripVerify moves reject_unverified_recipient out of
// smtpd_recipient_restrictions into the switch, when renderMain puts it back
// at the same place; otherwise the list cannot be represented.
func (im *importer) stripVerify(s *store.Settings) error {
	p, ok := im.param("smtpd_recipient_restrictions")
	if !ok || !hasToken(p.Value, restrictionVerify) {
		return nil
	}
	orig := listTokens(p.Value)
	saved := slices.Clone(im.lines)
	savedDrop := map[int]bool{}
	for k, v := range im.drop {
		savedDrop[k] = v
	}
	im.editValue(p, func(i int, line string) string {
		line = verifyRe.ReplaceAllString(line, "$1")
		if i == p.End {
			line = strings.TrimRight(line, " \t,")
		}
		if i != p.Line && strings.Trim(line, " \t,") == "" {
			im.markDrop(i)
		}
		return line
	})
	rest := listTokens(strings.Join(im.paramText(p), " "))
	got := listTokens(withVerify(strings.Join(rest, " ")))
	if strings.Join(got, " ") != strings.Join(rewriteAll(orig, im.managed), " ") {
		// The switch puts it right after reject_unauth_destination (or at
		// the end): elsewhere, it stays in the document, switch off.
		im.lines, im.drop = saved, savedDrop
		im.note("smtpd_recipient_restrictions: reject_unverified_recipient stays where main.cf has it (the \"Reject unverified recipient\" switch of MTA Settings would put it right after reject_unauth_destination), so the switch is off")
		return nil
	}
	s.RejectUnverifiedRecipient = true
	im.note("smtpd_recipient_restrictions: reject_unverified_recipient is now the \"Reject unverified recipient\" switch of MTA Settings")
	return nil
}

// rewriteAll applies the managed tables' rewrites to list elements.
func rewriteAll(toks []string, tables []*importTable) []string {
	out := make([]string, len(toks))
	for i, tok := range toks {
		for _, t := range tables {
			tok = rewriteToken(tok, t)
		}
		out[i] = tok
	}
	return out
}

// contentFilter takes the configuration's content_filter out of the
// document when postdeck's MPA is wired: the MPA goes after it (or before
// it), and postdeck writes content_filter from the wiring.
func (im *importer) contentFilter(st *store.State) {
	if im.opts.Instance.MPAListen == "" {
		return
	}
	p, ok := im.param("content_filter")
	if !ok {
		return
	}
	im.lines[p.Line-1] = "# content_filter: kept in the mail path beside the MPA by postdeck (was: " + truncate(p.Value, 120) + ")"
	im.dropValueLines(p)
	if p.Value == "" || strings.HasPrefix(p.Value, "mpa:") {
		return
	}
	st.Wiring.Filter = p.Value
	st.Wiring.Order = ChainAfter
	if im.opts.Order == ChainBefore {
		st.Wiring.Order = ChainBefore
	}
}

// paramText returns the value part of a parameter's current lines,
// skipping comment and dropped lines.
func (im *importer) paramText(p Param) []string {
	var out []string
	for i := p.Line; i <= p.End; i++ {
		if im.drop[i] {
			continue
		}
		line := im.lines[i-1]
		if i == p.Line {
			if strings.HasPrefix(line, "#") {
				return nil // commented out: no longer set
			}
			line = line[strings.Index(line, "=")+1:]
		} else if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// dropValueLines removes the continuation lines of a parameter the import
// takes out of the document. The comment lines among them stay: they are
// the administrator's notes (which network is whose), not the value.
func (im *importer) dropValueLines(p Param) {
	for i := p.Line + 1; i <= p.End; i++ {
		if !strings.HasPrefix(strings.TrimSpace(im.lines[i-1]), "#") {
			im.markDrop(i)
		}
	}
}

func (im *importer) markDrop(line int) {
	if im.drop == nil {
		im.drop = map[int]bool{}
	}
	im.drop[line] = true
}

// dropUnused comments out the parameters of the administrator's own that
// were used as $name before the import and are not any more (their uses
// moved into maps.d paths or the MTA settings), since Postfix warns about
// an unused parameter.
func (im *importer) dropUnused(res *ImportResult) ([]string, error) {
	var cur []Param
	for _, p := range im.params {
		if text := im.paramText(p); text != nil {
			cur = append(cur, Param{Name: p.Name, Value: strings.Join(text, " ")})
		}
	}
	after := referencedNames(cur)
	for name := range externalRefs(res.State.Settings, joinLines(im.masterLines)) {
		after[name] = true
	}
	if res.State.Installation != "" {
		inst, _ := ParseMainConfig(res.State.Installation)
		for name := range referencedNames(inst) {
			after[name] = true
		}
	}
	for name := range referencedNames([]Param{{Value: res.State.Wiring.Filter}}) {
		after[name] = true
	}
	var unused []string
	var cat *paramCatalog
	for _, p := range im.params {
		if after[p.Name] || slices.Contains(importManaged, p.Name) || isInstallationParam(p.Name) {
			continue
		}
		if strings.HasPrefix(im.lines[p.Line-1], "#") {
			continue
		}
		if im.ignored[p.Name] {
			im.lines[p.Line-1] = "# " + p.Name + ": Postfix ignores it (postconf: unused parameter); commented out by postdeck import (was: " + truncate(p.Value, 120) + ")"
			im.dropValueLines(p)
			unused = append(unused, p.Name)
			im.note("%s is a parameter Postfix does not know and nothing uses (postconf warns: unused parameter); it is commented out", p.Name)
			continue
		}
		if !im.before[p.Name] {
			continue
		}
		if cat == nil {
			var err error
			if cat, err = loadCatalog(im.ctx, postfix.Runner{SbinDir: im.pf.SbinDir, ConfigDir: im.scratch}); err != nil {
				return nil, err
			}
		}
		if cat.known(p.Name, masterServiceNames(joinLines(im.masterLines), "unix")) {
			continue
		}
		im.lines[p.Line-1] = "# " + p.Name + ": no longer used once its uses moved to maps.d or MTA Settings (postdeck import; was: " + truncate(p.Value, 120) + ")"
		im.dropValueLines(p)
		unused = append(unused, p.Name)
		im.note("%s was only used in table file names or managed parameters; it is commented out", p.Name)
	}
	return unused, nil
}

// removeManaged replaces the definitions of managed parameters by a comment.
func (im *importer) removeManaged() {
	for _, name := range importManaged {
		p, ok := im.param(name)
		if !ok {
			continue
		}
		im.lines[p.Line-1] = "# " + name + ": imported into MTA Settings by postdeck (was: " + truncate(p.Value, 120) + ")"
		im.dropValueLines(p)
	}
}

// applyDrops removes the lines marked for removal.
func (im *importer) applyDrops() {
	if len(im.drop) == 0 {
		return
	}
	out := im.lines[:0:0]
	for i, line := range im.lines {
		if !im.drop[i+1] {
			out = append(out, line)
		}
	}
	im.lines = out
}

// configDirRe matches the spellings of $config_directory.
var configDirRe = regexp.MustCompile(`\$(?:config_directory\b|\{config_directory\}|\(config_directory\))`)

var varRe = regexp.MustCompile(`\$(?:\{([A-Za-z0-9_]+)\}|\(([A-Za-z0-9_]+)\)|([A-Za-z0-9_]+))`)

// tableUse is one table reference in main.cf or master.cf.
type tableUse struct {
	where string // parameter, or "service/type -o name"
	raw   string // "hash:/etc/postfix/virtual" (without proxy:)
	typ   string
	file  string
	first bool // the reference is the parameter's whole value
	param string
	prev  string // the list element before it (check_recipient_access)
}

// tableRefs returns the table references of a value: list elements of the
// form TYPE:TABLE, through proxy: and inside unionmap:{...} and
// pipemap:{...}.
func tableRefs(v string) []string {
	var out []string
	for _, tok := range refTokens(v) {
		tok = strings.TrimPrefix(tok, "proxy:")
		if m := compositeRe.FindStringSubmatch(tok); m != nil {
			out = append(out, tableRefs(m[1])...)
			continue
		}
		if m := tableTypeRe.FindStringSubmatch(tok); m != nil && knownTableTypes[m[1]] && !selfContained[m[1]] {
			out = append(out, tok)
		}
	}
	return out
}

var compositeRe = regexp.MustCompile(`^(?:unionmap|pipemap):\{(.*)\}$`)

// selfContained are table types whose table is written in the reference
// itself (static:5000, inline:{...}): there is no file or server to manage
// or to leave alone.
var selfContained = map[string]bool{"static": true, "inline": true, "fail": true, "environ": true, "internal": true, "randmap": true}

// uses collects every table reference of main.cf's parameters and
// master.cf's -o values.
func (im *importer) uses() []tableUse {
	var out []tableUse
	add := func(where, param, value string) {
		toks := refTokens(value)
		for _, raw := range tableRefs(value) {
			m := tableTypeRe.FindStringSubmatch(raw)
			u := tableUse{where: where, raw: raw, typ: m[1], file: m[2], param: param, first: len(toks) == 1}
			for i, tok := range toks {
				if strings.TrimPrefix(tok, "proxy:") == raw && i > 0 {
					u.prev = toks[i-1]
				}
			}
			out = append(out, u)
		}
	}
	for _, p := range im.params {
		if isInstallationParam(p.Name) {
			continue
		}
		add(p.Name, p.Name, p.Value)
	}
	for _, s := range parseMasterCF(joinLines(im.masterLines)) {
		for _, o := range s.Opts {
			add(s.Key()+" -o "+o.Name, o.Name, o.Value)
		}
	}
	return out
}

// tables finds the table references of main.cf and master.cf. A table of
// a type postdeck manages whose file lives under the configuration
// directory becomes a map (when Postfix reads exactly its source) and its
// references are rewritten; every other table stays as it is.
func (im *importer) tables() error {
	byKey := map[string]*importTable{}
	unmanaged := map[string]*UnmanagedTable{}
	var order []string
	leave := func(u tableUse, reason string) {
		ut := unmanaged[u.raw]
		if ut == nil {
			ut = &UnmanagedTable{Ref: u.raw, Reason: reason}
			unmanaged[u.raw] = ut
			order = append(order, u.raw)
		}
		if !slices.Contains(ut.Params, u.where) {
			ut.Params = append(ut.Params, u.where)
		}
	}
	uses := im.uses()
	// Names Postfix reads SASL passwords through (secrets.go).
	passwords := map[string]bool{}
	for _, src := range passwordSources(im.params, parseMasterCF(joinLines(im.masterLines))) {
		passwords[src.name] = true
	}
	var candidates []*importTable
	for _, u := range uses {
		if u.typ == "unix" || u.typ == "inet" || u.typ == "local" {
			continue // a socket or service, not a table
		}
		if createdByPostfix(u.param) {
			leave(u, "a cache Postfix creates and writes itself")
			continue
		}
		if keepRefs(u.param) {
			leave(u, "an aliases table, built by postalias (name: value), not postmap")
			continue
		}
		if !slices.Contains(MapTypes, u.typ) {
			leave(u, u.typ+" is not a type postdeck manages")
			if fileTableTypes[u.typ] {
				if path, err := im.expandPath(u.file); err == nil {
					im.outside(path)
				}
			}
			continue
		}
		if strings.HasPrefix(u.file, "{") {
			leave(u, "an inline table stays in the document")
			continue
		}
		path, err := im.expandPath(u.file)
		if err != nil {
			leave(u, err.Error())
			continue
		}
		if rel, err := filepath.Rel(im.dir, path); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			leave(u, "its file is outside "+im.dir)
			im.outside(path)
			continue
		}
		key := u.typ + ":" + path
		t := byKey[key]
		if t == nil {
			t = &importTable{typ: u.typ, path: path}
			byKey[key] = t
			candidates = append(candidates, t)
			wk := wellKnownMaps[u.param]
			if u.param == "smtpd_recipient_restrictions" && u.prev == "check_recipient_access" && !strings.Contains(u.where, " -o ") {
				wk = MapRecipientAccess
			}
			if wk != "" && u.typ == "hash" && (u.first || wk == MapRecipientAccess) {
				t.name = wk
			}
		}
		if !slices.Contains(t.refs, u.raw) {
			t.refs = append(t.refs, u.raw)
		}
		t.secret = t.secret || passwords[u.param]
	}
	// A table reached in a way postdeck leaves alone (inside a composite
	// of unmanaged type, say) is fine: references are rewritten as text
	// wherever they stand.
	for _, t := range candidates {
		reason, err := im.readTable(t)
		if err != nil {
			return err
		}
		if reason != "" {
			for _, u := range uses {
				if slices.Contains(t.refs, u.raw) {
					leave(u, reason)
				}
			}
			continue
		}
		im.managed = append(im.managed, t)
	}
	if err := im.nameTables(); err != nil {
		return err
	}
	for _, t := range im.managed {
		for _, r := range t.refs {
			im.rewriteRef(r, t.newRef())
		}
	}
	for _, k := range order {
		im.unmanaged = append(im.unmanaged, *unmanaged[k])
	}
	return nil
}

// patternFiles records the directories of the "/file/name" entries of
// pattern lists (patternFileParams) in main.cf and master.cf's -o
// overrides: Postfix reads them like tables, and the apply refuses one
// outside the configuration directory and --table-dirs, so the summary
// (and `import --dry-run`) must name them as it names tables'.
func (im *importer) patternFiles() {
	add := func(name, value string) {
		if !patternFileParams[name] {
			return
		}
		for _, tok := range refTokens(value) {
			tok = strings.TrimLeft(tok, "!")
			if !strings.HasPrefix(tok, "/") && !strings.HasPrefix(tok, "$") {
				continue
			}
			path, err := im.expandPath(tok)
			if err != nil {
				continue
			}
			// A parameter's value ($mydestination) may be a list itself.
			for _, f := range refTokens(path) {
				if f = strings.TrimLeft(f, "!"); strings.HasPrefix(f, "/") {
					im.outside(filepath.Clean(f))
				}
			}
		}
	}
	for _, p := range im.params {
		add(p.Name, p.Value)
	}
	for _, s := range parseMasterCF(joinLines(im.masterLines)) {
		for _, o := range s.Opts {
			add(o.Name, o.Value)
		}
	}
}

// outside records the directory of a table file the import leaves as it
// is, when it is not under the configuration directory.
func (im *importer) outside(path string) {
	d := filepath.Dir(path)
	if rel, err := filepath.Rel(im.dir, d); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		return
	}
	if !slices.Contains(im.outsideDirs, d) {
		im.outsideDirs = append(im.outsideDirs, d)
	}
}

// expandPath resolves $config_directory and the parameters main.cf sets in
// a table's file name; the result must be absolute.
func (im *importer) expandPath(file string) (string, error) {
	s := configDirRe.ReplaceAllLiteralString(file, im.dir)
	for i := 0; i < 5 && strings.Contains(s, "$"); i++ {
		var missing string
		s = varRe.ReplaceAllStringFunc(s, func(ref string) string {
			m := varRe.FindStringSubmatch(ref)
			name := m[1] + m[2] + m[3]
			if name == "config_directory" {
				return im.dir
			}
			if v, ok := im.set[name]; ok {
				return v
			}
			missing = name
			return ref
		})
		if missing != "" {
			return "", fmt.Errorf("$%s is not set in main.cf, so its file name cannot be resolved", missing)
		}
	}
	if !filepath.IsAbs(s) {
		return "", fmt.Errorf("its file name %q is not absolute", s)
	}
	return filepath.Clean(s), nil
}

// nameTables gives every managed table a unique map name: the default
// map's name for well-known parameters, NAME for a file that is already
// maps.d/TYPE.NAME.map, the file's base name otherwise.
func (im *importer) nameTables() error {
	used := map[string]bool{}
	for _, t := range im.managed {
		if t.name != "" {
			if used[t.name] {
				t.name = ""
				continue
			}
			used[t.name] = true
		}
	}
	bad := regexp.MustCompile(`[^A-Za-z0-9._-]+`)
	for _, t := range im.managed {
		if t.name != "" {
			continue
		}
		base := filepath.Base(t.path)
		if filepath.Dir(t.path) == filepath.Join(im.dir, "maps.d") && strings.HasPrefix(base, t.typ+".") && strings.HasSuffix(base, ".map") {
			base = strings.TrimSuffix(strings.TrimPrefix(base, t.typ+"."), ".map")
		}
		base = strings.TrimSuffix(strings.TrimSuffix(base, ".map"), "."+t.typ)
		base = strings.Trim(bad.ReplaceAllString(base, "-"), "-.")
		if base == "" {
			base = t.typ
		}
		if len(base) > 90 {
			base = base[:90]
		}
		name := base
		for n := 2; used[name]; n++ {
			name = base + "-" + strconv.Itoa(n)
		}
		used[name] = true
		t.name = name
		if err := ValidMapName(name); err != nil {
			return importWrap(t.path, err)
		}
	}
	return nil
}

// readTable reads a table's source and says why postdeck cannot manage it
// ("" when it can). For hash and btree Postfix reads the indexed file, not
// the source: the source is taken only when it builds, without a warning,
// to exactly what the indexed file holds. cidr, pcre and regexp tables
// must be read by Postfix without a warning. The error is that of the
// import itself: the disk of its scratch copy is full, which says
// nothing about the table.
func (im *importer) readTable(t *importTable) (string, error) {
	fi, err := os.Stat(t.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "its source file does not exist (postdeck keeps the source of every map)", nil
		}
		return "its source cannot be read: " + err.Error(), nil
	}
	if !fi.Mode().IsRegular() {
		return "it is not a regular file", nil
	}
	if fi.Size() > maxMapBytes {
		return fmt.Sprintf("it is %d bytes; a map holds at most %d", fi.Size(), maxMapBytes), nil
	}
	if fi.Mode().Perm()&0o044 == 0 && t.name != MapSASLPasswords && !t.secret {
		return fmt.Sprintf("it is readable by root only (mode %o), and postdeck writes maps readable by all but those holding SASL passwords", fi.Mode().Perm()), nil
	}
	b, err := os.ReadFile(t.path)
	if err != nil {
		return "its source cannot be read: " + err.Error(), nil
	}
	t.content = normalizeMapContent(string(b))
	if _, lerr := parseMapContent(t.typ, t.content); lerr != nil {
		return fmt.Sprintf("line %d: %s", lerr.line, lerr.msg), nil
	}
	copyPath := filepath.Join(im.scratch, "table")
	if err := os.WriteFile(copyPath, []byte(t.content), 0o600); err != nil {
		if full := im.scratchFull(t, err); full != nil {
			return "", full
		}
		return "a copy cannot be written: " + err.Error(), nil
	}
	defer os.Remove(copyPath)
	pm := postfix.Runner{SbinDir: im.pf.SbinDir, ConfigDir: im.scratch}
	if !indexedMap[t.typ] {
		_, stderr, _ := pm.Run(im.ctx, nil, "postmap", "-q", "postdeck-probe.invalid", t.typ+":"+copyPath)
		if hasProblem(stderr) {
			return "Postfix warns about it: " + firstProblem(strings.ReplaceAll(string(stderr), copyPath, t.path)), nil
		}
		return "", nil
	}
	if _, err := os.Stat(t.path + ".db"); err != nil {
		return "its indexed file " + t.path + ".db is missing", nil
	}
	live, err := im.dumpTable(t.typ, t.path)
	if err != nil {
		return err.Error(), nil
	}
	_, stderr, err := pm.Run(im.ctx, nil, "postmap", t.typ+":"+copyPath)
	defer os.Remove(copyPath + ".db")
	if full := mapBuildFull(im.scratch, "the copy of "+t.path, len(t.content), err, string(stderr)); full != nil {
		return "", im.scratchFull(t, full)
	}
	if err != nil || hasProblem(stderr) {
		return "postmap warns about its source: " + firstProblem(strings.ReplaceAll(string(stderr), copyPath, t.path)), nil
	}
	built, err := im.dumpTable(t.typ, copyPath)
	if err != nil {
		return err.Error(), nil
	}
	if live != built {
		return "its source differs from " + t.path + ".db, which is what Postfix uses (run postmap to rebuild it, then import again to manage it)", nil
	}
	return "", nil
}

// scratchFull is the import's answer when the copy of table t it builds
// in its scratch directory (under the temporary directory) did not fit:
// postmap's "fatal: flush database ...: No space left on device" read as
// if the table's source were wrong, and the table was left unmanaged for
// it. nil when err is not a full disk.
func (im *importer) scratchFull(t *importTable, err error) error {
	why := store.FullDisk(err, "the temporary directory "+filepath.Dir(im.scratch))
	if why == "" {
		return nil
	}
	return refuseImport(store.ErrUnavailable, "free space on that disk (or set TMPDIR to a directory with room)", "%s, so postdeck could not build a copy of %s to compare with what Postfix uses. Nothing was changed", why, t.path)
}

// dumpTable lists an indexed table's entries, sorted.
func (im *importer) dumpTable(typ, path string) (string, error) {
	pm := postfix.Runner{SbinDir: im.pf.SbinDir, ConfigDir: im.scratch}
	out, _, err := pm.Run(im.ctx, nil, "postmap", "-s", typ+":"+path)
	if err != nil {
		return "", fmt.Errorf("it cannot be read (postmap -s: %v)", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n"), nil
}

// refBoundary is what may stand around a table reference inside a value.
func refPattern(raw string) *regexp.Regexp {
	return regexp.MustCompile(`(^|[\s,={:])` + regexp.QuoteMeta(raw) + `($|[\s,}])`)
}

// rewriteRefIn replaces a reference within text, as a whole list element.
func rewriteRefIn(text, raw, repl string) string {
	re := refPattern(raw)
	for {
		next := re.ReplaceAllString(text, "${1}"+strings.ReplaceAll(repl, "$", "$$")+"${2}")
		if next == text {
			return text
		}
		text = next
	}
}

// editValue replaces each value line of parameter p (line i, from 1) by
// what edit makes of it: the first line's text after "=", continuation
// lines whole; comment lines among them stay as written.
func (im *importer) editValue(p Param, edit func(i int, value string) string) {
	for i := p.Line; i <= p.End; i++ {
		line := im.lines[i-1]
		prefix := ""
		if i == p.Line {
			eq := strings.Index(line, "=")
			prefix, line = line[:eq+1], line[eq+1:]
		} else if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		im.lines[i-1] = prefix + edit(i, line)
	}
}

// rewriteRef replaces a reference in the value lines of main.cf's
// parameters and master.cf's services (comment lines stay as written).
func (im *importer) rewriteRef(raw, repl string) {
	for _, p := range im.params {
		im.editValue(p, func(_ int, line string) string { return rewriteRefIn(line, raw, repl) })
	}
	for i, line := range im.masterLines {
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		im.masterLines[i] = rewriteRefIn(line, raw, repl)
	}
}

// importMaster reads dir/master.cf to keep it as the master config
// document: the services of the existing installation (submission, content
// filters, postscreen) stay. A master.cf postdeck wrote gives back its
// document (after the marker, without the MPA's services), or "" for
// postdeck's own table.
func importMaster(dir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "master.cf"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("import: read master.cf: %w", err)
	}
	text := NormalizeDocument(strings.ReplaceAll(string(raw), "\r\n", "\n"))
	if !strings.HasPrefix(text, header) {
		return text, nil
	}
	for _, marker := range []string{masterDocMarker, "# Imported master.cf:\n"} {
		if i := strings.Index(text, marker); i >= 0 {
			doc := text[i+len(marker):]
			if j := strings.Index(doc, mpaMarker); j >= 0 {
				doc = doc[:j]
			}
			return dropPostdeckLines(doc), nil
		}
	}
	return "", nil
}

// dropPostdeckLines removes what masterDocBody added to a document.
func dropPostdeckLines(doc string) string {
	lines := strings.Split(doc, "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "# postdeck: ") {
			if i+1 < len(lines) && (strings.HasPrefix(lines[i+1], "  -o content_filter=mpa:") || strings.HasPrefix(lines[i+1], "postlog ")) {
				i++
			}
			continue
		}
		out = append(out, lines[i])
	}
	return strings.Join(out, "\n")
}

// importedNetwork normalises a My Networks entry for comparisons: a
// network as its prefix, anything else as it is.
func importedNetwork(tok string) string {
	if rest, ok := strings.CutPrefix(tok, "!"); ok {
		return "!" + importedNetwork(rest)
	}
	s := strings.Replace(strings.TrimPrefix(tok, "["), "]", "", 1)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked().String()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()).String()
	}
	return tok
}
