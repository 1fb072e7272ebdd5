package mta

import (
	"net/netip"
	"strconv"
	"strings"
)

// Keys an indexed map never matches.
//
// A hash or btree map compares the lookup string with each key as a
// whole (after Postfix's own partial forms: the domain, @domain, the
// parent domains, an address's pieces). A network (192.168.0.0/16), a
// pattern (/^spam@/) or a wildcard (*@example.com, *.example.com) pasted
// from another product's table is kept as literal text and never
// matches: postmap takes it, Postfix reloads, and the rule the
// administrator meant does nothing (measured: postmap -q finds none of
// them). A new such key is refused on its line with what to write
// instead; a map that holds one already keeps it through later edits.
// The `*` key alone is left alone: transport maps take it as their
// catch-all.

// deadKey says why an indexed map's key never matches, or "".
func deadKey(key string) string {
	switch {
	case strings.Contains(key, "/") && isPrefix(key):
		return "is a network, and a hash or btree map compares whole keys: it never matches an address. Put networks in a map of type cidr (and name that map where this one is named)"
	case strings.HasPrefix(key, "/") && strings.LastIndex(key, "/") > 0:
		return "is a regular expression, which a hash or btree map compares as literal text: it never matches. Put patterns in a map of type regexp or pcre"
	case key != "*" && strings.Contains(key, "*"):
		const none = "is a wildcard, and hash and btree maps have none: the key is compared as literal text and never matches. "
		if rest, ok := strings.CutPrefix(key, "*@"); ok && rest != "" {
			return none + "Write @" + rest + " for every address at " + rest
		}
		if rest, ok := strings.CutPrefix(key, "*."); ok && rest != "" {
			return none + "Write " + rest + " for the domain, and for the names under it " + rest + " in an access map (which takes parent domains) or ." + rest + " in a transport map"
		}
		return none + "Write the domain (example.com) or every address at it (@example.com)"
	}
	return ""
}

// isPrefix reports whether key is an IPv4 or IPv6 network, as in a cidr
// map ([::1]/128 too).
func isPrefix(key string) bool {
	k := strings.Replace(strings.TrimPrefix(key, "["), "]/", "/", 1)
	_, err := netip.ParsePrefix(k)
	return err == nil
}

// newDeadKey is the line of an indexed map's content whose key never
// matches (deadKey), with why, unless stored (the map's stored content)
// has the same key; 0 when there is none. Pattern and cidr maps are not
// judged.
func newDeadKey(typ, content, stored string) (line int, msg string) {
	e, ok := firstNewRule(typ, content, stored, func(e mapEntry) (string, bool) {
		return e.key, deadKey(e.key) != ""
	})
	if !ok {
		return 0, ""
	}
	return e.line, "the key " + strconv.Quote(truncate(e.key, 120)) + " " + deadKey(e.key)
}
