package mta

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// postmapQuery asks Postfix directly (not through LookupMap) what the live
// file answers.
func (e *testEnv) postmapQuery(t *testing.T, typ, name, key string) (string, bool) {
	t.Helper()
	out, stderr, err := e.m.Postfix().Run(context.Background(), nil, "postmap", "-q", key, typ+":"+e.inst.MapPath(typ, name))
	if hasProblem(stderr) {
		t.Fatalf("postmap -q %s %s:%s: %s", key, typ, name, stderr)
	}
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(out)), true
}

// TestMaps runs the map operations against one Manager with a private
// Postfix.
func TestMaps(t *testing.T) {
	env := newTestEnv(t)
	for _, part := range []struct {
		name string
		run  func(*testing.T, *testEnv)
	}{
		{"MapOfEveryTypeIsLive", testMapOfEveryTypeIsLive},
		{"PostfixParserErrorsAreRefusedWithTheirLine", testPostfixParserErrorsAreRefusedWithTheirLine},
		{"TransportMapRoutesMail", testTransportMapRoutesMail},
		{"SASLMapIsPrivateAndMasked", testSASLMapIsPrivateAndMasked},
		{"ReferencedMapCannotBeDeletedOrRetyped", testReferencedMapCannotBeDeletedOrRetyped},
		{"RefresherMapsAreTheRefreshersOnly", testRefresherMapsAreTheRefreshersOnly},
	} {
		t.Run(part.name, func(t *testing.T) { part.run(t, env) })
	}
}

func testMapOfEveryTypeIsLive(t *testing.T, env *testEnv) {
	ctx := context.Background()
	cases := []struct {
		typ, content, key, want string
	}{
		{"hash", "a.example.test one\nb.example.test two\n", "B.example.test", "two"},
		{"btree", "k1 v1\nk2 v2\n", "k2", "v2"},
		{"cidr", "10.0.0.0/8 REJECT ten\n192.0.2.0/24 OK\n", "10.9.8.7", "REJECT ten"},
		{"pcre", "/^(.+)@old\\.example$/ $1@new.example\n", "joe@old.example", "joe@new.example"},
		{"regexp", "/^x-([a-z]+)$/ found-$1\n", "x-abc", "found-abc"},
	}
	for _, tc := range cases {
		res, err := env.m.PutMap(ctx, "tester", store.Map{Name: "live-" + tc.typ, Type: tc.typ, Content: tc.content}, "")
		if err != nil {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		if !res.Changed {
			t.Errorf("%s: result %+v", tc.typ, res)
		}
		if got, ok := env.postmapQuery(t, tc.typ, "live-"+tc.typ, tc.key); !ok || got != tc.want {
			t.Errorf("%s: postmap -q %s = %q %v, want %q", tc.typ, tc.key, got, ok, tc.want)
		}
		found, value, err := env.m.LookupMap(ctx, "live-"+tc.typ, tc.key)
		if err != nil || !found || value != tc.want {
			t.Errorf("%s: LookupMap = %v %q %v", tc.typ, found, value, err)
		}
		found, _, err = env.m.LookupMap(ctx, "live-"+tc.typ, "-no-such-key")
		if err != nil || found {
			t.Errorf("%s: LookupMap of a missing key = %v %v", tc.typ, found, err)
		}
	}
	// An update of an existing map is live too.
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "live-hash", Type: "hash", Content: "a.example.test changed\n"}, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := env.postmapQuery(t, "hash", "live-hash", "a.example.test"); got != "changed" {
		t.Errorf("after update: %q", got)
	}
	if _, ok := env.postmapQuery(t, "hash", "live-hash", "b.example.test"); ok {
		t.Error("a removed key is still answered")
	}
	infos, err := env.m.ListMaps()
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, in := range infos {
		listed[in.Name] = in.Type
	}
	for _, tc := range cases {
		if listed["live-"+tc.typ] != tc.typ {
			t.Errorf("map live-%s not listed: %v", tc.typ, listed)
		}
	}
}

func testPostfixParserErrorsAreRefusedWithTheirLine(t *testing.T, env *testEnv) {
	ctx := context.Background()
	before := env.liveFiles(t)
	n := 0
	for _, tc := range badMapCases {
		if !postfixOnly(tc.content) {
			continue
		}
		n++
		_, err := env.m.PutMap(ctx, "tester", store.Map{Name: tc.name, Type: tc.typ, Content: tc.content}, "")
		var fe *store.UserError
		if !errors.As(err, &fe) || fe.Line != tc.line {
			t.Errorf("%s %q: err %v, want line %d", tc.typ, tc.content, err, tc.line)
			continue
		}
		if strings.Contains(fe.Msg, stagingName) {
			t.Errorf("message shows the staging path: %s", fe.Msg)
		}
		t.Logf("%s", fe.Msg)
		assertSameFiles(t, before, env.liveFiles(t))
	}
	if n < 5 {
		t.Fatalf("only %d Postfix-only cases", n)
	}
}

func testTransportMapRoutesMail(t *testing.T, env *testEnv) {
	ctx := context.Background()
	sink := postfixtest.NewSink(t, 0)
	content := "routed.example.test smtp:[127.0.0.1]:" + strconv.Itoa(sink.Port) + "\n"
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: MapTransport, Type: "hash", Content: content}, ""); err != nil {
		t.Fatal(err)
	}
	found, value, err := env.m.LookupMap(ctx, MapTransport, "routed.example.test")
	if err != nil || !found || value != strings.TrimSpace(content[len("routed.example.test "):]) {
		t.Fatalf("lookup: %v %q %v", found, value, err)
	}
	sendPlain(t, env.smtp, "a@example.org", "user@routed.example.test", "Subject: routed\r\n\r\nhi\r\n")
	msgs := sink.Wait(t, 1, 20*time.Second)
	if len(msgs[0].To) != 1 || msgs[0].To[0] != "user@routed.example.test" {
		t.Errorf("sink got %+v", msgs[0].To)
	}
}

func testSASLMapIsPrivateAndMasked(t *testing.T, env *testEnv) {
	ctx := context.Background()
	content := "[smtp.example.test]:587 relayuser:s3cret-pass\n"
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: MapSASLPasswords, Type: "hash", Content: content}, ""); err != nil {
		t.Fatal(err)
	}
	src := env.inst.MapPath("hash", MapSASLPasswords)
	for _, p := range []string{src, src + ".db"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", filepath.Base(p), fi.Mode().Perm())
		}
	}
	if got, _ := env.postmapQuery(t, "hash", MapSASLPasswords, "[smtp.example.test]:587"); got != "relayuser:s3cret-pass" {
		t.Errorf("live value %q", got)
	}
	_, value, err := env.m.LookupMap(ctx, MapSASLPasswords, "[smtp.example.test]:587")
	if err != nil || value != "relayuser:********" {
		t.Errorf("lookup %q %v", value, err)
	}
	// Saving the masked content back keeps the password; adding a line works.
	mp, err := env.m.GetMap(MapSASLPasswords)
	if err != nil {
		t.Fatal(err)
	}
	masked := MaskSecrets(mp).Content
	if strings.Contains(masked, "s3cret") {
		t.Fatalf("masked content shows the password: %q", masked)
	}
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: MapSASLPasswords, Type: "hash", Content: masked + "[other.example.test] u2:pw2\n"}, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := env.postmapQuery(t, "hash", MapSASLPasswords, "[smtp.example.test]:587"); got != "relayuser:s3cret-pass" {
		t.Errorf("kept password: %q", got)
	}
	if got, _ := env.postmapQuery(t, "hash", MapSASLPasswords, "[other.example.test]"); got != "u2:pw2" {
		t.Errorf("new line: %q", got)
	}
	if got := env.postconf(t, "smtp_sasl_password_maps"); !strings.HasSuffix(got, "/maps.d/hash."+MapSASLPasswords+".map") {
		t.Errorf("smtp_sasl_password_maps = %q", got)
	}
	// The version every role sees is no digest of the passwords, and a
	// change of a password alone still makes an older version stale.
	mp, err = env.m.GetMap(MapSASLPasswords)
	if err != nil {
		t.Fatal(err)
	}
	v1 := MapVersion(mp)
	if v1 == store.DocVersion([]byte(mp.Type), []byte(mp.Content)) {
		t.Fatal("the SASL map's version is a digest of its passwords")
	}
	changed := strings.Replace(mp.Content, "s3cret-pass", "n3w-pass", 1)
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: MapSASLPasswords, Type: "hash", Content: changed}, v1); err != nil {
		t.Fatal(err)
	}
	if got, _ := env.postmapQuery(t, "hash", MapSASLPasswords, "[smtp.example.test]:587"); got != "relayuser:n3w-pass" {
		t.Errorf("changed password: %q", got)
	}
	_, err = env.m.PutMap(ctx, "tester", store.Map{Name: MapSASLPasswords, Type: "hash", Content: masked}, v1)
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Field != "version" || ue.Version == "" {
		t.Fatalf("a save based on the version before a password change: %v, want stale", err)
	}
}

func testReferencedMapCannotBeDeletedOrRetyped(t *testing.T, env *testEnv) {
	ctx := context.Background()
	before := env.liveFiles(t)
	_, err := env.m.DeleteMap(ctx, "tester", MapTLSPolicy, "")
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "smtp_tls_policy_maps") {
		t.Fatalf("delete: %v", err)
	}
	_, err = env.m.PutMap(ctx, "tester", store.Map{Name: MapTransport, Type: "pcre", Content: "/x/ smtp:\n"}, "")
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "transport_maps") {
		t.Fatalf("retype: %v", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	// An unreferenced map can be retyped and deleted.
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "spare", Type: "hash", Content: "a b\n"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: "spare", Type: "btree", Content: "a b\n"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(env.inst.MapPath("hash", "spare") + ".db"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old hash file stays after retype: %v", err)
	}
	// Referenced from the main config by its absolute path.
	doc := DefaultMainConfig + "sender_bcc_maps = btree:" + env.inst.MapPath("btree", "spare") + "\n"
	if _, err := env.m.SaveMainConfig(ctx, "tester", doc, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.DeleteMap(ctx, "tester", "spare", ""); !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "sender_bcc_maps") {
		t.Fatalf("delete referenced by path: %v", err)
	}
	if _, err := env.m.SaveMainConfig(ctx, "tester", DefaultMainConfig, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.DeleteMap(ctx, "tester", "spare", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(env.inst.MapPath("btree", "spare")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("deleted map's file: %v", err)
	}
	if _, err := env.m.GetMap("spare"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get deleted: %v", err)
	}
}

func testRefresherMapsAreTheRefreshersOnly(t *testing.T, env *testEnv) {
	ctx := context.Background()
	if _, err := env.m.PutRefresherMap(ctx, "scheduler", store.Map{Name: "gmail.com", Type: "cidr", Content: "192.0.2.0/24 permit\n", Owner: store.OwnerRefresher}); err != nil {
		t.Fatal(err)
	}
	mp, err := env.m.GetMap("gmail.com")
	if err != nil || mp.Owner != store.OwnerRefresher {
		t.Fatalf("%+v %v", mp, err)
	}
	_, err = env.m.PutMap(ctx, "admin (web)", store.Map{Name: "gmail.com", Type: "cidr", Content: "198.51.100.0/24 permit\n"}, "")
	if !errors.Is(err, store.ErrForbidden) || !strings.Contains(err.Error(), "SPF refresher") {
		t.Fatalf("admin edit: %v", err)
	}
	if _, err := env.m.DeleteMap(ctx, "admin (web)", "gmail.com", ""); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("admin delete: %v", err)
	}
	if _, err := env.m.PutRefresherMap(ctx, "spf-refresher", store.Map{Name: "gmail.com", Type: "cidr", Content: "198.51.100.0/24 permit\n", Owner: store.OwnerRefresher}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.PutRefresherMap(ctx, "scheduler", store.Map{Name: MapTransport, Type: "hash", Content: "a smtp:\n", Owner: store.OwnerRefresher}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("refresher overwrote an admin map: %v", err)
	}
	if found, v, err := env.m.LookupMap(ctx, "gmail.com", "198.51.100.7"); err != nil || !found || v != "permit" {
		t.Fatalf("lookup %v %q %v", found, v, err)
	}
}
