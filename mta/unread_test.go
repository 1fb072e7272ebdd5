package mta

import "testing"

// TestUnreadMaps: a map change counts as unread only when nothing Postfix
// reads names the map, and any doubt counts as read.
func TestUnreadMaps(t *testing.T) {
	const master = "127.0.0.1:2525 inet n - n - - smtpd\n  -o syslog_name=postfix/in\n"
	base := func() Rendered {
		return Rendered{
			"main.cf":                        {Data: []byte("x = 1\n")},
			"master.cf":                      {Data: []byte(master)},
			"maps.d/hash.quiet.map":          {Data: []byte("k v\n")},
			"maps.d/pcre.rewrite.map":        {Data: []byte("/^(.+)@old\\.example$/ $1@new.example\n")},
			"maps.d/hash.transport-maps.map": {Data: []byte("example.com smtp:[relay.example.com]\n")},
		}
	}
	mk := func(r Rendered, changed ...string) plan { return plan{rendered: r, changed: changed} }
	expanded := "smtpd_banner = mx.example ESMTP\ntransport_maps = hash:/etc/postfix/maps.d/hash.transport-maps.map\n"
	services := "127.0.0.1:2525/inet/syslog_name = postfix/in\n"
	for _, tc := range []struct {
		name     string
		p        plan
		expanded string
		services string
		unread   bool
	}{
		{"a map nothing names", mk(base(), "maps.d/hash.quiet.map"), expanded, services, true},
		{"a map main.cf names", mk(base(), "maps.d/hash.transport-maps.map"), expanded, services, false},
		{"main.cf changes too", mk(base(), "main.cf", "maps.d/hash.quiet.map"), expanded, services, false},
		{"named by a master.cf override", mk(base(), "maps.d/hash.quiet.map"), expanded,
			services + "127.0.0.1:2525/inet/smtpd_client_restrictions = check_client_access hash:/etc/postfix/maps.d/hash.quiet.map\n", false},
		{"a $ left in main.cf", mk(base(), "maps.d/hash.quiet.map"), expanded + "x = $undefined\n", services, false},
		{"a $ left in master.cf", mk(base(), "maps.d/hash.quiet.map"), expanded, services + "a/inet/b = $c\n", false},
		{"named by another map", func() plan {
			r := base()
			r["maps.d/hash.access.map"] = File{Data: []byte("example.com check_client_access hash:/etc/postfix/maps.d/hash.quiet.map\n")}
			return mk(r, "maps.d/hash.quiet.map")
		}(), expanded, services, false},
		{"a table named through a $ in a map", func() plan {
			r := base()
			r["maps.d/hash.access.map"] = File{Data: []byte("example.com check_client_access hash:$config_directory/x\n")}
			return mk(r, "maps.d/hash.quiet.map")
		}(), expanded, services, false},
		{"a $1 replacement is no table", mk(base(), "maps.d/pcre.rewrite.map"), expanded, services, true},
		{"a removed map nothing names", plan{rendered: base(), removed: []string{"maps.d/hash.old.map", "maps.d/hash.old.map.db"}}, expanded, services, true},
	} {
		if got := unreadMaps(tc.p, tc.expanded, tc.services); got != tc.unread {
			t.Errorf("%s: unread %v, want %v", tc.name, got, tc.unread)
		}
	}
	for _, tc := range []struct {
		content string
		want    bool
	}{
		{"k v\n", false},
		{"/^(.+)@x$/ $1@y\n", false},
		{"/^(.+)@x$/ smtp:[$1]\n", true}, // errs on the side of naming a table
		{"a check_sender_access hash:/etc/$x\n", true},
		{"a b\nc d:e$\n", true},
		{"$", false},
	} {
		if got := namesTableThroughVar([]byte(tc.content)); got != tc.want {
			t.Errorf("namesTableThroughVar(%q) = %v, want %v", tc.content, got, tc.want)
		}
	}
}
