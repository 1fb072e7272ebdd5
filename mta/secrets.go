package mta

import (
	"slices"
	"sort"
	"strings"

	"postdeck/store"
)

// Which maps hold passwords is decided by the configuration, not by a
// map's name: Postfix's SMTP and LMTP clients read SASL passwords from
// every table that smtp_sasl_password_maps or lmtp_sasl_password_maps
// names, in main.cf or in a master.cf service's -o override, directly or
// through a parameter they use as $name. Each of those maps is secret:
// written mode 0600 (file and .db), its passwords masked in everything
// the console and the API show, its version no digest of them, and a
// masked password saved back keeps the stored one. The map
// smtp-sasl-password_maps is secret by name as well.
//
// Once secret, a map stays so (store.Map.Secret, set by the apply that
// makes the configuration refer to it, or by the administrator's save
// that marks the map so, before that reference exists): a map that held
// passwords is not shown in clear, nor made readable by all, because a
// reference went away or a later save did not mark it. Deleting the map
// ends it.

// FieldMapSecret is the API field of a map save that marks the map as
// holding passwords (PutMap, CreateMap: store.Map.Secret).
const FieldMapSecret = "secret"

// passwordParamSuffix ends the name of every parameter whose tables
// Postfix reads SASL client passwords from: smtp_sasl_password_maps,
// lmtp_sasl_password_maps.
const passwordParamSuffix = "_sasl_password_maps"

func isPasswordParam(name string) bool { return strings.HasSuffix(name, passwordParamSuffix) }

// literalTables are the table types whose results are written in the
// reference itself (inline:{ key=user:password }, static:user:password,
// randmap:{user:password}): in a password parameter they put passwords
// in main.cf or master.cf, which every local user and every console role
// may read.
var literalTables = map[string]bool{"inline": true, "static": true, "randmap": true}

// passwordSource is one definition Postfix may read SASL passwords
// through: a *_sasl_password_maps parameter, or a parameter such a
// parameter uses as $name.
type passwordSource struct {
	name    string // the parameter (main.cf) or -o name (master.cf)
	value   string
	line    int
	service string // the master.cf service of an -o override, "" for main.cf
	via     string // the *_sasl_password_maps parameter that reaches it
}

// passwordSources returns the definitions Postfix may read SASL
// passwords through: every *_sasl_password_maps parameter of main.cf
// (params) and every -o override of master.cf (services) of such a name,
// and, transitively, the definitions of the names their values use as
// $name. Names are followed without regard to which service an override
// belongs to: a superset, which errs on the side of privacy. Each name is
// followed once, so the walk ends after every definition at most.
func passwordSources(params []Param, services []masterService) []passwordSource {
	defs := map[string][]passwordSource{}
	for _, p := range params {
		defs[p.Name] = append(defs[p.Name], passwordSource{name: p.Name, value: p.Value, line: p.Line})
	}
	for _, s := range services {
		for _, o := range s.Opts {
			if !o.Bad {
				defs[o.Name] = append(defs[o.Name], passwordSource{name: o.Name, value: o.Value, line: o.Line, service: s.Name})
			}
		}
	}
	via := map[string]string{} // followed name -> the password parameter that reached it
	var queue []string
	for name := range defs {
		if isPasswordParam(name) {
			via[name] = name
			queue = append(queue, name)
		}
	}
	sort.Strings(queue)
	var out []passwordSource
	for i := 0; i < len(queue); i++ {
		name := queue[i]
		for _, d := range defs[name] {
			d.via = via[name]
			out = append(out, d)
			for _, used := range dollarNames(d.value) {
				if _, done := via[used]; done || defs[used] == nil {
					continue
				}
				via[used] = via[name]
				queue = append(queue, used)
			}
		}
	}
	return out
}

// dollarNames returns the names a value uses as $name, ${name...} or
// $(name).
func dollarNames(value string) []string {
	var out []string
	for _, m := range refRe.FindAllStringSubmatch(value, -1) {
		out = append(out, m[1]+m[2]+m[3])
	}
	return out
}

// refersForPasswords reports whether one of srcs refers to the file of
// the map typ/name.
func refersForPasswords(srcs []passwordSource, typ, name string) bool {
	file := MapFile(typ, name)
	for _, s := range srcs {
		if refersTo(s.value, file) {
			return true
		}
	}
	return false
}

// IsSecretMap reports whether mp holds SASL passwords: the
// smtp-sasl-password_maps map, or one the configuration made secret
// (store.Map.Secret; SecretMaps, Manager.GetMap).
func IsSecretMap(mp store.Map) bool { return mp.Secret || mp.Name == MapSASLPasswords }

// SecretMaps names the maps of st that hold SASL passwords: those
// IsSecretMap says so of, and every map whose file a password parameter
// of the main.cf st renders (the Edit Main Config document and what the
// MTA settings and the installation add) or an -o override of its
// master.cf refers to (passwordSources).
func SecretMaps(in Instance, st store.State) map[string]bool {
	params, err := ParseMainConfig(st.MainConfig)
	if err != nil {
		params = nil // such a document is refused on its own; its lines are still read below
	}
	return secretMapsOf(st.Maps, renderedSources(renderMain(in, st, params), st.MasterConfig))
}

// renderedSources are the passwordSources of a rendered main.cf and a
// master config document.
func renderedSources(mainCF, masterDoc string) []passwordSource {
	params, err := parseMainCF(mainCF, true)
	if err != nil {
		params = nil
	}
	return passwordSources(params, parseMasterCF(masterDoc))
}

func secretMapsOf(maps []store.Map, srcs []passwordSource) map[string]bool {
	out := map[string]bool{MapSASLPasswords: true}
	for _, mp := range maps {
		if IsSecretMap(mp) || refersForPasswords(srcs, mp.Type, mp.Name) {
			out[mp.Name] = true
		}
	}
	return out
}

// markSecretMaps sets Secret on every map of st the configuration makes
// secret (SecretMaps), so that it stays secret once stored. The
// smtp-sasl-password_maps map is secret by its name and is not flagged.
func markSecretMaps(in Instance, st *store.State) {
	secret := SecretMaps(in, *st)
	cloned := false
	for i := range st.Maps {
		if st.Maps[i].Secret || !secret[st.Maps[i].Name] || st.Maps[i].Name == MapSASLPasswords {
			continue
		}
		if !cloned {
			// st's maps may be the caller's (a cluster revision): the
			// flag goes on a copy.
			st.Maps, cloned = slices.Clone(st.Maps), true
		}
		st.Maps[i].Secret = true
	}
}

// maxTableNesting bounds how deep literalTableIn looks into unionmap:{...}
// and pipemap:{...}: each level reads the value again.
const maxTableNesting = 8

// literalTableIn returns the first table type of literalTables in a
// parameter value, looking through proxy: and inside unionmap:{...} and
// pipemap:{...}; "" when there is none.
func literalTableIn(value string) string { return literalTableAt(value, 0) }

func literalTableAt(value string, depth int) string {
	if depth > maxTableNesting {
		// Deeper than any configuration needs: any mention counts.
		for _, typ := range []string{"inline", "static", "randmap"} {
			if strings.Contains(value, typ+":") {
				return typ
			}
		}
		return ""
	}
	for _, tok := range refTokens(value) {
		for {
			rest, ok := strings.CutPrefix(tok, "proxy:")
			if !ok {
				break
			}
			tok = rest
		}
		if m := compositeRe.FindStringSubmatch(tok); m != nil {
			if typ := literalTableAt(m[1], depth+1); typ != "" {
				return typ
			}
			continue
		}
		// A list element in braces is its inside: Postfix groups
		// { static:user:password } that way.
		if inner, ok := strings.CutPrefix(tok, "{"); ok && strings.HasSuffix(inner, "}") {
			if typ := literalTableAt(strings.TrimSuffix(inner, "}"), depth+1); typ != "" {
				return typ
			}
			continue
		}
		if m := tableTypeRe.FindStringSubmatch(tok); m != nil && literalTables[m[1]] {
			return m[1]
		}
	}
	return ""
}

// literalPasswords finds a table of literalTables among the definitions
// Postfix reads SASL passwords through: the main.cf parameters (params)
// and master.cf's -o overrides (services), passing over those skip
// reports (nil: none). It returns the first in order, with its type; ok
// is false when there is none.
func literalPasswords(params []Param, services []masterService, skip func(passwordSource) bool) (src passwordSource, typ string, ok bool) {
	srcs := passwordSources(params, services)
	// main.cf first, then master.cf, each by line: the sentence names
	// the first line to change.
	sort.SliceStable(srcs, func(i, j int) bool {
		if (srcs[i].service == "") != (srcs[j].service == "") {
			return srcs[i].service == ""
		}
		return srcs[i].line < srcs[j].line
	})
	for _, s := range srcs {
		if typ := literalTableIn(s.value); typ != "" && (skip == nil || !skip(s)) {
			return s, typ, true
		}
	}
	return passwordSource{}, "", false
}

// literalPasswordSentence says why a literal table in a password
// parameter is refused and what to do instead; file is main.cf or
// master.cf.
func literalPasswordSentence(src passwordSource, typ, file string) string {
	what := "Parameter " + src.name
	if src.service != "" {
		what = "Service " + src.service + ": -o " + src.name
	}
	uses := ""
	if src.via != src.name {
		uses = " that " + src.via + " uses"
	}
	return what + " has " + withArticle(typ+":") + " table" + uses + ", which would put passwords in " + file + ", readable by all; put them in a map on the Maps page (" + MapSASLPasswords + ") and refer to it"
}

// withArticle puts "a" or "an" before word.
func withArticle(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}

// checkLiteralPasswords refuses a configuration that writes SASL
// passwords into main.cf or master.cf (literalTables in a password
// parameter), naming the line of the document that has it: the main
// config document's parameters (params) or the master config
// document's services.
func checkLiteralPasswords(params []Param, services []masterService) error {
	src, typ, found := literalPasswords(params, services, nil)
	if !found {
		return nil
	}
	return literalPasswordError(src, typ)
}

// checkChangedLiteralPasswords is checkLiteralPasswords for a change on
// top of the stored state: a definition the stored state has as it is
// (stored by an earlier version, which let such tables through; every
// apply warns about it, startWarnings) is let through, so that the save
// that fixes one document is not refused for what the other still has;
// one the change adds or alters is refused. Saved back as the console
// shows it (TYPE:********, MaskLiteralPasswords), a definition is
// altered.
func checkChangedLiteralPasswords(params []Param, services []masterService, stored store.State) error {
	storedParams, err := ParseMainConfig(stored.MainConfig)
	if err != nil {
		storedParams = nil
	}
	type def struct{ service, name, value string }
	kept := map[def]bool{}
	for _, s := range passwordSources(storedParams, parseMasterCF(stored.MasterConfig)) {
		if literalTableIn(s.value) != "" {
			kept[def{s.service, s.name, s.value}] = true
		}
	}
	src, typ, found := literalPasswords(params, services, func(s passwordSource) bool { return kept[def{s.service, s.name, s.value}] })
	if !found {
		return nil
	}
	return literalPasswordError(src, typ)
}

// literalPasswordError is the refusal of src, naming its document's line.
func literalPasswordError(src passwordSource, typ string) error {
	if src.service != "" {
		return store.InvalidLine(FieldMasterConfig, src.line, "%s", literalPasswordSentence(src, typ, "master.cf"))
	}
	return store.InvalidLine(FieldMainConfig, src.line, "%s", literalPasswordSentence(src, typ, "main.cf"))
}

// MaskLiteralPasswords returns the main config and master config
// documents with the value of every password definition that holds one
// of literalTables (checkLiteralPasswords) replaced by TYPE:********: a
// state stored before such tables were refused still has them (the
// start warns), and no role may read the passwords in what the console
// and the API show. The replaced parameter keeps its first line, without
// its continuation lines; saved back, the line is refused with the
// sentence that says what to do. Documents without such a table come
// back as they are.
func MaskLiteralPasswords(mainDoc, masterDoc string) (string, string) {
	params, err := ParseMainConfig(mainDoc)
	if err != nil {
		params = nil // refused on its own; nothing in it is followed
	}
	services := parseMasterCF(masterDoc)
	mainLines := map[int]string{} // line of a main.cf definition -> its type
	type override struct {
		line int
		name string
	}
	masterLines := map[override]string{} // an -o override -> its type
	for _, src := range passwordSources(params, services) {
		typ := literalTableIn(src.value)
		switch {
		case typ == "":
		case src.service == "":
			mainLines[src.line] = typ
		default:
			masterLines[override{src.line, src.name}] = typ
		}
	}
	if len(mainLines) > 0 {
		lines := strings.Split(mainDoc, "\n")
		drop := map[int]bool{}
		for _, p := range params {
			typ, ok := mainLines[p.Line]
			if !ok {
				continue
			}
			lines[p.Line-1] = p.Name + " = " + typ + ":" + maskedPassword
			for n := p.Line + 1; n <= p.End; n++ {
				drop[n] = true
			}
		}
		kept := lines[:0]
		for i, l := range lines {
			if !drop[i+1] {
				kept = append(kept, l)
			}
		}
		mainDoc = strings.Join(kept, "\n")
	}
	if len(masterLines) > 0 {
		lines := strings.Split(masterDoc, "\n")
		for _, s := range services {
			for _, o := range s.Opts {
				typ, ok := masterLines[override{o.Line, o.Name}]
				if !ok || o.Bad || o.Line < 1 || o.Line > len(lines) {
					continue
				}
				if l := lines[o.Line-1]; strings.Contains(l, o.Raw) {
					lines[o.Line-1] = strings.Replace(l, o.Raw, o.Name+"="+typ+":"+maskedPassword, 1)
				} else {
					// Tokens are cut from their line, so Raw is in it;
					// were it not, the line goes rather than the password
					// shows.
					lines[o.Line-1] = "#" + maskedPassword
				}
			}
		}
		masterDoc = strings.Join(lines, "\n")
	}
	return mainDoc, masterDoc
}
