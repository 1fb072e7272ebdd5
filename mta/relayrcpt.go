package mta

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"postdeck/store"
)

// Relay recipient tables that know no address of a relay domain.
//
// relay_recipient_maps lists the valid recipients of the relay domains:
// smtpd answers a recipient of a relay domain that it does not list
// "550 5.1.1 User unknown in relay recipient table" (unless
// virtual_alias_maps or a canonical table knows the address), a
// permanent error, to every client, My Networks included. A table that
// has no address at all at one of the relay domains (the wrong map
// named, a domain added on the settings page but not to the table, the
// table's last address there deleted) passes postconf, postfix check,
// the reload and the serve check, and every sender to that domain gets
// a bounce. Such a configuration is refused, unless the running one has
// the same gap.

// fixedKeyTables are the table types whose keys are whole addresses or
// domains (no patterns): what they know can be read from the source.
var fixedKeyTables = map[string]bool{"hash": true, "btree": true, "lmdb": true, "cdb": true, "dbm": true, "sdbm": true, "texthash": true}

// relayRecipientGaps returns the relay domains (lower case) that
// relay_recipient_maps and the tables smtpd also asks (virtual_alias_maps,
// canonical_maps, recipient_canonical_maps) know no address of, from
// main.cf's expanded parameters; table reads a table's source by path.
// It returns nothing when it cannot tell: a table of another kind (a
// pattern table, a database) might know any address.
func relayRecipientGaps(main map[string]string, table func(path string) ([]byte, bool)) []string {
	if strings.TrimSpace(main["relay_recipient_maps"]) == "" || strings.EqualFold(strings.TrimSpace(main["smtpd_reject_unlisted_recipient"]), "no") {
		return nil
	}
	known := map[string]bool{}
	for _, param := range []string{"relay_recipient_maps", "virtual_alias_maps", "canonical_maps", "recipient_canonical_maps"} {
		for _, tok := range refTokens(main[param]) {
			typ, path, ok := strings.Cut(tok, ":")
			if !ok || !fixedKeyTables[typ] || !strings.HasPrefix(path, "/") {
				return nil
			}
			entries, ok := readTableEntries(table, typ, path)
			if !ok {
				return nil
			}
			for _, e := range entries {
				if i := strings.LastIndexByte(e.key, '@'); i >= 0 {
					known[strings.ToLower(e.key[i+1:])] = true
				}
			}
		}
	}
	var gaps []string
	for _, d := range relayDomainNamesOf(main["relay_domains"]) {
		if !known[d] {
			gaps = append(gaps, d)
		}
	}
	return gaps
}

// relayDomainNamesOf are the names of a relay_domains value (expanded),
// lower case, without a trailing dot and each once: not a table, a file,
// an exclusion or a .subdomains entry, which are not judged.
func relayDomainNamesOf(value string) []string {
	var out []string
	for _, tok := range refTokens(value) {
		d := strings.ToLower(strings.TrimSuffix(tok, "."))
		if d != "" && !strings.ContainsAny(d, ":/$!{}") && !strings.HasPrefix(d, ".") && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// readTableEntries reads the rules of the table file at path with read;
// ok is false when it cannot be read or does not parse (the table's own
// checks say). Problems never quote a line (secret), since only the
// rules are used.
func readTableEntries(read func(path string) ([]byte, bool), typ, path string) (entries []mapEntry, ok bool) {
	data, ok := read(path)
	if !ok {
		return nil, false
	}
	entries, lerr := parseTable(typ, string(data), true)
	return entries, lerr == nil
}

// checkRelayRecipients refuses a staged configuration with a
// relayRecipientGaps domain the running configuration does not have: on
// the relay domains field when the domain is new, on the map when only
// maps change, else on relay_recipient_maps in the main config.
func (m *Manager) checkRelayRecipients(ctx context.Context, p plan, staging string, sc stagedConfig, params []Param) error {
	gaps := relayRecipientGaps(sc.main, m.stagedTable(p, staging))
	if len(gaps) == 0 {
		return nil
	}
	live, liveDomains := map[string]bool{}, map[string]bool{}
	if lv, ok := m.liveExpanded(ctx); ok {
		for _, d := range relayRecipientGaps(lv, readBounded) {
			live[d] = true
		}
		for _, d := range relayDomainNamesOf(lv["relay_domains"]) {
			liveDomains[d] = true
		}
	}
	for _, d := range gaps {
		if live[d] {
			continue
		}
		msg := fmt.Sprintf("relay_recipient_maps (with virtual_alias_maps) has no address at the relay domain %s: Postfix's smtpd would answer every recipient there \"550 5.1.1 User unknown in relay recipient table\", and senders would bounce their mail. Add the domain's addresses to the table, or @%s to take every address there", d, d)
		switch {
		case !slices.Contains(p.changed, "main.cf"):
			for _, rel := range p.changed {
				if base := strings.TrimPrefix(rel, "maps.d/"); managedMapFile(base) && strings.HasSuffix(base, ".map") {
					return store.Invalid(FieldMapContent, "map %s: after this change %s", tableName(base), msg)
				}
			}
			return store.Invalid(FieldMapContent, "after this change %s", msg)
		case !liveDomains[d]:
			return refError(params, "relay_domains", "Relay domain "+d+": "+msg)
		default:
			return refError(params, "relay_recipient_maps", "Parameter relay_recipient_maps: "+msg)
		}
	}
	return nil
}

// stagedTable reads a table's source by the path the staged expanded
// configuration names: the staged file of a rendered map, else the file
// on disk (bounded).
func (m *Manager) stagedTable(p plan, staging string) func(path string) ([]byte, bool) {
	return func(path string) ([]byte, bool) {
		if rel, ok := strings.CutPrefix(path, staging+"/"); ok {
			if f, ok := p.rendered[rel]; ok {
				return f.Data, true
			}
			path = filepath.Join(m.inst.ConfigDir, rel)
		}
		return readBounded(path)
	}
}
