package mta

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"postdeck/store"
)

// TestMapSavesCheckWhatPostfixReads: a map that main.cf names is checked
// like any configuration change (the open-relay probe refuses content
// that opens the relay, and the save reloads Postfix); a map nothing
// names is built and checked on its own and not reloaded: no Postfix
// process reads it, so the probe and a reload have nothing new to see.
func TestMapSavesCheckWhatPostfixReads(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	maillog := filepath.Join(env.inst.BaseDir, "maillog")
	reloads := func() int { return strings.Count(readFile(maillog), "reload -- version") }
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "relay-ok", Type: "hash", Content: "example.test OK\n"}, ""); err != nil {
		t.Fatal(err)
	}
	// Both restriction lists ask the map before reject_unauth_destination,
	// so that its content decides whether a stranger may relay.
	const ask = "permit_mynetworks,\n    check_recipient_access hash:$config_directory/maps.d/hash.relay-ok.map,\n    reject_unauth_destination"
	doc := strings.Replace(DefaultMainConfig,
		"smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination",
		"smtpd_relay_restrictions = "+ask, 1)
	doc = strings.Replace(doc,
		"smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,",
		"smtpd_recipient_restrictions = "+ask+",", 1)
	if _, err := env.m.SaveMainConfig(ctx, "tester", doc, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}

	// Named by main.cf: the probe runs on the new content.
	before, n := env.liveFiles(t), reloads()
	_, err := env.m.PutMap(ctx, "tester", store.Map{Name: "relay-ok", Type: "hash", Content: "example.test OK\nrelay-test.invalid OK\n"}, "")
	if !errors.Is(err, ErrOpenRelay) {
		t.Fatalf("content that opens the relay through a map main.cf names: %v", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	if reloads() != n {
		t.Fatal("a refused map was reloaded")
	}
	res, err := env.m.PutMap(ctx, "tester", store.Map{Name: "relay-ok", Type: "hash", Content: "example.test OK\nother.test OK\n"}, "")
	if err != nil || !res.Reloaded {
		t.Fatalf("a map main.cf names: %+v %v", res, err)
	}
	if reloads() == n {
		t.Fatal("a map main.cf names was saved without a reload")
	}

	// Named by nothing: built, live, not reloaded; its own checks still
	// refuse bad content.
	n = reloads()
	res, err = env.m.PutMap(ctx, "tester", store.Map{Name: "nobody-reads", Type: "hash", Content: "relay-test.invalid OK\n"}, "")
	if err != nil || !res.Changed || res.Reloaded || !strings.Contains(res.Message, "not reloaded") {
		t.Fatalf("a map nothing names: %+v %v", res, err)
	}
	if got, ok := env.postmapQuery(t, "hash", "nobody-reads", "relay-test.invalid"); !ok || got != "OK" {
		t.Fatalf("the map nothing names is not live: %q %v", got, ok)
	}
	res, err = env.m.PutMap(ctx, "tester", store.Map{Name: "nobody-cidr", Type: "cidr", Content: "10.0.0.0/8 OK\n"}, "")
	if err != nil || res.Reloaded {
		t.Fatalf("a cidr map nothing names: %+v %v", res, err)
	}
	before = env.liveFiles(t)
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "nobody-pcre", Type: "pcre", Content: "/a(b/ OK\n"}, ""); err == nil || !strings.Contains(err.Error(), "Line 1:") {
		t.Fatalf("a bad pcre map nothing names: %v", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	if reloads() != n {
		t.Fatalf("%d reloads for maps nothing names", reloads()-n)
	}
	// Once main.cf names it, a save is checked and reloaded again.
	doc2 := doc + "\nsmtpd_sender_restrictions = check_sender_access hash:${config_directory}/maps.d/hash.nobody-reads.map\n"
	if _, err := env.m.SaveMainConfig(ctx, "tester", doc2, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	n = reloads()
	res, err = env.m.PutMap(ctx, "tester", store.Map{Name: "nobody-reads", Type: "hash", Content: "sender.example.test REJECT\n"}, "")
	if err != nil || !res.Reloaded || reloads() == n {
		t.Fatalf("a map main.cf names now: %+v %v", res, err)
	}
}
