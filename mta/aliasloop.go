package mta

import (
	"strconv"
	"strings"
)

// Virtual alias loops.
//
// An address that virtual_alias_maps rewrites back into itself through
// other addresses (a@x -> b@x, b@x -> a@x; or through a @domain
// catch-all) makes Postfix's cleanup give up: "unreasonable
// virtual_alias_maps map nesting for a@x -- message not accepted, try
// again later", and smtpd answers "451 4.6.0 Alias expansion error" to
// every message for those addresses, from every sender, who retry until
// the mail bounces (measured on make run). An address that expands to
// itself (a@x -> a@x, copy@y) is not a loop: Postfix delivers to it. A
// save of the virtual alias map that makes such a loop is refused on the
// line that closes it.

// aliasLoop returns the line of the first entry of a fixed-key virtual
// alias table that closes a loop, with what it is ("a@x -> b@x -> a@x
// is a loop"), or 0.
func aliasLoop(entries []mapEntry) (int, string) {
	type node struct {
		targets []string
		line    int
	}
	exact := map[string]node{}    // user@domain
	catchAll := map[string]node{} // domain of @domain
	for _, e := range entries {
		k := strings.ToLower(e.key)
		targets := strings.FieldsFunc(strings.ToLower(e.value), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
		switch {
		case strings.HasPrefix(k, "@"):
			catchAll[k[1:]] = node{targets, e.line}
		case strings.Contains(k, "@"):
			exact[k] = node{targets, e.line}
		}
	}
	// expand is what Postfix rewrites addr to: its own entry, else its
	// domain's catch-all; ok is false when nothing rewrites it.
	expand := func(addr string) (node, bool) {
		if n, ok := exact[addr]; ok {
			return n, true
		}
		if i := strings.LastIndexByte(addr, '@'); i >= 0 {
			n, ok := catchAll[addr[i+1:]]
			return n, ok
		}
		return node{}, false
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var path []string
	var lines []int
	var visit func(addr string) (int, string)
	visit = func(addr string) (int, string) {
		n, ok := expand(addr)
		if !ok {
			color[addr] = black
			return 0, ""
		}
		if len(path) >= aliasRecursionLimit {
			return n.line, "the chain of aliases from " + path[0] + " is longer than " + strconv.Itoa(aliasRecursionLimit)
		}
		color[addr] = grey
		path, lines = append(path, addr), append(lines, n.line)
		for _, t := range n.targets {
			if t == addr {
				continue // expands to itself: Postfix delivers to it
			}
			switch color[t] {
			case grey:
				i := len(path) - 1
				for path[i] != t {
					i--
				}
				return lines[len(lines)-1], strings.Join(append(append([]string(nil), path[i:]...), t), " -> ") + " is a loop"
			case white:
				if line, loop := visit(t); line > 0 {
					return line, loop
				}
			}
		}
		path, lines = path[:len(path)-1], lines[:len(lines)-1]
		color[addr] = black
		return 0, ""
	}
	// Every address a key names, and every address a catch-all
	// rewrites to (a loop may run through catch-alls only).
	for _, e := range entries {
		k := strings.ToLower(e.key)
		starts := []string{k}
		if strings.HasPrefix(k, "@") {
			starts = catchAll[k[1:]].targets
		}
		for _, a := range starts {
			if !strings.Contains(a, "@") || strings.HasPrefix(a, "@") || color[a] != white {
				continue
			}
			if line, loop := visit(a); line > 0 {
				return line, loop
			}
		}
	}
	return 0, ""
}

// aliasRecursionLimit is Postfix's virtual_alias_recursion_limit
// (default 1000): a longer chain is refused by cleanup as a loop is.
const aliasRecursionLimit = 1000
