package mta

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"postdeck/store"
)

// Certificate verification without a trust anchor.
//
// The verify and secure TLS levels of Postfix's smtp client (in main.cf,
// in an smtp service's -o overrides or in a line of the TLS policy map)
// accept a server only when its certificate chains to a trust anchor:
// smtp_tls_CAfile, smtp_tls_CApath or smtp_tls_trust_anchor_file (or a
// policy line's own tafile=), or OpenSSL's defaults with
// tls_append_default_CA = yes. With none of them Postfix trusts no
// certificate at all: every delivery there is deferred ("Server
// certificate not trusted") until it bounces after the queue lifetime,
// while postconf, postfix check, the reload and the serve check, which
// sends nothing out, see nothing wrong. The guide's own step (a TLS
// policy line "example.com verify") did this on the shipped main config
// until it named the system's CA bundle (DefaultMainConfig). Such a
// configuration is refused unless the running one asks for the same
// verification already.

// trustAnchorParams are the smtp client's own trust anchors.
var trustAnchorParams = []string{"smtp_tls_CAfile", "smtp_tls_CApath", "smtp_tls_trust_anchor_file"}

// maxPolicyTableBytes bounds a TLS policy table read from outside
// postdeck's maps (the maps are bounded by their own checks).
const maxPolicyTableBytes = 16 << 20

// trustProblems returns the places of a configuration that ask the smtp
// client to verify certificates it has no trust anchor for. main holds
// main.cf's parameters as postconf -n -x prints them (every $name
// expanded); lines are where the document (params) and masterDoc set
// them. table reads a policy table's source by the path the expanded
// configuration names, ok false when it cannot be read.
func trustProblems(main map[string]string, params []Param, services []masterService, masterDoc string, table func(path string) ([]byte, bool)) []tlsProblem {
	lineOf := func(name string) int {
		for _, p := range params {
			if p.Name == name {
				return p.Line
			}
		}
		return 0
	}
	var out []tlsProblem
	seen := map[string]bool{}
	add := func(p tlsProblem) {
		if !seen[p.key] {
			seen[p.key] = true
			out = append(out, p)
		}
	}
	const anchors = "smtp_tls_CAfile, smtp_tls_CApath or smtp_tls_trust_anchor_file"
	for _, svc := range services {
		if svc.Command() != "smtp" {
			continue // lmtp and the other clients have parameters of their own
		}
		value := serviceValue(svc, main)
		anchored := strings.EqualFold(strings.TrimSpace(main["tls_append_default_CA"]), "yes")
		for _, n := range trustAnchorParams {
			v, _ := value(n)
			anchored = anchored || v != ""
		}
		if anchored {
			continue
		}
		level, own := value("smtp_tls_security_level")
		name := "smtp_tls_security_level"
		if level == "" {
			// The older parameters: smtp_enforce_tls = yes requires TLS
			// and, with smtp_tls_enforce_peername (default yes), a
			// verified certificate.
			enforce, enforceOwn := value("smtp_enforce_tls")
			peer, _ := value("smtp_tls_enforce_peername")
			if strings.EqualFold(enforce, "yes") && !strings.EqualFold(peer, "no") {
				level, own, name = "verify", enforceOwn, "smtp_enforce_tls"
			}
		}
		if l := strings.ToLower(level); l == "verify" || l == "secure" {
			what := level
			if name == "smtp_enforce_tls" {
				what = "yes (with smtp_tls_enforce_peername = yes)"
			}
			why := fmt.Sprintf("%s asks Postfix's smtp client to verify every server's certificate, and it has no trust anchor to verify one with (%s): every delivery would be deferred (\"Server certificate not verified\") and bounce after the queue lifetime. Name the system's CA bundle, for example smtp_tls_CAfile = %s, or use may or encrypt", what, anchors, defaultCABundle())
			p := tlsProblem{key: "main:" + name, field: FieldMainConfig, line: lineOf(name), msg: "Parameter " + name + ": " + why}
			if own {
				p = tlsProblem{key: "service:" + svc.Key() + ":" + name, field: FieldMasterConfig, line: docOptLine(masterDoc, svc.Key(), name),
					msg: "Service " + svc.Name + ", -o " + name + ": " + why}
			}
			add(p)
		}
		maps, _ := value("smtp_tls_policy_maps")
		if strings.Contains(maps, "$") {
			continue // not expanded (a service's own override): not judged
		}
		for _, tok := range refTokens(maps) {
			typ, path, ok := strings.Cut(tok, ":")
			if !ok || !strings.HasPrefix(path, "/") || !textTable(typ) {
				continue // a table postdeck cannot read (proxy:, mysql:, socketmap:)
			}
			entries, _ := readTableEntries(table, typ, path)
			for _, e := range entries {
				f := strings.Fields(e.value)
				if len(f) == 0 {
					continue
				}
				if l := strings.ToLower(f[0]); l != "verify" && l != "secure" {
					continue
				}
				if hasAttr(f[1:], "tafile") {
					continue
				}
				add(tlsProblem{key: "map:" + filepath.Base(path) + ":" + e.key + ":" + strings.ToLower(f[0]), line: e.line, field: filepath.Base(path),
					msg: fmt.Sprintf("%s %s asks Postfix's smtp client to verify the certificate of %s, and it has no trust anchor to verify one with (%s in main.cf, or tafile= on the line): every delivery there would be deferred (\"Server certificate not verified\"). Name the system's CA bundle in the main config, for example smtp_tls_CAfile = %s, or add tafile=", e.key, f[0], e.key, anchors, defaultCABundle())})
			}
		}
	}
	return out
}

// textTable reports whether a table type's source file holds the lookup
// lines (the indexed ones are built from it by postmap).
func textTable(typ string) bool { return fixedKeyTables[typ] || typ == "regexp" || typ == "pcre" }

// hasAttr reports whether the attributes of a TLS policy (name=value)
// set name.
func hasAttr(attrs []string, name string) bool {
	for _, a := range attrs {
		if n, v, ok := strings.Cut(a, "="); ok && strings.EqualFold(n, name) && v != "" {
			return true
		}
	}
	return false
}

// liveExpanded is the running main.cf's parameters as postconf -n -x
// prints them (every $name expanded), for the checks that leave alone
// what the running configuration has already; ok is false when postconf
// cannot read it (a first start).
func (m *Manager) liveExpanded(ctx context.Context) (map[string]string, bool) {
	out, _, err := m.pf.Run(ctx, nil, "postconf", "-n", "-x")
	if err != nil {
		return nil, false
	}
	return expandedValues(string(out)), true
}

// expandedValues reads postconf -n -x output into name -> value; a
// parameter set empty ("mydestination =", as postconf prints it) is
// there with "".
func expandedValues(expanded string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(expanded, "\n") {
		if name, value, ok := strings.Cut(line, " = "); ok {
			out[name] = value
		} else if name, ok := strings.CutSuffix(line, " ="); ok && name != "" {
			out[name] = ""
		}
	}
	return out
}

// readBounded reads at most maxPolicyTableBytes of path; ok is false
// when it cannot be read or is larger.
func readBounded(path string) (data []byte, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, maxPolicyTableBytes+1))
	if err != nil || len(data) > maxPolicyTableBytes {
		return nil, false
	}
	return data, true
}

// checkTLSTrust refuses a staged configuration with trustProblems, unless
// the running configuration has the same problem already. A problem in a
// TLS policy table is told on the map's line when the change saves that
// map, and on the main config otherwise (a change that takes the trust
// anchor away).
func (m *Manager) checkTLSTrust(ctx context.Context, p plan, staging string, sc stagedConfig, params []Param, masterDoc string) error {
	if !sc.master {
		return nil // no master.cf yet: the start's checks say
	}
	problems := trustProblems(sc.main, params, sc.services, masterDoc, m.stagedTable(p, staging))
	if len(problems) == 0 {
		return nil
	}
	live := map[string]bool{}
	if lp, lservices, ok := m.liveConfig(); ok {
		if lv, ok := m.liveExpanded(ctx); ok {
			for _, lpb := range trustProblems(lv, lp, lservices, "", readBounded) {
				live[lpb.key] = true
			}
		}
	}
	for _, pb := range problems {
		if live[pb.key] {
			continue
		}
		switch {
		case pb.field == FieldMainConfig || pb.field == FieldMasterConfig:
			return store.InvalidLine(pb.field, pb.line, "%s", pb.msg)
		case !slices.Contains(p.changed, "main.cf") && slices.Contains(p.changed, "maps.d/"+pb.field):
			return store.InvalidLine(FieldMapContent, pb.line, "map %s: %s", tableName(pb.field), pb.msg)
		default:
			return store.Invalid(FieldMainConfig, "The TLS policy map %s, line %d: %s", tableName(pb.field), pb.line, pb.msg)
		}
	}
	return nil
}

// tableName is the map name of a postdeck map file's base name
// (hash.tls-policy.map: tls-policy), else the base name itself.
func tableName(base string) string {
	if _, name, ok := strings.Cut(strings.TrimSuffix(base, ".map"), "."); ok && strings.HasSuffix(base, ".map") {
		return name
	}
	return base
}
