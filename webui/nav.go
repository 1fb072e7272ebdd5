package webui

import "strings"

// navEntry is one item of the console menu. The menu follows the product
// documentation: MTA > Settings, Queues (MTA, MPA, Repository), Maps, Send
// Mail, and the appliance's own Dashboard and Audit log.
type navEntry struct {
	Label    string
	Path     string // "" for a group heading
	Perm     perm   // hidden from roles it does not allow
	Roles    []string
	Children []navEntry
	Current  bool // set per request by navFor
}

// consoleNav is the whole menu. A new page adds its route in routes.go and,
// when it is a new menu entry, a line here; the entries of pages that are
// not built yet already exist and point at "not available yet" pages.
var consoleNav = []navEntry{
	{Label: "Dashboard", Path: "/", Perm: permRead},
	{Label: "MTA", Children: []navEntry{
		{Label: "Settings", Path: "/mta/settings", Perm: permRead},
		{Label: "Maps", Path: "/mta/maps", Perm: permRead},
		{Label: "SPF sources", Path: "/mta/spf", Perm: permRead},
		{Label: "Postfix log", Path: "/mta/log", Perm: permRead},
	}},
	{Label: "Queues", Children: []navEntry{
		{Label: "MTA", Path: "/queues/mta", Perm: permRead},
		{Label: "MPA", Path: "/queues/mpa", Perm: permRead},
		{Label: "MPA Rules", Path: "/queues/mpa/rules", Perm: permRead},
		{Label: "Repository", Path: "/queues/repository", Perm: permRead},
	}},
	{Label: "Send Mail", Path: "/sendmail", Perm: permOperate},
	{Label: "Audit log", Path: "/audit", Perm: permRead, Roles: auditRoles},
	{Label: "Cluster", Path: "/cluster", Perm: permRead},
	{Label: "Users and tokens", Path: "/users", Perm: permAdmin},
}

// navFor is the menu a role sees, with the entry of path marked current
// (the longest matching prefix, so /mta/settings/mainconfig marks
// Settings).
func navFor(role, path string) []navEntry {
	best := currentNavPath(path)
	var filter func([]navEntry) []navEntry
	filter = func(es []navEntry) []navEntry {
		var out []navEntry
		for _, e := range es {
			if e.Path != "" && !entryAllows(e, role) {
				continue
			}
			e.Children = filter(e.Children)
			if e.Path == "" && len(e.Children) == 0 {
				continue
			}
			e.Current = e.Path != "" && e.Path == best
			out = append(out, e)
		}
		return out
	}
	return filter(consoleNav)
}

// currentNavPath is the path of the menu entry that path falls under: the
// longest matching prefix, "" for none.
func currentNavPath(path string) string { return longestNavMatch(consoleNav, path, "") }

func longestNavMatch(es []navEntry, path, best string) string {
	for _, e := range es {
		if e.Path != "" && matchesPath(path, e.Path) && len(e.Path) > len(best) {
			best = e.Path
		}
		best = longestNavMatch(e.Children, path, best)
	}
	return best
}

func entryAllows(e navEntry, role string) bool {
	if !e.Perm.Allows(role) {
		return false
	}
	if len(e.Roles) == 0 {
		return true
	}
	for _, r := range e.Roles {
		if r == role {
			return true
		}
	}
	return false
}

func matchesPath(path, prefix string) bool {
	if prefix == "/" {
		return path == "/"
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}
