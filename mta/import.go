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

// ErrImport marks a main.cf that cannot be imported exactly: a managed
// parameter with a value the MTA Settings page cannot hold, a map whose
// source does not match its indexed file, and so on. The message says what
// to change before importing again. It wraps store.ErrInvalid.
var ErrImport = fmt.Errorf("%w: cannot import", store.ErrInvalid)

// ImportedMap is one lookup table Import turned into a postdeck map.
type ImportedMap struct {
	Name   string // postdeck map name
	Type   string // hash, btree, cidr, pcre or regexp
	Source string // absolute path of the original source file
	// References are the references as main.cf wrote them
	// ("hash:/etc/postfix/virtual"), all rewritten to NewRef.
	References []string
	NewRef     string // "hash:$config_directory/maps.d/hash.NAME.map"
}

// ImportResult is what Import made of a Postfix configuration directory.
type ImportResult struct {
	State store.State
	Maps  []ImportedMap
	// Unused are parameters of the administrator's own (not Postfix's)
	// that only named table directories: nothing refers to them once the
	// tables live in maps.d, so they are commented out (the apply refuses
	// unknown parameters that nothing uses).
	Unused []string
	// Notes say, for the administrator, what moved where (managed
	// parameters to MTA Settings, equivalent values written differently).
	Notes []string
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

// Import reads an existing Postfix configuration (dir/main.cf and the hash,
// btree, cidr, pcre and regexp source files it references) and returns the
// state that renders to the same Postfix behaviour: the managed parameters
// become Settings, every other line stays in the main config document with
// its comments and continuation lines, and each referenced table becomes a
// map whose reference is rewritten to $config_directory/maps.d/TYPE.NAME.map.
// pf supplies SbinDir (its ConfigDir is replaced by dir). Import only reads:
// BackupConfig keeps the originals, SaveState stores the result.
func Import(ctx context.Context, pf postfix.Runner, dir string) (store.State, error) {
	res, err := ImportConfig(ctx, pf, dir)
	if err != nil {
		return store.State{}, err
	}
	return res.State, nil
}

// ImportConfig is Import with the details: which maps came from which files
// and notes for the administrator.
func ImportConfig(ctx context.Context, pf postfix.Runner, dir string) (*ImportResult, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	pf.ConfigDir = dir
	raw, err := os.ReadFile(filepath.Join(dir, "main.cf"))
	if err != nil {
		return nil, fmt.Errorf("import: read main.cf: %w", err)
	}
	doc := NormalizeDocument(string(raw))
	params, err := ParseMainConfig(doc)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", filepath.Join(dir, "main.cf"), err)
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
	im := &importer{ctx: ctx, pf: pf, scratch: scratch, dir: dir, lines: strings.Split(strings.TrimSuffix(doc, "\n"), "\n"), params: params}
	if doc == "" {
		im.lines = nil
	}
	if err := im.readPostconf(); err != nil {
		return nil, err
	}
	res := &ImportResult{}
	if res.State.Settings, err = im.settings(); err != nil {
		return nil, err
	}
	if err := im.stripVerify(&res.State.Settings); err != nil {
		return nil, err
	}
	if err := im.maps(); err != nil {
		return nil, err
	}
	if res.Unused, err = im.dropUnused(); err != nil {
		return nil, err
	}
	im.removeManaged()
	if res.State.MasterConfig, err = importMaster(dir); err != nil {
		return nil, err
	}
	res.State.MainConfig = strings.Join(im.lines, "\n") + "\n"
	if len(im.lines) == 0 {
		res.State.MainConfig = ""
	}
	if _, err := ParseMainConfig(res.State.MainConfig); err != nil {
		return nil, fmt.Errorf("import: the rewritten main config does not parse: %w", err)
	}
	now := time.Now().UTC()
	taken := map[string]bool{}
	for _, m := range im.tables {
		res.State.Maps = append(res.State.Maps, store.Map{Name: m.name, Type: m.typ, Content: m.content, Owner: store.OwnerAdmin, Updated: now})
		res.Maps = append(res.Maps, ImportedMap{Name: m.name, Type: m.typ, Source: m.path, References: m.refs, NewRef: m.newRef()})
		taken[m.name] = true
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
	res.Notes = im.notes
	return res, nil
}

// importer carries one import's working state.
type importer struct {
	ctx context.Context
	pf  postfix.Runner
	// scratch is an empty configuration for postmap, which would otherwise
	// read dir/main.cf and fail on what it references (myorigin = /etc/mailname).
	scratch string
	dir     string
	lines   []string          // the document being rewritten, without trailing newline
	params  []Param           // parsed from the original document (line numbers stay valid: rewrites keep line counts)
	eff     map[string]string // postconf -x -h of the managed parameters
	set     map[string]string // postconf -n -x: every parameter main.cf sets, expanded
	tables  []*importTable
	notes   []string
	drop    map[int]bool // document lines removed at the end (1-based)
}

type importTable struct {
	typ, path, name, content string
	refs                     []string
}

func (t *importTable) newRef() string {
	return t.typ + ":$config_directory/" + MapFile(t.typ, t.name)
}

// importErr is a user error of kind ErrImport: the configuration cannot be
// imported as it is, and the sentence says what to change.
func importErr(format string, args ...any) error {
	return &store.UserError{Kind: ErrImport, Field: "main.cf", Msg: store.Sentence("Cannot import: "+format, args...)}
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
	out, _, err = im.pf.Run(im.ctx, nil, "postconf", "-n", "-x")
	if err != nil {
		return fmt.Errorf("import: read main.cf with postconf -n: %w", err)
	}
	im.set = parsePostconf(string(out))
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
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// settings turns the managed parameters into Settings, refusing values the
// settings page cannot hold exactly.
func (im *importer) settings() (store.Settings, error) {
	var s store.Settings
	e := im.eff
	s.Hostname = e["myhostname"]
	if err := checkFQDN(FieldHostname, "My Host Name", s.Hostname); err != nil {
		if _, set := im.param("myhostname"); !set {
			return s, importErr("main.cf does not set myhostname and this machine's name %q is not usable as My Host Name (%v); set myhostname = the gateway's fully qualified name in main.cf and import again", s.Hostname, err)
		}
		return s, importErr("myhostname = %s: %v", s.Hostname, err)
	}
	s.RelayDomains = []string{}
	for _, d := range listTokens(e["relay_domains"]) {
		if strings.ContainsAny(d, ":/!") {
			return s, importErr("relay_domains = %s: %q is a lookup table, a file or an exclusion, but Relay domains on the MTA Settings page is a list of domain names; list the domains in main.cf and import again", truncate(e["relay_domains"], 80), d)
		}
		s.RelayDomains = append(s.RelayDomains, strings.ToLower(d))
	}
	if _, set := im.param("relay_domains"); !set && len(s.RelayDomains) > 0 {
		im.notes = append(im.notes, fmt.Sprintf("relay_domains was not set; its default (%s) became the Relay domains list", strings.Join(s.RelayDomains, ", ")))
	}
	var err error
	if s.ExternalRelayHost, err = importRelayHost("relayhost", FieldExternalRelay, "External Relay Host", e["relayhost"]); err != nil {
		return s, err
	}
	switch rt := e["relay_transport"]; {
	case rt == "relay":
	case strings.HasPrefix(rt, "relay:"):
		if s.InternalRelayHost, err = importRelayHost("relay_transport", FieldInternalRelay, "Internal Relay Host", strings.TrimPrefix(rt, "relay:")); err != nil {
			return s, err
		}
	default:
		return s, importErr("relay_transport = %s: the Internal Relay Host on the MTA Settings page renders relay_transport = relay or relay:HOST, so another transport cannot be represented; use relay:[host]:port (the relay service of master.cf) and import again", rt)
	}
	if s.MyNetworks, err = im.networks(e["mynetworks"]); err != nil {
		return s, err
	}
	if s.MessageSizeLimit, err = strconv.ParseInt(e["message_size_limit"], 10, 64); err != nil || s.MessageSizeLimit <= 0 {
		return s, importErr("message_size_limit = %s: Message Size Limit must be a number of bytes greater than 0 (0, no limit, cannot be represented)", e["message_size_limit"])
	}
	if p, set := im.param("smtp_helo_name"); set && p.Value != "$myhostname" && p.Value != "${myhostname}" && p.Value != "$(myhostname)" {
		s.HeloName = e["smtp_helo_name"]
		if s.HeloName == s.Hostname {
			s.HeloName = ""
		}
	}
	if s.UnverifiedRecipientRejectCode, err = strconv.Atoi(e["unverified_recipient_reject_code"]); err != nil {
		return s, importErr("unverified_recipient_reject_code = %s: must be 450 or 550", e["unverified_recipient_reject_code"])
	}
	clean, warnings, err := ValidateSettings(s)
	if err != nil {
		return s, importWrap("the MTA settings", err)
	}
	im.notes = append(im.notes, warnings...)
	return clean, nil
}

// importRelayHost accepts a next hop only when the settings page writes it
// back the same way (up to letter case, which DNS ignores).
func importRelayHost(param, field, label, v string) (string, error) {
	norm, err := normalizeRelayHost(field, label, v)
	if err != nil {
		return "", importWrap(param+" = "+v, err)
	}
	if !strings.EqualFold(norm, v) {
		return "", importErr("%s = %s: the MTA Settings page would write it as %s, which Postfix treats differently (brackets turn off MX lookups); write %s in main.cf if that is meant, and import again", param, v, norm, norm)
	}
	return norm, nil
}

// networks turns mynetworks into My Networks. Postfix matches IPv4 clients
// in IPv4 form, so an IPv4-mapped IPv6 range ([::ffff:127.0.0.0]/104, as
// Debian's default main.cf has) is dropped when the IPv4 range it maps is
// listed too; anything else that is not an address or network is refused.
func (im *importer) networks(v string) ([]string, error) {
	var v4 []netip.Prefix
	type entry struct {
		tok string
		p   netip.Prefix
	}
	var entries []entry
	for _, tok := range listTokens(v) {
		if strings.HasPrefix(tok, "!") || strings.Contains(tok, ":/") || strings.HasPrefix(tok, "/") || (strings.Contains(tok, ":") && !strings.Contains(tok, "[") && !strings.Contains(tok, "::") && strings.Count(tok, ":") == 1) {
			return nil, importErr("mynetworks = %s: %q is a lookup table, a file or an exclusion, but My Networks on the MTA Settings page is a list of networks; list them in main.cf and import again", truncate(v, 80), tok)
		}
		s := strings.Replace(strings.TrimPrefix(tok, "["), "]", "", 1)
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, importErr("mynetworks = %s: %q is not an address or network (host names cannot be represented in My Networks)", truncate(v, 80), tok)
		}
		if p.Addr().Is4() {
			v4 = append(v4, p)
		}
		entries = append(entries, entry{tok, p})
	}
	var out []string
	for _, e := range entries {
		if a := e.p.Addr(); a.Is4In6() && e.p.Bits() >= 96 {
			mapped := netip.PrefixFrom(a.Unmap(), e.p.Bits()-96).Masked()
			covered := false
			for _, p := range v4 {
				if p.Bits() <= mapped.Bits() && p.Contains(mapped.Addr()) {
					covered = true
				}
			}
			if !covered {
				return nil, importErr("mynetworks: %s is an IPv4-mapped range and %s is not listed as IPv4; write it as %s and import again", e.tok, mapped, mapped)
			}
			im.notes = append(im.notes, fmt.Sprintf("mynetworks: %s dropped; Postfix matches IPv4 clients against %s, which is listed", e.tok, mapped))
			continue
		}
		out = append(out, e.p.String())
	}
	return out, nil
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
	for i := p.Line; i <= p.End; i++ {
		line := im.lines[i-1]
		prefix := ""
		if i == p.Line {
			eq := strings.Index(line, "=")
			prefix, line = line[:eq+1], line[eq+1:]
		}
		line = verifyRe.ReplaceAllString(line, "$1")
		if i == p.End {
			line = strings.TrimRight(line, " \t,")
		}
		im.lines[i-1] = prefix + line
		if i != p.Line && strings.Trim(line, " \t,") == "" && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			im.markDrop(i)
		}
	}
	rest := listTokens(strings.Join(im.paramText(p), " "))
	got := listTokens(withVerify(strings.Join(rest, " ")))
	if strings.Join(got, " ") != strings.Join(orig, " ") {
		return importErr("smtpd_recipient_restrictions = %s: the \"Reject unverified recipient\" switch puts %s right after reject_unauth_destination (or at the end), so this order cannot be represented; move it there in main.cf and import again", truncate(p.Value, 100), restrictionVerify)
	}
	s.RejectUnverifiedRecipient = true
	im.notes = append(im.notes, "smtpd_recipient_restrictions: reject_unverified_recipient is now the \"Reject unverified recipient\" switch of MTA Settings")
	return nil
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
			line = line[strings.Index(line, "=")+1:]
		} else if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}

func (im *importer) markDrop(line int) {
	if im.drop == nil {
		im.drop = map[int]bool{}
	}
	im.drop[line] = true
}

// dropUnused comments out the parameters of the administrator's own that
// were used as $name before the rewrite and are not any more.
func (im *importer) dropUnused() ([]string, error) {
	before := referencedNames(im.params)
	var cur []Param
	for _, p := range im.params {
		text := strings.Join(im.paramText(p), " ")
		cur = append(cur, Param{Name: p.Name, Value: text})
	}
	after := referencedNames(cur)
	var unused []string
	var cat *paramCatalog
	for _, p := range im.params {
		if !before[p.Name] || after[p.Name] || slices.Contains(importManaged, p.Name) {
			continue
		}
		if cat == nil {
			var err error
			if cat, err = loadCatalog(im.ctx, postfix.Runner{SbinDir: im.pf.SbinDir, ConfigDir: im.scratch}); err != nil {
				return nil, err
			}
		}
		if _, known := cat.defaults[p.Name]; known {
			continue
		}
		im.lines[p.Line-1] = "# " + p.Name + ": no longer used once its tables moved to maps.d (postdeck import; was: " + truncate(p.Value, 120) + ")"
		for i := p.Line + 1; i <= p.End; i++ {
			im.markDrop(i)
		}
		unused = append(unused, p.Name)
		im.notes = append(im.notes, fmt.Sprintf("%s was only used in table file names; it is commented out", p.Name))
	}
	return unused, nil
}

// removeManaged replaces the definitions of managed parameters by a comment
// and drops the lines marked for removal.
func (im *importer) removeManaged() {
	for _, name := range importManaged {
		p, ok := im.param(name)
		if !ok {
			continue
		}
		im.lines[p.Line-1] = "# " + name + ": imported into MTA Settings by postdeck (was: " + truncate(p.Value, 120) + ")"
		for i := p.Line + 1; i <= p.End; i++ {
			im.markDrop(i)
		}
	}
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

// refTypeRe matches a reference to a table type Import turns into a map.
// An inline table (pcre:{...}) has no file and stays in the document.
var refTypeRe = regexp.MustCompile(`^(?:proxy:)?(hash|btree|cidr|pcre|regexp):([^{].*)$`)

// configDirRe matches the spellings of $config_directory.
var configDirRe = regexp.MustCompile(`\$(?:config_directory\b|\{config_directory\}|\(config_directory\))`)

var varRe = regexp.MustCompile(`\$(?:\{([A-Za-z0-9_]+)\}|\(([A-Za-z0-9_]+)\)|([A-Za-z0-9_]+))`)

// maps finds the table references of every parameter, reads their sources
// into maps and rewrites the references in the document.
func (im *importer) maps() error {
	byKey := map[string]*importTable{}
	type use struct {
		p   Param
		raw string
	}
	var uses []use
	for _, p := range im.params {
		if keepRefs(p.Name) || slices.Contains(importManaged, p.Name) {
			continue
		}
		toks := refTokens(p.Value)
		for i, tok := range toks {
			m := refTypeRe.FindStringSubmatch(tok)
			if m == nil {
				continue
			}
			typ, file := m[1], m[2]
			path, err := im.expandPath(file)
			if err != nil {
				return importErr("%s: %s: %v", p.Name, tok, err)
			}
			key := typ + ":" + path
			t := byKey[key]
			if t == nil {
				t = &importTable{typ: typ, path: path}
				byKey[key] = t
				im.tables = append(im.tables, t)
				wk := wellKnownMaps[p.Name]
				if p.Name == "smtpd_recipient_restrictions" && i > 0 && toks[i-1] == "check_recipient_access" {
					wk = MapRecipientAccess
				}
				if wk != "" && typ == "hash" && len(toks) == 1 || wk == MapRecipientAccess && typ == "hash" {
					t.name = wk
				}
			}
			raw := strings.TrimPrefix(tok, "proxy:")
			if !slices.Contains(t.refs, raw) {
				t.refs = append(t.refs, raw)
			}
			uses = append(uses, use{p, raw})
		}
	}
	if err := im.nameTables(); err != nil {
		return err
	}
	for _, t := range im.tables {
		if err := im.readTable(t); err != nil {
			return err
		}
	}
	for _, u := range uses {
		var t *importTable
		for _, c := range im.tables {
			if slices.Contains(c.refs, u.raw) {
				t = c
			}
		}
		im.rewriteRef(u.p, u.raw, t.newRef())
	}
	return nil
}

// refTokens splits a parameter value into list elements, keeping inline
// tables ({ ... }) whole so that their insides are not taken for references.
func refTokens(v string) []string {
	var out []string
	depth, start := 0, -1
	for i, r := range v {
		sep := r == ',' || r == ' ' || r == '\t'
		switch {
		case r == '{':
			depth++
		case r == '}':
			if depth > 0 {
				depth--
			}
		}
		if sep && depth == 0 {
			if start >= 0 {
				out = append(out, v[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, v[start:])
	}
	return out
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
			return "", fmt.Errorf("$%s is not set in main.cf, so the file name cannot be resolved", missing)
		}
	}
	if !filepath.IsAbs(s) {
		return "", fmt.Errorf("the file name %q is not absolute", s)
	}
	return filepath.Clean(s), nil
}

// nameTables gives every table a unique map name: the default map's name for
// well-known parameters, NAME for a file that is already maps.d/TYPE.NAME.map,
// the file's base name otherwise.
func (im *importer) nameTables() error {
	used := map[string]bool{}
	for _, t := range im.tables {
		if t.name != "" {
			if used[t.name] {
				t.name = ""
				continue
			}
			used[t.name] = true
		}
	}
	bad := regexp.MustCompile(`[^A-Za-z0-9._-]+`)
	for _, t := range im.tables {
		if t.name != "" {
			continue
		}
		base := filepath.Base(t.path)
		if filepath.Dir(t.path) == filepath.Join(im.dir, "maps.d") && strings.HasPrefix(base, t.typ+".") && strings.HasSuffix(base, ".map") {
			base = strings.TrimSuffix(strings.TrimPrefix(base, t.typ+"."), ".map")
		}
		base = strings.TrimSuffix(base, "."+t.typ)
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

// readTable reads a table's source. For hash and btree Postfix reads the
// indexed file, not the source: the source is taken only when it builds to
// exactly what the indexed file holds.
func (im *importer) readTable(t *importTable) error {
	fi, err := os.Stat(t.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return importErr("%s:%s: the source file %s does not exist; postdeck keeps the source of every map, so restore it (or remove the reference) and import again", t.typ, t.path, t.path)
		}
		return fmt.Errorf("import: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return importErr("%s:%s is not a regular file", t.typ, t.path)
	}
	if fi.Size() > maxMapBytes {
		return importErr("%s:%s is %d bytes; a map holds at most %d", t.typ, t.path, fi.Size(), maxMapBytes)
	}
	if fi.Mode().Perm()&0o044 == 0 && !sensitiveMaps[t.name] {
		return importErr("%s:%s is readable by root only (mode %o), but postdeck writes map %s readable by all; only smtp_sasl_password_maps = hash:FILE becomes the private map %s", t.typ, t.path, fi.Mode().Perm(), t.name, MapSASLPasswords)
	}
	b, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	t.content = normalizeMapContent(string(b))
	if !indexedMap[t.typ] {
		return nil
	}
	if _, err := os.Stat(t.path + ".db"); err != nil {
		return importErr("%s:%s: the indexed file %s.db is missing, so Postfix cannot use this table now; run postmap %s:%s (or remove the reference) and import again", t.typ, t.path, t.path, t.typ, t.path)
	}
	live, err := im.dumpTable(t.typ, t.path)
	if err != nil {
		return err
	}
	copyPath := filepath.Join(im.scratch, "table")
	if err := os.WriteFile(copyPath, []byte(t.content), 0o600); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	pm := postfix.Runner{SbinDir: im.pf.SbinDir, ConfigDir: im.scratch}
	if _, _, err := pm.Run(im.ctx, nil, "postmap", t.typ+":"+copyPath); err != nil {
		return fmt.Errorf("import: build a copy of %s: %w", t.path, err)
	}
	built, err := im.dumpTable(t.typ, copyPath)
	if err != nil {
		return err
	}
	if live != built {
		return importErr("%s:%s: the source file differs from %s.db, which is what Postfix uses; run postmap %s:%s (or restore the source that built it) and import again", t.typ, t.path, t.path, t.typ, t.path)
	}
	return nil
}

// dumpTable lists an indexed table's entries, sorted.
func (im *importer) dumpTable(typ, path string) (string, error) {
	pm := postfix.Runner{SbinDir: im.pf.SbinDir, ConfigDir: im.scratch}
	out, _, err := pm.Run(im.ctx, nil, "postmap", "-s", typ+":"+path)
	if err != nil {
		return "", fmt.Errorf("import: read %s:%s: %w", typ, path, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n"), nil
}

// rewriteRef replaces a reference in a parameter's lines, as a whole list
// element only.
func (im *importer) rewriteRef(p Param, raw, repl string) {
	re := regexp.MustCompile(`(^|[\s,={:])` + regexp.QuoteMeta(raw) + `($|[\s,}])`)
	for i := p.Line; i <= p.End; i++ {
		line := im.lines[i-1]
		prefix := ""
		if i == p.Line {
			eq := strings.Index(line, "=")
			prefix, line = line[:eq+1], line[eq+1:]
		} else if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for {
			next := re.ReplaceAllString(line, "${1}"+strings.ReplaceAll(repl, "$", "$$")+"${2}")
			if next == line {
				break
			}
			line = next
		}
		im.lines[i-1] = prefix + line
	}
}

// importMaster reads dir/master.cf to keep it as written: the services of
// the existing installation (submission, content filters, postscreen) stay.
// A master.cf postdeck wrote itself, or none, gives "" (postdeck's own).
func importMaster(dir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "master.cf"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("import: read master.cf: %w", err)
	}
	text := strings.ReplaceAll(string(raw), "\r\n", "\n")
	if strings.HasPrefix(text, header) {
		return "", nil
	}
	for _, svc := range masterServiceNames(text) {
		if svc == "mpa" {
			return "", fmt.Errorf("import: master.cf defines a service named mpa, which postdeck's content filter needs: rename it first")
		}
	}
	return text, nil
}
