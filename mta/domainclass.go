package mta

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"postdeck/store"
)

// Relay domains that another address class also lists.
//
// Postfix's trivial-rewrite gives each recipient domain one address
// class, and looks in mydestination (local), virtual_alias_domains and
// virtual_mailbox_domains before relay_domains: a relay domain that one
// of them also lists is not relayed. Measured on 3.7 with relay_domains =
// partner.example and the line "partner.example anything" in
// virtual_alias_maps (virtual(5)'s way to declare a virtual alias domain,
// which virtual_alias_domains takes by default): every recipient there
// that the table does not list, from My Networks too, got "550 5.1.1
// User unknown in virtual alias table", and trivial-rewrite logged "do
// not list domain partner.example in BOTH virtual_alias_domains and
// relay_domains". In mydestination (on a system instance, by default
// $myhostname: My Host Name set to the bare domain) it is "User unknown
// in local recipient table", and a user of this machine gets the mail
// here instead of the relay host. Such a change is refused on the map's
// line, the main config's line, or the settings field that made it.

// domainClasses are the parameters of the address classes trivial-rewrite
// asks before relay_domains, in its order, with what becomes of a relay
// domain's mail there.
var domainClasses = []struct{ param, what string }{
	{"mydestination", "delivers its mail on this machine: smtpd answers every recipient who is not a user here \"550 5.1.1 User unknown in local recipient table\", and a user's mail stays on this machine instead of going to the relay host"},
	{"virtual_alias_domains", "takes it for a virtual alias domain: smtpd answers every recipient there that virtual_alias_maps does not list \"550 5.1.1 User unknown in virtual alias table\""},
	{"virtual_mailbox_domains", "delivers its mail to virtual mailboxes on this machine: smtpd answers every recipient there that virtual_mailbox_maps does not list \"550 5.1.1 User unknown in virtual mailbox table\""},
}

// classConflict is a relay domain that an address class lists: in the
// class parameter's value, or in a table (path) of it at line.
type classConflict struct {
	domain, param, what string
	table               string // the table's path, when a table lists it
	line                int
}

// maxClassTables bounds the tables read for the address classes.
const maxClassTables = 16

// domainClassConflicts returns the relay domains (the plain names of
// relay_domains, lower case) that mydestination, virtual_alias_domains
// or virtual_mailbox_domains also list, from main.cf's explicit expanded
// parameters (postconf -n -x) and Postfix's defaults for the ones not
// set: mydestination = $myhostname, localhost.$mydomain, localhost;
// virtual_alias_domains = $virtual_alias_maps; virtual_mailbox_domains =
// $virtual_mailbox_maps. Entries that are names and the keys of
// fixed-key tables are read; pattern tables and files are not judged.
//
// local is set when relay_domains names $mydestination (Postfix's default
// before compatibility level 2, iRedMail's): those names are local on
// purpose, and the mydestination class is not judged.
func domainClassConflicts(main map[string]string, local bool, table func(path string) ([]byte, bool)) []classConflict {
	relay := relayDomainNamesOf(main["relay_domains"])
	if len(relay) == 0 {
		return nil
	}
	value := func(param string) string {
		if v, ok := main[param]; ok {
			return v
		}
		switch param {
		case "mydestination":
			host := main["myhostname"]
			domain, ok := main["mydomain"]
			if !ok {
				_, domain, _ = strings.Cut(host, ".")
			}
			return host + ", localhost." + domain + ", localhost"
		case "virtual_alias_domains":
			return main["virtual_alias_maps"]
		}
		return main["virtual_mailbox_maps"]
	}
	var out []classConflict
	tables := 0
	for _, class := range domainClasses {
		if local && class.param == "mydestination" {
			continue
		}
		for _, tok := range refTokens(value(class.param)) {
			typ, path, isTable := strings.Cut(tok, ":")
			if !isTable {
				if d := strings.ToLower(strings.TrimSuffix(tok, ".")); slices.Contains(relay, d) {
					out = append(out, classConflict{domain: d, param: class.param, what: class.what})
				}
				continue
			}
			if !fixedKeyTables[typ] || !strings.HasPrefix(path, "/") || tables >= maxClassTables {
				continue
			}
			tables++
			entries, _ := readTableEntries(table, typ, path)
			for _, e := range entries {
				if d := strings.ToLower(e.key); slices.Contains(relay, d) {
					out = append(out, classConflict{domain: d, param: class.param, what: class.what, table: path, line: e.line})
				}
			}
		}
	}
	return out
}

// checkDomainClasses refuses a staged configuration with a
// domainClassConflicts conflict the running configuration does not have:
// on the map's line when only maps change; on the class parameter's line
// when the main config sets it; on the relay domains field when the
// domain is new there; on My Host Name for Postfix's default
// mydestination; else on the main config.
func (m *Manager) checkDomainClasses(ctx context.Context, p plan, staging string, sc stagedConfig, params []Param) error {
	conflicts := domainClassConflicts(sc.main, relaysMydestination(string(p.rendered["main.cf"].Data)), m.stagedTable(p, staging))
	if len(conflicts) == 0 {
		return nil
	}
	live, liveDomains := map[string]bool{}, map[string]bool{}
	if lv, ok := m.liveExpanded(ctx); ok {
		running, _ := os.ReadFile(filepath.Join(m.inst.ConfigDir, "main.cf"))
		for _, c := range domainClassConflicts(lv, relaysMydestination(string(running)), readBounded) {
			live[c.domain+" "+c.param] = true
		}
		for _, d := range relayDomainNamesOf(lv["relay_domains"]) {
			liveDomains[d] = true
		}
	}
	for _, c := range conflicts {
		if live[c.domain+" "+c.param] {
			continue
		}
		return classConflictError(c, p, staging, params, liveDomains[c.domain])
	}
	return nil
}

// classConflictError words a conflict and puts it where the change made
// it (checkDomainClasses); staging is the staged configuration directory
// whose paths a table's path may start with.
func classConflictError(c classConflict, p plan, staging string, params []Param, wasRelay bool) error {
	where := c.param
	if c.table != "" {
		where = c.param + " (the table " + strings.Replace(c.table, staging+"/", "", 1) + ", line " + fmt.Sprint(c.line) + ")"
	}
	msg := fmt.Sprintf("the relay domain %s is also in %s: Postfix takes the other class first, and %s. Postfix's log says \"do not list domain %s in BOTH %s and relay_domains\"", c.domain, where, c.what, c.domain, c.param)
	if c.param == "virtual_alias_domains" && c.table != "" {
		msg += ". In virtual_alias_maps, a key without @ declares a virtual alias domain: write the addresses (user@" + c.domain + ") or @" + c.domain + " for every address there"
	}
	if !slices.Contains(p.changed, "main.cf") {
		if rel, ok := strings.CutPrefix(c.table, staging+"/"); ok && slices.Contains(p.changed, rel) {
			if base := strings.TrimPrefix(rel, "maps.d/"); managedMapFile(base) {
				return store.InvalidLine(FieldMapContent, c.line, "map %s: after this change %s", tableName(base), msg)
			}
		}
		return store.Invalid(FieldMapContent, "after this change %s", msg)
	}
	switch {
	case slices.ContainsFunc(params, func(q Param) bool { return q.Name == c.param }):
		return refError(params, c.param, "Parameter "+c.param+": "+msg)
	case !wasRelay:
		return refError(params, "relay_domains", "Relay domain "+c.domain+": "+msg)
	case c.param == "mydestination":
		return store.Invalid(FieldHostname, "My Host Name: Postfix's default mydestination has $myhostname, and %s. Use a host under the domain, such as mail.%s", msg, c.domain)
	}
	return refError(params, c.param, "Parameter "+c.param+": "+msg)
}

// relaysMydestination reports whether the relay_domains line of a
// rendered main.cf names $mydestination.
func relaysMydestination(mainCF string) bool {
	v, _ := renderedValue(mainCF, "relay_domains")
	return strings.Contains(v, "$mydestination") || strings.Contains(v, "${mydestination}") || strings.Contains(v, "$(mydestination)")
}
