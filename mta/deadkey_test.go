package mta

import (
	"context"
	"testing"

	"postdeck/store"
)

// TestKeysAHashMapNeverMatchesAreRefused: a network, a pattern or a
// wildcard pasted into a hash map from another product's table was
// saved, and Postfix compared it as literal text: measured here with a
// map stored before the check, postmap finds none of the addresses the
// administrator meant, while a plain key beside them works. A new such
// key is refused on its line with what to write instead, the live files
// untouched; keys Postfix does match (@domain, .domain, a partial
// address 10.1.2, a local part with / in it, the * of transport maps)
// are saved, and so is an edit of a map that holds such a key already.
// A cidr map changed to hash keeps no network as known.
func TestKeysAHashMapNeverMatchesAreRefused(t *testing.T) {
	env := newTestEnv(t)
	save := func(content string) func() error { return saveMap(env, MapRecipientAccess, "hash", content) }
	lookup := func(key string) bool {
		t.Helper()
		found, _, err := env.m.LookupMap(context.Background(), MapRecipientAccess, key)
		if err != nil {
			t.Fatal(err)
		}
		return found
	}

	storeMapContent(t, env, MapRecipientAccess, "192.168.0.0/16 REJECT\n/^spam@/ REJECT\n*@spam.example REJECT\n")
	if err := save("192.168.0.0/16 REJECT\n/^spam@/ REJECT\n*@spam.example REJECT\nok.example REJECT\n")(); err != nil {
		t.Fatalf("an edit beside stored keys that never match: %v", err)
	}
	for key, want := range map[string]bool{"192.168.1.1": false, "spam@where.example": false, "x@spam.example": false, "@spam.example": false, "spam.example": false, "ok.example": true} {
		if got := lookup(key); got != want {
			t.Errorf("postmap -q %s: found %v, want %v", key, got, want)
		}
	}

	for _, c := range []struct {
		content string
		says    string
	}{
		{"ok.example OK\n10.0.0.0/8 REJECT\n", `Map check-recipient-access: the key "10.0.0.0/8" is a network, and a hash or btree map compares whole keys: it never matches an address. Put networks in a map of type cidr (and name that map where this one is named)`},
		{"ok.example OK\n[2001:db8::]/32 REJECT\n", `the key "[2001:db8::]/32" is a network`},
		{"ok.example OK\n/\\.exe$/ REJECT\n", `the key "/\\.exe$/" is a regular expression, which a hash or btree map compares as literal text: it never matches. Put patterns in a map of type regexp or pcre`},
		{"ok.example OK\n*@other.example REJECT\n", `the key "*@other.example" is a wildcard, and hash and btree maps have none: the key is compared as literal text and never matches. Write @other.example for every address at other.example`},
		{"ok.example OK\n*.other.example REJECT\n", "Write other.example for the domain, and for the names under it other.example in an access map (which takes parent domains) or .other.example in a transport map"},
		{"ok.example OK\nuser*@other.example REJECT\n", "Write the domain (example.com) or every address at it (@example.com)"},
	} {
		refusedField(t, env, FieldMapContent, 2, c.says, save(c.content))
	}
	if err := save("@other.example REJECT\n.other.example REJECT\n10.1.2 REJECT\nde/pt@other.example OK\n* OK\n")(); err != nil {
		t.Errorf("keys Postfix matches: %v", err)
	}
	if err := saveMap(env, MapTransport, "hash", "* smtp:[127.0.0.1]:2599\n")(); err != nil {
		t.Errorf("a transport map's catch-all: %v", err)
	}

	// A cidr map's networks are new keys once it is a hash map.
	if _, err := env.m.CreateMap(context.Background(), "tester", store.Map{Name: "nets", Type: "cidr", Content: "10.0.0.0/8 OK\n"}); err != nil {
		t.Fatal(err)
	}
	refusedField(t, env, FieldMapContent, 1, `the key "10.0.0.0/8" is a network`, saveMap(env, "nets", "hash", "10.0.0.0/8 OK\n"))
}
