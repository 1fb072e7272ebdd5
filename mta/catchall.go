package mta

import (
	"slices"
	"strconv"
	"strings"
)

// A transport map's catch-all that stops all mail.
//
// The key * of a transport table matches every domain no other key
// names: outgoing mail, and the relay domains' mail too, since
// transport_maps come before relay_transport and default_transport.
// `* discard:` (pasted from a test gateway, or typed to silence one
// destination) has Postfix's discard service take every such message:
// logged as delivered, and nobody told. `* error:` bounces them all, and
// `* retry:` defers them until they bounce. The main config's
// default_transport says the same for outgoing mail and asks first
// (transportRisk); in a map it is refused, naming both ways to say what
// is meant. A map that holds the line already keeps it through later
// edits (a configuration that runs so does not block other changes).

// catchAllStop says what a catch-all's value does to the mail when its
// transport is one of Postfix's discard or error services (retry is
// error(8) under that name), or "" for a transport that delivers.
func catchAllStop(mc *mapContext, value string) string {
	tr, _, _ := strings.Cut(strings.TrimSpace(value), ":")
	if tr == "" {
		return ""
	}
	switch cmd := mc.transports[tr]; {
	case cmd == "discard":
		return "thrown away by Postfix's discard service: logged as delivered, and nobody is told"
	case cmd == "error" && tr == "retry":
		return "deferred by Postfix's retry service until it bounces"
	case cmd == "error":
		return "bounced by Postfix's error service"
	}
	return ""
}

// firstNewRule is the first rule of an indexed table's content that
// stops picks, naming it by an id, unless a rule of stored (the map's
// stored content) that stops picks has the same id: a configuration that
// runs with the rule does not block later edits. ok is false when there
// is none, and for a pattern table or content that does not parse (the
// syntax check says).
func firstNewRule(typ, content, stored string, stops func(mapEntry) (id string, ok bool)) (mapEntry, bool) {
	if !indexedMap[typ] {
		return mapEntry{}, false
	}
	entries, lerr := parseTable(typ, content, false)
	if lerr != nil {
		return mapEntry{}, false
	}
	var had map[string]bool
	for _, e := range entries {
		id, ok := stops(e)
		if !ok {
			continue
		}
		if had == nil {
			had = map[string]bool{}
			if old, lerr := parseTable(typ, stored, false); lerr == nil {
				for _, o := range old {
					if id, ok := stops(o); ok {
						had[id] = true
					}
				}
			}
		}
		if !had[id] {
			return e, true
		}
	}
	return mapEntry{}, false
}

// newCatchAllStop is the line of a transport map's content whose * key
// stops all mail (catchAllStop), with why, unless stored (the map's
// stored content) has the same rule; 0 when there is none. Only the
// indexed types have a * key; a pattern table's patterns are not judged.
func newCatchAllStop(mc *mapContext, typ, content, stored string) (line int, msg string) {
	e, ok := firstNewRule(typ, content, stored, func(e mapEntry) (string, bool) {
		return strings.TrimSpace(e.value), e.key == "*" && catchAllStop(mc, e.value) != ""
	})
	if !ok {
		return 0, ""
	}
	return e.line, "the line " + strconv.Quote(truncate("* "+e.value, 120)) + " takes every message whose domain no other line names, all outgoing mail and the relay domains' mail too, and each would be " + catchAllStop(mc, e.value) + ". Name the domains whose mail is meant instead; for a gateway that sends nothing out, set default_transport in the main config (which asks first)"
}

// newRelayDomainTransportDiscard is the line of a transport map's content
// that sends a relay domain's mail to the discard service without a
// reason (partner.example discard:), as a bare DISCARD in
// check-recipient-access does (relaydiscard.go): every message to the
// domain thrown away, logged as delivered. Refused unless stored has the
// same rule; "discard:reason" is the administrator's, and the mail log
// shows the reason for each message. relayDomains are the relay domains'
// names (relayDomainNamesOf). 0 when there is none.
func newRelayDomainTransportDiscard(mc *mapContext, typ, content, stored string, relayDomains []string) (line int, msg string) {
	e, ok := firstNewRule(typ, content, stored, func(e mapEntry) (string, bool) {
		d := strings.ToLower(strings.TrimSuffix(e.key, "."))
		tr, hop, _ := strings.Cut(strings.TrimSpace(e.value), ":")
		return d, tr != "" && mc.transports[tr] == "discard" && strings.TrimSpace(hop) == "" && slices.Contains(relayDomains, d)
	})
	if !ok {
		return 0, ""
	}
	return e.line, "the line " + strconv.Quote(truncate(e.key+" "+e.value, 120)) + " throws away every message to the relay domain " + strings.ToLower(strings.TrimSuffix(e.key, ".")) + " (Postfix's discard service logs each as delivered, and nobody is told). To stop taking the domain's mail, remove it from Relay domains (senders then hear \"Relay access denied\"); to throw it away on purpose, write discard: followed by your reason, which the mail log shows for each message"
}
