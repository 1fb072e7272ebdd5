package mta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"postdeck/postfix"
	"postdeck/store"
)

// ListMaps returns every map without its content, sorted by name.
func (m *Manager) ListMaps() ([]MapInfo, error) {
	maps, err := m.db.ListMaps()
	if err != nil {
		return nil, fmt.Errorf("list maps: %w", err)
	}
	srcs, err := m.storedPasswordSources()
	if err != nil {
		return nil, fmt.Errorf("list maps: %w", err)
	}
	out := make([]MapInfo, 0, len(maps))
	for _, mp := range maps {
		mp.Secret = IsSecretMap(mp) || refersForPasswords(srcs, mp.Type, mp.Name)
		out = append(out, m.mapInfo(mp))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *Manager) mapInfo(mp store.Map) MapInfo {
	return MapInfo{
		Name: mp.Name, Type: mp.Type, File: m.inst.MapPath(mp.Type, mp.Name),
		Lines: lineCount(mp.Content), Owner: mp.Owner, Updated: mp.Updated,
		Secret: IsSecretMap(mp),
	}
}

// MapInfo describes one stored map (no content).
func (m *Manager) MapInfo(mp store.Map) MapInfo { return m.mapInfo(mp) }

// GetMap returns a stored map as it is, passwords included: callers that
// show it use MaskSecrets. Its Secret is set when the stored
// configuration makes it secret (IsSecretMap). A missing map is
// store.ErrNotFound.
func (m *Manager) GetMap(name string) (store.Map, error) {
	if err := ValidMapName(name); err != nil {
		return store.Map{}, store.NotFound("Map %s does not exist", truncate(name, 40))
	}
	mp, found, err := m.db.GetMap(name)
	if err != nil {
		return store.Map{}, fmt.Errorf("get map: %w", err)
	}
	if !found {
		return store.Map{}, store.NotFound("Map %s does not exist", name)
	}
	if !IsSecretMap(mp) {
		if mp.Secret, err = m.namedForPasswords(mp); err != nil {
			return store.Map{}, err
		}
	}
	return mp, nil
}

// namedForPasswords reports whether the stored main config or master
// config document names mp's file in a password parameter
// (passwordSources). The apply that stores such a configuration sets
// the map's Secret with it (markSecretMaps); this answers for a state
// stored otherwise (a restore of a backup made before maps had the flag)
// until its apply. The settings and the installation part of main.cf
// never set a password parameter, so the documents are enough.
func (m *Manager) namedForPasswords(mp store.Map) (bool, error) {
	srcs, err := m.storedPasswordSources()
	if err != nil {
		return false, fmt.Errorf("get map: %w", err)
	}
	return refersForPasswords(srcs, mp.Type, mp.Name), nil
}

// storedPasswordSources are the passwordSources of the stored main config
// and master config documents.
func (m *Manager) storedPasswordSources() ([]passwordSource, error) {
	doc, err := m.db.LoadMainConfig()
	if err != nil {
		return nil, err
	}
	master, err := m.db.LoadMasterConfig()
	if err != nil {
		return nil, err
	}
	params, err := ParseMainConfig(doc)
	if err != nil {
		params = nil // a stored document parses; an old one that does not names nothing here
	}
	return passwordSources(params, parseMasterCF(master)), nil
}

// PutMap validates an administrator's map, stores it and applies it: the
// map's file (built with postmap for hash and btree) and main.cf change
// together or not at all. Maps the SPF refresher owns can only be written
// through PutRefresherMap; an administrator's edit is store.ErrForbidden. Changing the type of a map main.cf still references
// is store.ErrConflict. in.Secret marks the map as holding SASL
// passwords from this save on (a map of the SPF refresher's is
// store.ErrInvalid); false never ends it. For a map that holds SASL passwords
// (IsSecretMap, SecretMaps), a masked password (********) or an empty
// one keeps the stored password of that key.
//
// base is the version (store.MapVersion) the change was based on: when the
// stored map has another one, nothing changes and the error is store.Stale
// with the difference (passwords masked). An empty base saves
// unconditionally.
func (m *Manager) PutMap(ctx context.Context, actor string, in store.Map, base string) (Result, error) {
	return m.putMap(ctx, actor, in, false, false, base)
}

// CreateMap is PutMap for a map that must not exist yet: the check and the
// save happen under the same apply lock, so two administrators creating the
// same name cannot both succeed (store.ErrConflict for the second).
func (m *Manager) CreateMap(ctx context.Context, actor string, in store.Map) (Result, error) {
	return m.putMap(ctx, actor, in, false, true, "")
}

// PutRefresherMap is the SPF refresher's way to save a map: it may create
// and write maps owned by store.OwnerRefresher (in.Owner refresher) and
// hand one over to the administrators (in.Owner admin), but never
// overwrites an administrator's map (store.ErrConflict).
func (m *Manager) PutRefresherMap(ctx context.Context, actor string, in store.Map) (Result, error) {
	return m.putMap(ctx, actor, in, true, false, "")
}

// PutRefresherMaps is PutRefresherMap for maps saved together (sources
// refreshed at the same time): they are applied at once, with one reload,
// unless Postfix refuses the combination, and then one by one, so that
// only a culprit fails (Update). The errors are in the order of ins.
func (m *Manager) PutRefresherMaps(ctx context.Context, actor string, ins []store.Map) []error {
	errs := make([]error, len(ins))
	var us []*pendingUpdate
	var which []int
	for i, in := range ins {
		u, drop, err := m.mapUpdate(actor, in, true, false, "", nil)
		if err != nil {
			errs[i] = err
			continue
		}
		defer drop()
		us = append(us, u)
		which = append(which, i)
	}
	if len(us) == 0 {
		return errs
	}
	m.updateBurst(ctx, us)
	for k, u := range us {
		errs[which[k]] = (<-u.done).err
	}
	return errs
}

func (m *Manager) putMap(ctx context.Context, actor string, in store.Map, refresher, create bool, base string) (Result, error) {
	var notes mapNotes
	u, drop, err := m.mapUpdate(actor, in, refresher, create, base, &notes)
	if err != nil {
		return Result{}, err
	}
	defer drop()
	res, err := m.updateOne(ctx, u)
	if err == nil {
		if notes.marked {
			res.Message = markedSecretNote + res.Message
		}
		res.Warnings = append(notes.warnings, res.Warnings...)
	}
	return res, err
}

// mapNotes is what a map save tells beside its result: the warnings of
// its content (regexpSlowWarnings), and whether it is the save that marked
// the map as holding passwords (in.Secret on a map that did not yet).
type mapNotes struct {
	warnings []string
	marked   bool
}

// markedSecretNote begins the answer (and so the audit entry) of a save
// that made a map hold passwords.
const markedSecretNote = "marked as holding passwords: its file and .db are readable by root only and its passwords are shown masked; "

// mapUpdate checks a map's name and type, starts building its file, and
// returns the change that saves it; drop ends the build once the change
// has its answer. The change sets *notes, when not nil, to what the save
// tells beside its result, read once it has its answer.
func (m *Manager) mapUpdate(actor string, in store.Map, refresher, create bool, base string, notes *mapNotes) (u *pendingUpdate, drop func(), err error) {
	if err := ValidMapName(in.Name); err != nil {
		m.record(actor, "map", "refused", err.Error())
		return nil, nil, err
	}
	if err := ValidMapType(in.Type); err != nil {
		m.record(actor, "map "+in.Name, "refused", err.Error())
		return nil, nil, err
	}
	in.Content = normalizeMapContent(in.Content)
	// postmap starts on the new content now, the checks below run beside
	// it, and the apply takes the built file when these bytes go live.
	pb := m.startPrebuild(in)
	asked := in.Secret && !refresher // the administrator marks the map as holding passwords
	mutate := func(st *store.State) error {
		idx := -1
		for i := range st.Maps {
			if st.Maps[i].Name == in.Name {
				idx = i
			}
		}
		// A map holds passwords when the configuration says so, or when
		// the administrator marks it so (in.Secret: before the reference
		// that will make it so is saved). A request never ends it: once
		// secret, a map stays so (secrets.go).
		// The stored map is as its version was read (the configuration's
		// say); the mark goes on the new one only.
		configured := SecretMaps(m.inst, *st)[in.Name] && in.Name != MapSASLPasswords
		if notes != nil {
			notes.marked = asked && (idx < 0 || !IsSecretMap(st.Maps[idx]))
		}
		if idx >= 0 {
			st.Maps[idx].Secret = configured
		}
		in.Secret = (asked || configured) && in.Name != MapSASLPasswords
		owner := store.OwnerAdmin
		if create && idx >= 0 {
			return store.Conflict("Map %s already exists; open it on the Maps page to edit it", in.Name)
		}
		if idx < 0 && len(st.Maps) >= m.maxMaps {
			return store.Invalid(FieldMapName, "map %s: postdeck keeps at most %d maps, and there are %d; delete a map you no longer use first", in.Name, m.maxMaps, len(st.Maps))
		}
		if base != "" {
			if idx < 0 {
				return store.StaleDeleted("map "+in.Name, "the map was deleted")
			}
			if cur := MapVersion(st.Maps[idx]); cur != base {
				old := st.Maps[idx]
				return store.Stale("map "+in.Name, cur, UnifiedDiff(in.Name, MaskSecrets(old).Content, MaskSecrets(in).Content))
			}
		}
		if idx >= 0 {
			old := st.Maps[idx]
			owner = old.Owner
			switch {
			case asked && old.Owner == store.OwnerRefresher:
				return store.Invalid(FieldMapSecret, "Map %s is kept up to date by the SPF refresher from DNS and holds no passwords, so it cannot be marked as holding passwords; create a map of your own for them", in.Name)
			case refresher && old.Owner != store.OwnerRefresher:
				return store.Conflict("Map %s is edited by administrators; the SPF refresher does not overwrite it", in.Name)
			case !refresher && old.Owner == store.OwnerRefresher:
				return store.Forbidden("Map %s is kept up to date by the SPF refresher from DNS, so it cannot be edited here; remove its SPF source first to take it over", in.Name)
			}
			if old.Type != in.Type {
				if where := m.mapReference(st, old.Type, old.Name); where != "" {
					return store.Conflict("Map %s cannot change its type from %s to %s: %s; change that reference first (the file name becomes %s)", in.Name, old.Type, in.Type, where, MapFile(in.Type, in.Name))
				}
			}
			if IsSecretMap(in) {
				content, err := keepMaskedPasswords(in.Name, in.Content, old.Content)
				if err != nil {
					return err
				}
				in.Content = content
			}
		} else if IsSecretMap(in) {
			content, err := keepMaskedPasswords(in.Name, in.Content, "")
			if err != nil {
				return err
			}
			in.Content = content
		}
		if refresher {
			owner = store.OwnerRefresher
			if in.Owner == store.OwnerAdmin {
				owner = store.OwnerAdmin
			}
		}
		stored := ""
		if idx >= 0 {
			stored = st.Maps[idx].Content
		}
		if n := newReplacementLine(in.Content, stored); n > 0 {
			return store.InvalidLine(FieldMapContent, n, "map %s: the line holds U+FFFD (\ufffd), the character that stands in for bytes that were not UTF-8 text (a file in another encoding such as Latin-1, sent through the API or the CLI, or a line of such a file shown by the console), and Postfix would look for U+FFFD itself; write the line in UTF-8", in.Name)
		}
		mc, err := m.mapContextFor(st)
		if err != nil {
			return err
		}
		// Keys pasted from another product's table that a hash or
		// btree map compares as literal text (deadkey.go), before the
		// syntax's own words for an access map's key; keys a
		// cidr or pattern map held before a change of type are new.
		keysHad := ""
		if idx >= 0 && indexedMap[st.Maps[idx].Type] {
			keysHad = stored
		}
		if n, msg := newDeadKey(in.Type, in.Content, keysHad); n > 0 {
			return store.InvalidLine(FieldMapContent, n, "map %s: %s", in.Name, msg)
		}
		if err := validateMapContent(in, mc); err != nil {
			return err
		}
		// Rules that throw away or bounce all mail of a kind
		// (catchall.go, relaydiscard.go); rules already saved stay.
		var relayNames []string
		for _, d := range st.Settings.RelayDomains {
			relayNames = append(relayNames, relayDomainNamesOf(d)...)
		}
		if in.Name == MapTransport {
			if n, msg := newCatchAllStop(mc, in.Type, in.Content, stored); n > 0 {
				return store.InvalidLine(FieldMapContent, n, "map %s: %s", in.Name, msg)
			}
			if n, msg := newRelayDomainTransportDiscard(mc, in.Type, in.Content, stored, relayNames); n > 0 {
				return store.InvalidLine(FieldMapContent, n, "map %s: %s", in.Name, msg)
			}
		}
		if in.Name == MapRecipientAccess {
			if n, msg := newRelayDomainDiscard(in.Type, in.Content, stored, relayNames); n > 0 {
				return store.InvalidLine(FieldMapContent, n, "map %s: %s", in.Name, msg)
			}
		}
		if in.Type == "regexp" {
			// Patterns Postfix compiles but matches without bound, or
			// never as meant (maps_regexp.go); lines already saved stay.
			was := ""
			if idx >= 0 && st.Maps[idx].Type == "regexp" {
				was = st.Maps[idx].Content
			}
			if n, msg := newRegexpHazard(in.Content, was); n > 0 {
				return store.InvalidLine(FieldMapContent, n, "map %s: %s", in.Name, msg)
			}
			// Unanchored unbounded repetitions, which most real tables
			// have, are saved with a warning of their cost.
			if notes != nil {
				notes.warnings = regexpSlowWarnings(in.Name, in.Content, was)
			}
		}
		if in.Type == "pcre" {
			// Patterns PCRE gives up on, which Postfix takes as no
			// match (maps_pcre.go); lines already saved stay.
			was := ""
			if idx >= 0 && st.Maps[idx].Type == "pcre" {
				was = st.Maps[idx].Content
			}
			if n, msg := newPCREHazard(in.Content, was); n > 0 {
				return store.InvalidLine(FieldMapContent, n, "map %s: %s", in.Name, msg)
			}
		}
		in.Owner, in.Updated = owner, time.Now().UTC()
		if idx >= 0 {
			st.Maps[idx] = in
		} else {
			st.Maps = append(st.Maps, in)
		}
		return nil
	}
	u = &pendingUpdate{actor: actor, action: "map " + in.Name, mutate: mutate, done: make(chan updateResult, 1)}
	return u, func() { m.dropPrebuild(pb) }, nil
}

// newReplacementLine is the first line (1-based) of content that holds
// U+FFFD and is not a line of stored, 0 when there is none. JSON carries
// UTF-8 only: the API's decoder, and the CLI's encoder, replace each byte
// of a Latin-1 file with U+FFFD without a word, and the console shows an
// imported Latin-1 table's bytes as U+FFFD and sends them back so. A
// pattern or key was then silently changed into one that never matches
// the mail's bytes. Lines stored with U+FFFD already may stay as they are.
func newReplacementLine(content, stored string) int {
	const replacement = "\ufffd"
	if !strings.Contains(content, replacement) {
		return 0
	}
	had := map[string]bool{}
	for _, l := range strings.Split(stored, "\n") {
		if strings.Contains(l, replacement) {
			had[l] = true
		}
	}
	for i, l := range strings.Split(content, "\n") {
		if strings.Contains(l, replacement) && !had[l] {
			return i + 1
		}
	}
	return 0
}

// replacementInDocument is the refusal of a main.cf or master.cf line
// that newReplacementLine finds: the document travels as JSON too (the
// API, `postdeck mainconfig get` and `set`, the console's form), and an
// imported file's Latin-1 comment or value came back with U+FFFD, which
// a save then wrote into Postfix's live file.
func replacementInDocument(file string) string {
	return "The line holds U+FFFD (\ufffd), the character that stands in for bytes that were not UTF-8 text (an imported " + file + " in another encoding such as Latin-1, shown by the console or sent through the API or the CLI), and saving it would write U+FFFD into " + file + " in place of those bytes; write the line in UTF-8"
}

// DeleteMap removes a map and its files. A map main.cf still references is
// store.ErrConflict, naming where; a map the SPF refresher owns is
// store.ErrForbidden.
// base, when set, is the version the deletion was based on.
func (m *Manager) DeleteMap(ctx context.Context, actor, name, base string) (Result, error) {
	return m.Update(ctx, actor, "delete map "+truncate(name, 100), func(st *store.State) error {
		idx := -1
		for i := range st.Maps {
			if st.Maps[i].Name == name {
				idx = i
			}
		}
		if idx < 0 {
			return store.NotFound("Map %s does not exist", truncate(name, 100))
		}
		old := st.Maps[idx]
		old.Secret = SecretMaps(m.inst, *st)[name]
		if cur := MapVersion(old); base != "" && base != cur {
			return store.Stale("map "+name, cur, "the map changed since you opened it")
		}
		if old.Owner == store.OwnerRefresher {
			return store.Forbidden("Map %s is kept up to date by the SPF refresher from DNS, so it cannot be deleted here; remove its SPF source first", name)
		}
		if where := m.mapReference(st, old.Type, old.Name); where != "" {
			return store.Conflict("Map %s cannot be deleted: %s; remove that reference first", name, where)
		}
		st.Maps = append(st.Maps[:idx:idx], st.Maps[idx+1:]...)
		return nil
	})
}

// mapContextFor collects what the default maps' meaning checks need.
func (m *Manager) mapContextFor(st *store.State) (*mapContext, error) {
	master, err := renderMaster(m.inst, st.MasterConfig)
	if err != nil {
		return nil, err
	}
	params, err := ParseMainConfig(st.MainConfig)
	if err != nil {
		params = nil // the document is checked on its own; a map does not depend on it
	}
	mc := newMapContext(master, params)
	mc.self = newSelfListeners(parseMasterCF(master), m.inst.MPAListen, st.Settings.Hostname)
	mc.relayHosts = append(relayHops(st.Settings.ExternalRelayHost), relayHops(st.Settings.InternalRelayHost)...)
	return mc, nil
}

// mapReference says where main.cf (the Edit Main Config document, or the
// main.cf and master.cf postdeck renders) refers to the map's file, or "".
func (m *Manager) mapReference(st *store.State, typ, name string) string {
	file := MapFile(typ, name)
	params, err := ParseMainConfig(st.MainConfig)
	if err == nil {
		for _, p := range params {
			if refersTo(p.Value, file) {
				return fmt.Sprintf("parameter %s on line %d of the main config (Edit Main Config) refers to %s", p.Name, p.Line, file)
			}
		}
		main := renderMain(m.inst, *st, params)
		for i, line := range strings.Split(main, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "#") && refersTo(line, file) {
				param, _, _ := strings.Cut(line, "=")
				return fmt.Sprintf("main.cf line %d (%s) refers to %s", i+1, strings.TrimSpace(param), file)
			}
		}
	} else if refersTo(st.MainConfig, file) {
		return "the main config (Edit Main Config) refers to " + file
	}
	if master, err := renderMaster(m.inst, st.MasterConfig); err == nil && refersTo(master, file) {
		return "master.cf refers to " + file
	}
	return ""
}

// refersTo finds maps.d/TYPE.NAME.map as a path component in text:
// $config_directory/maps.d/..., ${config_directory}/maps.d/... or the
// absolute path.
func refersTo(text, file string) bool {
	for off := 0; ; {
		i := strings.Index(text[off:], file)
		if i < 0 {
			return false
		}
		i += off
		end := i + len(file)
		before := i == 0 || text[i-1] == '/'
		after := end == len(text) || !(isAlnum(text[end]) || text[end] == '.' || text[end] == '-' || text[end] == '_')
		if before && after {
			return true
		}
		off = i + 1
	}
}

// MapVersion is the version of one map (store.DocVersion): a digest of
// its type and content. The version of a map that holds SASL passwords
// (IsSecretMap; mp as GetMap returns it) is a digest of what every role
// may see of it instead, its masked content, and of when it was saved: a
// digest of the passwords, shown to auditors beside the masked content,
// would let them test guesses offline. Every save sets Updated (to the
// nanosecond, kept through the store, backups and the cluster), so a
// change of a password alone still changes the version.
func MapVersion(mp store.Map) string {
	if !IsSecretMap(mp) {
		return store.DocVersion([]byte(mp.Type), []byte(mp.Content))
	}
	saved := strconv.FormatInt(mp.Updated.UnixNano(), 10)
	return store.DocVersion([]byte("masked"), []byte(mp.Type), []byte(MaskPasswords(mp.Content)), []byte(saved))
}

// maskedPassword replaces SASL passwords in everything the API shows.
const maskedPassword = "********"

// MaskSecrets returns the map as the console and the API may show it:
// the passwords of a map that holds SASL passwords (IsSecretMap; mp as
// GetMap returns it) become ********. Other maps are returned unchanged.
func MaskSecrets(mp store.Map) store.Map {
	if IsSecretMap(mp) {
		mp.Content = MaskPasswords(mp.Content)
	}
	return mp
}

// MaskPasswords masks every password of SASL password map content
// ("key user:password" lines): the content of a map IsSecretMap says
// holds them.
func MaskPasswords(content string) string {
	var b strings.Builder
	b.Grow(len(content))
	for _, line := range strings.SplitAfter(content, "\n") {
		b.WriteString(maskLine(line))
	}
	return b.String()
}

// maskLine masks the password of one "key user:password" line. A
// continuation line (which Postfix appends to the value) is masked whole.
func maskLine(line string) string {
	body := strings.TrimRight(line, "\r\n")
	nl := line[len(body):]
	trimmed := strings.TrimLeft(body, " \t")
	if trimmed == "" || trimmed[0] == '#' {
		return line
	}
	if len(trimmed) != len(body) {
		return body[:len(body)-len(trimmed)] + maskedPassword + nl
	}
	key, value := splitRule(body)
	if value == "" {
		return line
	}
	sep := body[len(key) : len(body)-len(value)]
	user, _, ok := strings.Cut(value, ":")
	if !ok {
		return key + sep + maskedPassword + nl
	}
	return key + sep + user + ":" + maskedPassword + nl
}

// maskValue masks a SASL lookup result.
func maskValue(v string) string {
	if user, _, ok := strings.Cut(v, ":"); ok {
		return user + ":" + maskedPassword
	}
	return maskedPassword
}

// keepMaskedPasswords puts the stored password back where the new content
// of map name, which holds SASL passwords, has a masked (********) or
// empty password, matching lines by key (case-insensitively, as postmap
// folds keys).
func keepMaskedPasswords(name, content, stored string) (string, error) {
	if !strings.Contains(content, maskedPassword) && !strings.Contains(content, ":\n") && !strings.HasSuffix(content, ":") {
		return content, nil
	}
	old := map[string]string{}
	for _, line := range strings.Split(stored, "\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' {
			continue
		}
		key, value := splitRule(line)
		if _, pass, ok := strings.Cut(value, ":"); ok {
			old[strings.ToLower(key)] = pass
		}
	}
	lines := strings.Split(content, "\n")
	for i, line := range lines {
		if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' {
			if strings.Contains(line, maskedPassword) && strings.TrimLeft(line, " \t") != "" && strings.TrimLeft(line, " \t")[0] != '#' {
				return "", store.InvalidLine(FieldMapContent, i+1, "map %s: a masked password cannot continue a line; write each entry as \"host user:password\" on one line", name)
			}
			continue
		}
		key, value := splitRule(line)
		user, pass, ok := strings.Cut(value, ":")
		if !ok || (pass != maskedPassword && pass != "") {
			continue
		}
		keep, found := old[strings.ToLower(key)]
		if !found {
			return "", store.InvalidLine(FieldMapContent, i+1, "map %s: the password for %q is masked or empty, but no password is stored for it; type the password", name, truncate(key, 80))
		}
		lines[i] = line[:len(line)-len(value)] + user + ":" + keep
	}
	return strings.Join(lines, "\n"), nil
}

// maxLookupKey bounds a lookup tester key.
const maxLookupKey = 1024

// LookupMap asks Postfix what a live map answers for key: `postmap -q`
// on the live file (the .db of hash and btree maps), exactly as Postfix's
// daemons see it. In a map that holds SASL passwords (IsSecretMap), the
// password of the answer is masked.
func (m *Manager) LookupMap(ctx context.Context, name, key string) (found bool, value string, err error) {
	mp, err := m.GetMap(name)
	if err != nil {
		return false, "", err
	}
	if key == "" || len(key) > maxLookupKey || strings.ContainsAny(key, "\r\n\x00") {
		return false, "", store.Invalid("key", "the lookup key must be 1 to %d characters on one line", maxLookupKey)
	}
	// Keys go in on standard input (postmap -q -): a key starting with
	// '-' cannot be taken for an option.
	path := m.inst.MapPath(mp.Type, mp.Name)
	stdout, stderr, runErr := m.pf.Run(ctx, strings.NewReader(key+"\n"), "postmap", "-q", "-", mp.Type+":"+path)
	if said := firstProblemOnly(stderr); said != "" {
		return false, "", store.Conflict("Looking up %q in map %s: Postfix says: %s", truncate(key, 60), name, said)
	}
	if runErr != nil {
		var ce *postfix.CmdError
		if errors.As(runErr, &ce) && len(bytes.TrimSpace(stdout)) == 0 {
			return false, "", nil // rc 1 without a complaint: not found
		}
		return false, "", fmt.Errorf("look up in map %s: %w", name, runErr)
	}
	line := strings.TrimRight(string(stdout), "\n")
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	// The value follows the key as given, which may hold a TAB itself
	// (a pcre or regexp rule may match it).
	value, ok := strings.CutPrefix(line, key+"\t")
	if !ok {
		if _, value, ok = strings.Cut(line, "\t"); !ok {
			return false, "", nil
		}
	}
	if IsSecretMap(mp) {
		value = maskValue(value)
	}
	return true, value, nil
}

// firstProblemOnly returns Postfix's first warning or fatal, "" when it
// said nothing wrong.
func firstProblemOnly(stderr []byte) string {
	if !hasProblem(stderr) {
		return ""
	}
	return firstProblem(string(stderr))
}
