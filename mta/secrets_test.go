package mta

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestSecretMapsOfAState: the maps a state makes secret are those a
// *_sasl_password_maps parameter refers to, in main.cf (directly, through
// proxy:, or through a parameter it uses as $name) or in a master.cf -o
// override, those stored as secret, and smtp-sasl-password_maps; Render
// writes exactly those readable by root only.
func TestSecretMapsOfAState(t *testing.T) {
	st := DefaultState(time.Now())
	for _, name := range []string{"direct", "indirect", "override", "plain", "flagged", "elsewhere"} {
		st.Maps = append(st.Maps, store.Map{Name: name, Type: "hash", Content: "[relay.example.test] user:pw\n", Owner: store.OwnerAdmin, Secret: name == "flagged"})
	}
	st.MainConfig = DefaultMainConfig +
		"lmtp_sasl_password_maps = $lmtp_tables\n" +
		"lmtp_tables = proxy:hash:${config_directory}/maps.d/hash.indirect.map\n" +
		"sender_bcc_maps = hash:$config_directory/maps.d/hash.elsewhere.map\n"
	st.MainConfig = strings.Replace(st.MainConfig, "hash.smtp-sasl-password_maps.map\n", "hash.smtp-sasl-password_maps.map,\n    hash:$config_directory/maps.d/hash.direct.map\n", 1)
	st.MasterConfig = strings.Replace(DefaultMasterConfig(Instance{SMTPListen: ":25"}), "relay     unix  -       -       n       -       -       smtp\n",
		"relay     unix  -       -       n       -       -       smtp\n  -o smtp_sasl_password_maps=hash:$config_directory/maps.d/hash.override.map\n", 1)
	in := Instance{ConfigDir: "/etc/postfix", SMTPListen: ":25"}
	got := SecretMaps(in, st)
	want := map[string]bool{MapSASLPasswords: true, "direct": true, "indirect": true, "override": true, "flagged": true}
	if len(got) != len(want) {
		t.Errorf("secret maps %v, want %v", got, want)
	}
	for name := range want {
		if !got[name] {
			t.Errorf("map %s is not secret (%v)", name, got)
		}
	}
	r, err := Render(in, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, mp := range st.Maps {
		wantMode := os.FileMode(0o644)
		if want[mp.Name] {
			wantMode = 0o600
		}
		if m := r[MapFile(mp.Type, mp.Name)].Mode; m != wantMode {
			t.Errorf("map %s rendered mode %o, want %o", mp.Name, m, wantMode)
		}
	}
	markSecretMaps(in, &st)
	for _, mp := range st.Maps {
		if mp.Secret != (want[mp.Name] && mp.Name != MapSASLPasswords) {
			t.Errorf("map %s: stored Secret %v after markSecretMaps", mp.Name, mp.Secret)
		}
	}
}

// TestLiteralPasswordsAreRefused: an inline:, static: or randmap: table
// in a SASL password parameter (or in a parameter one uses, or inside a
// unionmap:) would write passwords into main.cf or master.cf; it is
// refused on its line, without quoting it. Tables with files are not.
func TestLiteralPasswordsAreRefused(t *testing.T) {
	master := DefaultMasterConfig(Instance{SMTPListen: ":25"})
	relayLine := "relay     unix  -       -       n       -       -       smtp\n"
	withOpt := func(opt string) string {
		return strings.Replace(master, relayLine, relayLine+"  -o "+opt+"\n", 1)
	}
	optLine := strings.Count(master[:strings.Index(master, relayLine)+len(relayLine)], "\n") + 1
	for _, tc := range []struct {
		name, main, master string
		field              string
		line               int
		words              string
	}{
		{"inline", "a = b\nsmtp_sasl_password_maps = inline:{ [relay.example]:587=user:S3cret }\n", master, FieldMainConfig, 2, "Parameter smtp_sasl_password_maps has an inline: table, which would put passwords in main.cf, readable by all; put them in a map on the Maps page (smtp-sasl-password_maps) and refer to it"},
		{"static", "lmtp_sasl_password_maps = static:user:S3cret\n", master, FieldMainConfig, 1, "lmtp_sasl_password_maps has a static: table"},
		{"randmap", "smtp_sasl_password_maps = randmap:{user:S3cret}\n", master, FieldMainConfig, 1, "has a randmap: table"},
		{"inside unionmap", "smtp_sasl_password_maps = unionmap:{hash:/etc/postfix/sasl, inline:{x=user:S3cret}}\n", master, FieldMainConfig, 1, "has an inline: table"},
		{"through proxy", "smtp_sasl_password_maps = proxy:static:user:S3cret\n", master, FieldMainConfig, 1, "has a static: table"},
		{"deep inside unionmaps", "smtp_sasl_password_maps = " + strings.Repeat("unionmap:{", 40) + "inline:{x=user:S3cret}" + strings.Repeat("}", 40) + "\n", master, FieldMainConfig, 1, "has an inline: table"},
		{"through a parameter", "smtp_sasl_password_maps = hash:/etc/postfix/sasl, $relay_pw\n\nrelay_pw =\n  inline:{ x=user:S3cret }\n", master, FieldMainConfig, 3, "Parameter relay_pw has an inline: table that smtp_sasl_password_maps uses"},
		{"master override", "", withOpt("smtp_sasl_password_maps=inline:{x=user:S3cret}"), FieldMasterConfig, optLine, "Service relay: -o smtp_sasl_password_maps has an inline: table, which would put passwords in master.cf"},
		{"master override in braces", "", withOpt("{ lmtp_sasl_password_maps = static:user:S3cret }"), FieldMasterConfig, optLine, "-o lmtp_sasl_password_maps has a static: table"},
		{"master override through main.cf", "relay_pw = inline:{ x=user:S3cret }\n", withOpt("smtp_sasl_password_maps=$relay_pw"), FieldMainConfig, 1, "Parameter relay_pw has an inline: table that smtp_sasl_password_maps uses"},
	} {
		params, err := ParseMainConfig(tc.main)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		err = checkLiteralPasswords(params, parseMasterCF(tc.master))
		var ue *store.UserError
		if !errors.As(err, &ue) || ue.Field != tc.field || ue.Line != tc.line || !strings.Contains(ue.Msg, tc.words) || strings.Contains(ue.Msg, "S3cret") {
			t.Errorf("%s: %v (field %q line %d), want field %s line %d with %q", tc.name, err, fieldOf(err), errLine(err), tc.field, tc.line, tc.words)
		}
		if tc.main == "" {
			// In master.cf alone: the Edit Master Config check refuses
			// it before Postfix reads a scratch copy.
			err := validateMasterDocument(tc.master, Instance{SMTPListen: ":25"}, nil)
			if !errors.As(err, &ue) || ue.Line != tc.line || !strings.Contains(ue.Msg, tc.words) {
				t.Errorf("%s: the master config check says %v", tc.name, err)
			}
		}
	}
	for _, ok := range []string{
		DefaultMainConfig,
		"smtp_sasl_password_maps = hash:$config_directory/maps.d/hash.x.map, texthash:/etc/postfix/sasl_texthash\n",
		"smtp_sasl_password_maps =\nsmtp_generic_maps = inline:{ a=b }\n",
		"header_checks = static:IGNORE\nsmtp_sasl_password_maps = $header_checks_of_none\n",
	} {
		params, err := ParseMainConfig(ok)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkLiteralPasswords(params, parseMasterCF(master)); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}

func fieldOf(err error) string {
	var ue *store.UserError
	if errors.As(err, &ue) {
		return ue.Field
	}
	return ""
}

func errLine(err error) int {
	var ue *store.UserError
	if errors.As(err, &ue) {
		return ue.Line
	}
	return 0
}

// assertModes checks the permission bits of files.
func assertModes(t *testing.T, want os.FileMode, paths ...string) {
	t.Helper()
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", filepath.Base(p), fi.Mode().Perm(), want)
		}
	}
}

// TestSecretMapsFollowTheConfiguration: a map becomes secret when the
// main config names it in smtp_sasl_password_maps, or a master.cf -o
// override does, at that apply: its file and .db become 0600, its
// passwords are masked in what is shown (GetMap and MaskSecrets, lookups,
// the difference of a stale save), its version is no digest of them, and a
// masked password saved back keeps the stored one. It stays secret when
// the reference goes. Passwords written into main.cf or master.cf are
// refused, leaving the live files as they were.
func TestSecretMapsFollowTheConfiguration(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	const name, secret, key = "relay-passwords", "Rel4y-s3cret", "[relay2.example.test]:587"
	content := key + " relayuser2:" + secret + "\n"
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: name, Type: "hash", Content: content}, ""); err != nil {
		t.Fatal(err)
	}
	src := env.inst.MapPath("hash", name)
	// Not referenced yet: an ordinary map.
	assertModes(t, 0o644, src, src+".db")
	mp, err := env.m.GetMap(name)
	if err != nil {
		t.Fatal(err)
	}
	if IsSecretMap(mp) || MaskSecrets(mp).Content != content {
		t.Fatalf("an unreferenced map is secret: %+v", mp)
	}
	v0 := MapVersion(mp)

	sasl := "smtp_sasl_password_maps = hash:$config_directory/maps.d/hash." + MapSASLPasswords + ".map\n"
	doc := strings.Replace(DefaultMainConfig, sasl, strings.TrimSuffix(sasl, "\n")+",\n    hash:$config_directory/maps.d/hash."+name+".map\n", 1)
	if doc == DefaultMainConfig {
		t.Fatal("the default main config has no smtp_sasl_password_maps line to extend")
	}
	if _, err := env.m.SaveMainConfig(ctx, "tester", doc, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	assertModes(t, 0o600, src, src+".db")
	if got := env.postconf(t, "smtp_sasl_password_maps"); !strings.HasSuffix(got, "/maps.d/hash."+name+".map") {
		t.Errorf("smtp_sasl_password_maps = %q", got)
	}
	if got, _ := env.postmapQuery(t, "hash", name, key); got != "relayuser2:"+secret {
		t.Errorf("live value %q", got)
	}
	mp, err = env.m.GetMap(name)
	if err != nil {
		t.Fatal(err)
	}
	masked := MaskSecrets(mp).Content
	if !IsSecretMap(mp) || masked != key+" relayuser2:********\n" {
		t.Fatalf("the referenced map shows as %q", masked)
	}
	if stored, _, err := env.db.GetMap(name); err != nil || !stored.Secret {
		t.Errorf("the stored map is not marked secret: %v", err)
	}
	if _, value, err := env.m.LookupMap(ctx, name, key); err != nil || value != "relayuser2:********" {
		t.Errorf("lookup %q %v", value, err)
	}
	v1 := MapVersion(mp)
	if v1 == v0 || v1 == store.DocVersion([]byte(mp.Type), []byte(mp.Content)) {
		t.Fatal("the secret map's version is a digest of its passwords")
	}

	// Saving the masked content back keeps the password; a new line is added.
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: name, Type: "hash", Content: masked + "[relay3.example.test] u3:pw3-new\n"}, v1); err != nil {
		t.Fatal(err)
	}
	if got, _ := env.postmapQuery(t, "hash", name, key); got != "relayuser2:"+secret {
		t.Errorf("the masked save lost the password: %q", got)
	}
	if got, _ := env.postmapQuery(t, "hash", name, "[relay3.example.test]"); got != "u3:pw3-new" {
		t.Errorf("new line: %q", got)
	}
	assertModes(t, 0o600, src, src+".db")
	// A save based on v1 is stale now; its difference is masked.
	_, err = env.m.PutMap(ctx, "tester", store.Map{Name: name, Type: "hash", Content: masked + "[relay4.example.test] u4:pw4-typed\n"}, v1)
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Field != "version" {
		t.Fatalf("stale save: %v", err)
	}
	if strings.Contains(ue.Diff, secret) || strings.Contains(ue.Diff, "pw3-new") || strings.Contains(ue.Diff, "pw4-typed") || !strings.Contains(ue.Diff, "u3:********") {
		t.Errorf("the stale save's difference shows passwords:\n%s", ue.Diff)
	}
	// A masked password with no stored one, or a line that is no
	// user:password, is refused on its line; nothing changes.
	before := env.liveFiles(t)
	for _, bad := range []string{masked + "[new.example.test] u:********\n", masked + "other.example.test nopassword\n"} {
		_, err = env.m.PutMap(ctx, "tester", store.Map{Name: name, Type: "hash", Content: bad}, "")
		if !errors.As(err, &ue) || ue.Field != FieldMapContent || ue.Line != 2 {
			t.Errorf("%q: %v", bad, err)
		}
	}
	assertSameFiles(t, before, env.liveFiles(t))

	// Without the reference the map stays secret.
	if _, err := env.m.SaveMainConfig(ctx, "tester", DefaultMainConfig, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	assertModes(t, 0o600, src, src+".db")
	if mp, err := env.m.GetMap(name); err != nil || !IsSecretMap(mp) || strings.Contains(MaskSecrets(mp).Content, secret) {
		t.Errorf("the map is no longer secret once unreferenced: %v", err)
	}

	// An -o override of master.cf makes a map secret too.
	const lname, lsecret = "override-passwords", "0verride-s3cret"
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: lname, Type: "hash", Content: "[smart.example.test] ouser:" + lsecret + "\n"}, ""); err != nil {
		t.Fatal(err)
	}
	lsrc := env.inst.MapPath("hash", lname)
	assertModes(t, 0o644, lsrc, lsrc+".db")
	relayLine := "relay     unix  -       -       n       -       -       smtp\n"
	master := strings.Replace(DefaultMasterConfig(env.inst), relayLine, relayLine+"  -o smtp_sasl_password_maps=hash:$config_directory/maps.d/hash."+lname+".map\n", 1)
	if _, err := env.m.SaveMasterConfig(ctx, "tester", master, ""); err != nil {
		t.Fatal(err)
	}
	assertModes(t, 0o600, lsrc, lsrc+".db")
	if mp, err := env.m.GetMap(lname); err != nil || MaskSecrets(mp).Content != "[smart.example.test] ouser:********\n" {
		t.Errorf("the overridden map shows as %q (%v)", MaskSecrets(mp).Content, err)
	}
	if _, value, err := env.m.LookupMap(ctx, lname, "[smart.example.test]"); err != nil || value != "ouser:********" {
		t.Errorf("lookup %q %v", value, err)
	}

	// Passwords in main.cf or master.cf are refused; the live files stay
	// byte-identical.
	before = env.liveFiles(t)
	badMain := DefaultMainConfig + "lmtp_sasl_password_maps = inline:{ [lmtp.example.test]=user:Inl1ne-pw }\n"
	_, err = env.m.SaveMainConfig(ctx, "tester", badMain, "", ApplyOptions{})
	if !errors.As(err, &ue) || ue.Field != FieldMainConfig || ue.Line != strings.Count(DefaultMainConfig, "\n")+1 || !strings.Contains(ue.Msg, "lmtp_sasl_password_maps has an inline: table") || strings.Contains(ue.Msg, "Inl1ne-pw") {
		t.Errorf("inline table in main.cf: %v", err)
	}
	badMaster := strings.Replace(master, "-o smtp_sasl_password_maps=hash:$config_directory/maps.d/hash."+lname+".map", "-o smtp_sasl_password_maps=static:user:St4tic-pw", 1)
	_, err = env.m.SaveMasterConfig(ctx, "tester", badMaster, "")
	if !errors.As(err, &ue) || ue.Field != FieldMasterConfig || ue.Line == 0 || !strings.Contains(ue.Msg, "smtp_sasl_password_maps has a static: table") || strings.Contains(ue.Msg, "St4tic-pw") {
		t.Errorf("static table in master.cf: %v", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	for _, p := range []string{"main.cf", "master.cf"} {
		if b := readFile(filepath.Join(env.inst.ConfigDir, p)); strings.Contains(b, "Inl1ne-pw") || strings.Contains(b, "St4tic-pw") {
			t.Errorf("%s holds a refused password", p)
		}
	}
}

// TestImportTakesEveryPasswordTableAsSecret: an imported main.cf that
// lists two tables in smtp_sasl_password_maps, one readable by root only,
// gets both as maps that hold passwords: marked secret, rendered 0600,
// masked. (A root-only table used to be left unmanaged, and a second
// table to be written readable by all.)
func TestImportTakesEveryPasswordTableAsSecret(t *testing.T) {
	postfixtest.Require(t)
	dir := importDir(t, "testdata/import/outbound-smarthost.cf")
	backup := filepath.Join(dir, "sasl_backup")
	if err := os.WriteFile(backup, []byte("[backup.provider.example]:587 backupuser:B4ckup-pw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	scratch := filepath.Join(postfixtest.Dir(t), "scratch")
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		t.Fatal(err)
	}
	writeBackdated(t, filepath.Join(scratch, "main.cf"), "")
	if out, err := postfixtest.Command(t, "postmap", "-c", scratch, "hash:"+backup); err != nil {
		t.Fatalf("postmap: %v\n%s", err, out)
	}
	main := readFile(filepath.Join(dir, "main.cf"))
	one := "smtp_sasl_password_maps = hash:" + filepath.Join(dir, "sasl_passwd") + "\n"
	if !strings.Contains(main, one) {
		t.Fatalf("main.cf lacks %q", one)
	}
	writeBackdated(t, filepath.Join(dir, "main.cf"), strings.Replace(main, one, strings.TrimSuffix(one, "\n")+", hash:"+backup+"\n", 1))
	res, err := ImportConfig(context.Background(), postfix.Runner{SbinDir: postfixtest.SbinDir}, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range res.Unmanaged {
		if strings.Contains(u.Ref, "sasl") {
			t.Errorf("left unmanaged: %+v", u)
		}
	}
	r, err := Render(Instance{ConfigDir: "/x", SMTPListen: ":25"}, res.State)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, mp := range res.State.Maps {
		if mp.Name != "sasl_passwd" && mp.Name != "sasl_backup" {
			continue
		}
		found++
		if !mp.Secret || r[MapFile(mp.Type, mp.Name)].Mode != 0o600 {
			t.Errorf("map %s: secret %v, rendered mode %o", mp.Name, mp.Secret, r[MapFile(mp.Type, mp.Name)].Mode)
		}
		if masked := MaskSecrets(mp).Content; strings.Contains(masked, "s3cret-password") || strings.Contains(masked, "B4ckup-pw") || !strings.Contains(masked, ":********") {
			t.Errorf("map %s shows as %q", mp.Name, masked)
		}
	}
	if found != 2 {
		t.Errorf("maps %+v: want sasl_passwd and sasl_backup", res.Maps)
	}
}

// TestGetMapAsksTheStoredConfiguration: a state stored without the maps'
// Secret flags (a restore of a backup made before they existed) whose
// main config names a map in smtp_sasl_password_maps, or whose master
// config names one in an -o override, shows that map masked before any
// apply marked it.
func TestGetMapAsksTheStoredConfiguration(t *testing.T) {
	env := newUnstartedEnv(t)
	st := DefaultState(time.Now())
	st.Maps = append(st.Maps,
		store.Map{Name: "legacy", Type: "hash", Content: "[old.example.test] u:Leg4cy-pw\n", Owner: store.OwnerAdmin},
		store.Map{Name: "legacy-lmtp", Type: "btree", Content: "[lmtp.example.test] u:Lmtp-pw\n", Owner: store.OwnerAdmin},
		store.Map{Name: "plain", Type: "hash", Content: "[plain.example.test] u:not-a-secret\n", Owner: store.OwnerAdmin})
	st.MainConfig = DefaultMainConfig + "lmtp_sasl_password_maps = $old_tables\nold_tables = hash:$config_directory/maps.d/hash.legacy.map\n"
	relayLine := "relay     unix  -       -       n       -       -       smtp\n"
	st.MasterConfig = strings.Replace(DefaultMasterConfig(env.inst), relayLine, relayLine+"  -o { smtp_sasl_password_maps = btree:${config_directory}/maps.d/btree.legacy-lmtp.map }\n", 1)
	if err := env.db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"legacy":      "[old.example.test] u:********\n",
		"legacy-lmtp": "[lmtp.example.test] u:********\n",
		"plain":       "[plain.example.test] u:not-a-secret\n",
	} {
		mp, err := env.m.GetMap(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := MaskSecrets(mp).Content; got != want {
			t.Errorf("map %s shows as %q, want %q", name, got, want)
		}
	}
}

// fakeCluster is a Replicator of one node: it keeps the committed state
// and has the node apply each revision, as the cluster package does.
type fakeCluster struct {
	m   *Manager
	mu  sync.Mutex
	st  store.State
	rev int64
}

func (f *fakeCluster) Latest(context.Context) (store.State, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return cloneState(f.st), f.rev, nil
}

func (f *fakeCluster) Commit(_ context.Context, base int64, _, next store.State, _, action string, allowOpenRelay bool) (int64, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if base != f.rev {
		return 0, f.rev, nil
	}
	f.rev++
	f.st = cloneState(next)
	rev := f.rev
	go func() {
		_, _ = f.m.ApplyRevision(context.Background(), rev, action, next, ApplyOptions{AllowOpenRelay: allowOpenRelay})
	}()
	return rev, 0, nil
}

func (f *fakeCluster) WaitRevision(context.Context, int64) error { return nil }

// TestClusterKeepsSecretMapsSecret: on a cluster node a change is
// committed to the cluster and every node applies the committed state;
// the flag that keeps a map secret is committed with the configuration
// that made it so, so the map stays secret (0600, masked) on the nodes
// once the reference is gone.
func TestClusterKeepsSecretMapsSecret(t *testing.T) {
	env := newUnstartedEnv(t)
	fc := &fakeCluster{m: env.m}
	env.m.SetReplicator(fc)
	ctx := context.Background()
	if _, err := env.m.Start(ctx); err != nil {
		t.Fatalf("start: %v\n%s", err, readFile(filepath.Join(env.inst.BaseDir, "maillog")))
	}
	st, err := env.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	fc.st = st
	const name = "cluster-passwords"
	if _, err := env.m.PutMap(ctx, "tester", store.Map{Name: name, Type: "hash", Content: "[c.example.test]:587 cuser:Clust3r-pw\n"}, ""); err != nil {
		t.Fatal(err)
	}
	doc := DefaultMainConfig + "lmtp_sasl_password_maps = hash:$config_directory/maps.d/hash." + name + ".map\n"
	if _, err := env.m.SaveMainConfig(ctx, "tester", doc, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.SaveMainConfig(ctx, "tester", DefaultMainConfig, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	fc.mu.Lock()
	committed := cloneState(fc.st)
	fc.mu.Unlock()
	for _, mp := range committed.Maps {
		if mp.Name == name && !mp.Secret {
			t.Error("the cluster's state lost the map's Secret flag")
		}
	}
	src := env.inst.MapPath("hash", name)
	assertModes(t, 0o600, src, src+".db")
	if mp, err := env.m.GetMap(name); err != nil || MaskSecrets(mp).Content != "[c.example.test]:587 cuser:********\n" {
		t.Errorf("the node shows the map as %q (%v)", MaskSecrets(mp).Content, err)
	}
}

// TestStartTakesStoredInlinePasswordsWithAWarning: a state stored by an
// earlier version with SASL passwords in main.cf still applies at start
// (Postfix runs those files already, and the daemon must run to take the
// fix), with a warning that names the line; the next change must move
// them out.
func TestStartTakesStoredInlinePasswordsWithAWarning(t *testing.T) {
	env := newUnstartedEnv(t)
	st := DefaultState(time.Now())
	st.MainConfig = DefaultMainConfig + "lmtp_sasl_password_maps = inline:{ [lmtp.example.test]=user:0ld-inline-pw }\n"
	if err := env.db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	res, err := env.m.Start(context.Background())
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	line := strings.Count(DefaultMainConfig, "\n") + 1
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "Line "+strconv.Itoa(line)+": Parameter lmtp_sasl_password_maps has an inline: table") || strings.Contains(res.Warnings[0], "0ld-inline-pw") {
		t.Errorf("warnings %q", res.Warnings)
	}
	ctx := context.Background()
	// A change that keeps the stored definition as it is goes through,
	// saying it again; one that alters it is refused.
	res, err = env.m.SaveSettings(ctx, "tester", validSettings(), "", ApplyOptions{})
	if err != nil || len(res.Warnings) == 0 || !strings.Contains(strings.Join(res.Warnings, " "), "inline: table") {
		t.Errorf("a change on top of the stored passwords: %v %q", err, res.Warnings)
	}
	altered := strings.Replace(st.MainConfig, "0ld-inline-pw", "n3w-inline-pw", 1)
	if _, err := env.m.SaveMainConfig(ctx, "tester", altered, "", ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "inline: table") || strings.Contains(err.Error(), "n3w-inline-pw") {
		t.Errorf("an altered password table: %v", err)
	}
	res, err = env.m.SaveMainConfig(ctx, "tester", DefaultMainConfig, "", ApplyOptions{})
	if err != nil {
		t.Fatalf("the fix: %v", err)
	}
	// The diff the audit log keeps masks the password main.cf had.
	if strings.Contains(res.Diff, "0ld-inline-pw") || !strings.Contains(res.Diff, "inline:********") || len(res.Warnings) != 0 {
		t.Errorf("the fix's diff %q, warnings %q", res.Diff, res.Warnings)
	}
	if b := readFile(filepath.Join(env.inst.ConfigDir, "main.cf")); strings.Contains(b, "0ld-inline-pw") {
		t.Error("main.cf still holds the password")
	}
}

// TestMaskLiteralPasswords: in what the console shows of a stored state
// that still has SASL passwords in main.cf or master.cf, each such
// definition's value is TYPE:******** (a continued value loses its
// continuation lines; one reached through $name is masked where it is
// defined), and nothing else changes.
func TestMaskLiteralPasswords(t *testing.T) {
	mainDoc := "myhostname = gw.example.test\n" +
		"smtp_sasl_password_maps = hash:$config_directory/maps.d/hash.smtp-sasl-password_maps.map,\n" +
		"    static:relayuser:St4tic-pw\n" +
		"lmtp_sasl_password_maps = $lmtp_pw\n" +
		"lmtp_pw = proxy:inline:{ [lmtp.example.test]=u:Inl1ne-pw }\n" +
		"relayhost = [relay.example.test]:587\n"
	masterDoc := "smtp      inet  n       -       y       -       -       smtpd\n" +
		"relay     unix  -       -       y       -       -       smtp\n" +
		"  -o smtp_sasl_password_maps={ randmap:{u:R4nd-pw} } -o smtp_tls_security_level=encrypt\n"
	gotMain, gotMaster := MaskLiteralPasswords(mainDoc, masterDoc)
	wantMain := "myhostname = gw.example.test\n" +
		"smtp_sasl_password_maps = static:********\n" +
		"lmtp_sasl_password_maps = $lmtp_pw\n" +
		"lmtp_pw = inline:********\n" +
		"relayhost = [relay.example.test]:587\n"
	wantMaster := "smtp      inet  n       -       y       -       -       smtpd\n" +
		"relay     unix  -       -       y       -       -       smtp\n" +
		"  -o smtp_sasl_password_maps=randmap:******** -o smtp_tls_security_level=encrypt\n"
	if gotMain != wantMain {
		t.Errorf("main config shown as\n%s\nwant\n%s", gotMain, wantMain)
	}
	if gotMaster != wantMaster {
		t.Errorf("master config shown as\n%s\nwant\n%s", gotMaster, wantMaster)
	}
	// A table in braces is found (Postfix takes a list element's inside).
	if err := checkLiteralPasswords(nil, parseMasterCF(masterDoc)); err == nil || !strings.Contains(err.Error(), "Line 3: Service relay: -o smtp_sasl_password_maps has a randmap: table") {
		t.Errorf("the braced table: %v", err)
	}
	// Without such a table both come back as they are.
	plainMaster := "smtp      inet  n       -       y       -       -       smtpd\n"
	if m, s := MaskLiteralPasswords(DefaultMainConfig, plainMaster); m != DefaultMainConfig || s != plainMaster {
		t.Errorf("unchanged documents changed:\n%s\n%s", m, s)
	}
	// Saved back, the masked line is refused as the original was, on its line.
	params, err := ParseMainConfig(gotMain)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkLiteralPasswords(params, parseMasterCF(gotMaster)); err == nil || !strings.Contains(err.Error(), "Line 2: Parameter smtp_sasl_password_maps has a static: table") {
		t.Errorf("the masked document saved back: %v", err)
	}
}
