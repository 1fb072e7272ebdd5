package mta

import (
	"context"
	"testing"
	"time"

	"postdeck/store"
)

// TestLookupKeyWithTab: postmap -q - prints "key TAB value", and the
// lookup took the value after the first TAB, so a key with a TAB inside
// (which a pcre or regexp rule may match) showed part of the key as the
// value ("b\tREJECT spam" for the key "a\tb"). The value is what follows
// the key.
func TestLookupKeyWithTab(t *testing.T) {
	env := newTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "tab-pcre", Type: "pcre", Content: "/^a/ REJECT spam\n"}, ""); err != nil {
		t.Fatal(err)
	}
	found, value, err := env.m.LookupMap(ctx, "tab-pcre", "a\tb")
	if err != nil || !found || value != "REJECT spam" {
		t.Errorf("lookup of %q: %v %q %v, want REJECT spam", "a\tb", found, value, err)
	}
}
