package mta

import (
	"path/filepath"
	"regexp"
	"strings"
	"unicode"

	"postdeck/store"
)

// Relay domains and My Networks are Postfix lists. Besides domain names
// and networks, real gateways list lookup tables there (relay_domains =
// proxy:pgsql:/etc/postfix/relay.cf, mynetworks = cidr:/etc/postfix/trusted),
// pattern files (/etc/postfix/mynetworks) and parameters ($mydestination).
// An entry of either list is one of:
//
//	example.org, 10.0.0.0/8   a name (Relay domains) or a network (My Networks)
//	TYPE:TABLE                a lookup table of any type Postfix lists (postconf -m)
//	map:NAME                  a postdeck map, rendered as TYPE:$config_directory/maps.d/TYPE.NAME.map
//	/absolute/file            a file of patterns, one per line
//	$name, ${name}...         a parameter reference, expanded by Postfix
//
// Whether this Postfix supports a table's type, and whether its file
// exists, is checked on the staged configuration (postconf -m).

// MapRefPrefix starts a list entry that names a postdeck map.
const MapRefPrefix = "map:"

// knownTableTypes are the lookup table types any Postfix build may list
// in postconf -m (postconf(5), DATABASE_README). Whether this machine's
// Postfix has a type is for the staged check to say.
var knownTableTypes = map[string]bool{
	"btree": true, "cdb": true, "cidr": true, "dbm": true, "environ": true, "fail": true,
	"hash": true, "inline": true, "internal": true, "ldap": true, "lmdb": true,
	"memcache": true, "mongodb": true, "mysql": true, "netinfo": true, "nis": true,
	"nisplus": true, "pcre": true, "pgsql": true, "pipemap": true, "proxy": true,
	"randmap": true, "regexp": true, "sdbm": true, "socketmap": true, "sqlite": true,
	"static": true, "tcp": true, "texthash": true, "unionmap": true, "unix": true,
}

// fileTableTypes name a file (or a client configuration file): their
// TABLE is an absolute path or starts with a parameter ($config_directory).
var fileTableTypes = map[string]bool{
	"btree": true, "cdb": true, "cidr": true, "dbm": true, "lmdb": true, "pcre": true,
	"regexp": true, "sdbm": true, "texthash": true, "hash": true, "ldap": true,
	"mysql": true, "pgsql": true, "sqlite": true, "memcache": true, "mongodb": true,
}

var (
	tableTypeRe = regexp.MustCompile(`^([a-z][a-z0-9]*):(.*)$`)
	dollarRe    = regexp.MustCompile(`\$(?:\{[A-Za-z0-9_]+(?:[?:][^{}]*(?:\{[^{}]*\}[^{}]*)*)?\}|\([A-Za-z0-9_]+\)|[A-Za-z0-9_]+)`)
)

// listRef checks an entry that is not a plain name or network. It
// reports ok false for an entry that is neither (a name or network, left
// to the caller), and the entry as it will be stored.
func listRef(field, label, v string) (string, bool, error) {
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return "", true, store.Invalid(field, "%s: %q holds a control character", label, truncate(v, 60))
	}
	switch {
	case strings.HasPrefix(v, MapRefPrefix):
		name := strings.TrimPrefix(v, MapRefPrefix)
		if err := ValidMapName(name); err != nil {
			return "", true, store.Invalid(field, "%s: %q does not name a map: use map:NAME with the name of a map of the Maps page", label, truncate(v, 60))
		}
		return v, true, nil
	case strings.ContainsAny(v, " \t,\n"):
		if err := checkBraces(v); err != nil || !strings.Contains(v, "{") {
			return "", true, store.Invalid(field, "%s: %q holds white space or a comma; give one entry per line", label, truncate(v, 60))
		}
	}
	if strings.HasPrefix(v, "/") {
		if filepath.Clean(v) != v {
			return "", true, store.Invalid(field, "%s: the file %q is not a clean absolute path (write it as %s)", label, truncate(v, 60), filepath.Clean(v))
		}
		return v, true, nil
	}
	if strings.Contains(v, "$") && !tableTypeRe.MatchString(v) {
		return v, true, checkDollars(field, label, v)
	}
	m := tableTypeRe.FindStringSubmatch(v)
	if m == nil {
		return "", false, nil
	}
	if err := checkTableRef(field, label, v, m[1], m[2]); err != nil {
		return "", true, err
	}
	return v, true, nil
}

// checkTableRef checks TYPE:TABLE, recursively for proxy:TYPE:TABLE.
func checkTableRef(field, label, whole, typ, rest string) error {
	if !knownTableTypes[typ] {
		return store.Invalid(field, "%s: %q is neither a valid entry nor a lookup table of a type Postfix knows (%s: is not one; postconf -m lists this Postfix's types)", label, truncate(whole, 60), typ)
	}
	if rest == "" {
		return store.Invalid(field, "%s: %q names no table after %s:", label, truncate(whole, 60), typ)
	}
	if err := checkBraces(rest); err != nil {
		return store.Invalid(field, "%s: %q: %v", label, truncate(whole, 60), err)
	}
	if strings.Contains(rest, "$") {
		if err := checkDollars(field, label, rest); err != nil {
			return err
		}
	}
	switch {
	case typ == "proxy":
		m := tableTypeRe.FindStringSubmatch(rest)
		if m == nil {
			return store.Invalid(field, "%s: %q: proxy: is followed by the table it reaches, such as proxy:pgsql:/etc/postfix/relay.cf", label, truncate(whole, 60))
		}
		return checkTableRef(field, label, whole, m[1], m[2])
	case typ == "unionmap" || typ == "pipemap" || typ == "inline" || typ == "randmap":
		if !strings.HasPrefix(rest, "{") || !strings.HasSuffix(rest, "}") {
			return store.Invalid(field, "%s: %q: a %s table is written %s:{ ... }", label, truncate(whole, 60), typ, typ)
		}
	case fileTableTypes[typ]:
		if !strings.HasPrefix(rest, "/") && !strings.HasPrefix(rest, "$") {
			return store.Invalid(field, "%s: %q: a %s table is an absolute file name, such as %s:/etc/postfix/relay_domains", label, truncate(whole, 60), typ, typ)
		}
	}
	return nil
}

// checkBraces refuses unbalanced { }.
func checkBraces(v string) error {
	depth := 0
	for _, r := range v {
		switch r {
		case '{':
			depth++
		case '}':
			depth--
			if depth < 0 {
				return errUnbalanced
			}
		}
	}
	if depth != 0 {
		return errUnbalanced
	}
	return nil
}

type braceError struct{}

func (braceError) Error() string { return "its braces { } are not balanced" }

var errUnbalanced error = braceError{}

// checkDollars accepts $name, ${name}, $(name) and ${name?text}/${name:text}
// references; any other $ is refused (Postfix would keep it literally or
// complain).
func checkDollars(field, label, v string) error {
	rest := dollarRe.ReplaceAllString(v, "")
	if strings.Contains(rest, "$") {
		return store.Invalid(field, "%s: %q: write a parameter as $name or ${name}", label, truncate(v, 60))
	}
	return nil
}

// SplitList splits a Relay domains or My Networks text into entries, as
// Postfix splits a list: on commas and white space, but never inside a
// table's braces (unionmap:{hash:/a, hash:/b}).
func SplitList(s string) []string {
	var out []string
	for _, tok := range refTokens(strings.NewReplacer("\r", " ", "\n", " ").Replace(s)) {
		if tok = strings.TrimSpace(tok); tok != "" {
			out = append(out, tok)
		}
	}
	return out
}

// renderListEntry writes an entry as main.cf wants it: a postdeck map as
// its file, an IPv6 network bracketed, anything else as it is.
func renderListEntry(entry string, maps []store.Map) string {
	if rest, ok := strings.CutPrefix(entry, "!"); ok {
		return "!" + renderListEntry(rest, maps)
	}
	if name, ok := strings.CutPrefix(entry, MapRefPrefix); ok {
		for _, m := range maps {
			if m.Name == name {
				return m.Type + ":$config_directory/" + MapFile(m.Type, m.Name)
			}
		}
		return entry // Render refused it already (checkSettingsMaps)
	}
	return entry
}

// checkSettingsMaps refuses a map:NAME entry of Relay domains or My
// Networks that names no map: Render would have nothing to write.
func checkSettingsMaps(s store.Settings, maps []store.Map) error {
	have := map[string]bool{}
	for _, m := range maps {
		have[m.Name] = true
	}
	for _, l := range []struct {
		field, label string
		entries      []string
	}{{FieldRelayDomains, "Relay domains", s.RelayDomains}, {FieldMyNetworks, "My Networks", s.MyNetworks}} {
		for _, e := range l.entries {
			if name, ok := strings.CutPrefix(strings.TrimPrefix(e, "!"), MapRefPrefix); ok && !have[name] {
				return store.Invalid(l.field, "%s: there is no map named %s; create it on the Maps page first", l.label, name)
			}
		}
	}
	return nil
}

// refTokens splits a parameter value into list elements at the commas,
// white space and line breaks outside braces: a { } group and what is
// glued to it is part of its element (an inline table, a policy
// service's "{ inet:...:10023, timeout=10s }", "${indexed}access"), so
// that its insides are not taken for references or restrictions.
func refTokens(v string) []string {
	var out []string
	depth, start := 0, -1
	for i, r := range v {
		sep := r == ',' || r == ' ' || r == '\t' || r == '\v' || r == '\f' || r == '\n' || r == '\r'
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

// holdsTables reports whether a parameter's TYPE:/path words are tables
// that must exist: not tls_random_source (dev:/dev/urandom), not a command
// (debugger_command's PATH=/bin:/usr/bin), and not proxy_read_maps or
// proxy_write_maps, which only list what proxymap may open (caches that
// Postfix creates included).
func holdsTables(param string) bool {
	switch param {
	case "tls_random_source", "proxy_read_maps", "proxy_write_maps":
		return false
	}
	return !strings.HasSuffix(param, "_command")
}
