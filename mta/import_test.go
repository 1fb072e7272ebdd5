package mta

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// importCorpus lists the realistic main.cf files of testdata/import.
func importCorpus(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/import/*.cf")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("the import corpus has %d files; at least 8 are expected", len(files))
	}
	return files
}

// quirkCorpus lists the main.cf and master.cf quirks of testdata/quirks:
// one file each, main.cf first, then (after masterMarker) its own master.cf.
func quirkCorpus(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/quirks/*.cf")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("the quirk corpus has %d files; at least 30 are expected", len(files))
	}
	return files
}

// masterMarker separates a corpus file's main.cf from its master.cf.
const masterMarker = "\n#### master.cf\n"

// importDir makes a Postfix config directory from a corpus file: main.cf
// with /etc/postfix replaced by the directory, the map sources of
// testdata/import/maps, and the indexed files postmap builds from them.
func importDir(t *testing.T, cf string) string {
	t.Helper()
	dir := filepath.Join(postfixtest.Dir(t), "orig")
	src := "testdata/import/maps"
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if d.Name() == "sasl_passwd" || strings.HasSuffix(d.Name(), ".key") {
			mode = 0o600
		}
		return os.WriteFile(filepath.Join(dir, rel), b, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(cf)
	if err != nil {
		t.Fatal(err)
	}
	// /etc/mailname (Debian's myorigin) may not exist here: the fixture has
	// its own, and its own TLS certificates and keys (the apply checks that
	// they exist and that keys are private).
	text := strings.ReplaceAll(strings.ReplaceAll(string(raw), "/etc/postfix", dir), "/etc/mailname", filepath.Join(dir, "mailname"))
	text = strings.ReplaceAll(text, "/etc/ssl/", filepath.Join(dir, "ssl")+"/")
	// Debian's master.cf, unless the file brings its own after the
	// marker: per-service parameters (smtp_...) count as used only for
	// services master.cf lists.
	master := "smtp      inet  n       -       y       -       -       smtpd\n" + postfix.DebianServices
	if main, own, ok := strings.Cut(text, masterMarker); ok {
		text, master = main, strings.ReplaceAll(own, "@debian-services", postfix.DebianServices)
	}
	writeBackdated(t, filepath.Join(dir, "main.cf"), text)
	if err := os.WriteFile(filepath.Join(dir, "mailname"), []byte("example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeBackdated(t, filepath.Join(dir, "master.cf"), master)
	scratch := filepath.Join(postfixtest.Dir(t), "scratch")
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		t.Fatal(err)
	}
	writeBackdated(t, filepath.Join(scratch, "main.cf"), "")
	indexed := func(rel string) string {
		base := filepath.Base(rel)
		switch {
		case strings.HasPrefix(rel, "maps.d/"):
			if typ, _, _ := strings.Cut(base, "."); indexedMap[typ] {
				return typ
			}
			return ""
		case strings.Contains(base, "."):
			return ""
		}
		return "hash"
	}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, path)
		if err != nil || d.IsDir() || rel == "main.cf" || rel == "master.cf" || rel == "mailname" {
			return err
		}
		if typ := indexed(filepath.ToSlash(rel)); typ != "" {
			if out, err := postfixtest.Command(t, "postmap", "-c", scratch, typ+":"+path); err != nil {
				t.Fatalf("postmap %s: %v\n%s", path, err, out)
			}
		}
		return nil
	})
	return dir
}

func writeBackdated(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-backdate)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

// postconfNX is `postconf -c dir -n -x`.
func postconfNX(t *testing.T, dir string) map[string]string {
	t.Helper()
	out, _, err := postfix.Runner{SbinDir: postfixtest.SbinDir, ConfigDir: dir}.Run(context.Background(), nil, "postconf", "-n", "-x")
	if err != nil {
		t.Fatalf("postconf -n -x in %s: %v", dir, err)
	}
	return parsePostconf(string(out))
}

// importCase is one configuration of the hand-written corpora.
type importCase struct {
	name string
	file string // testdata/import/NAME.cf or testdata/quirks/NAME.cf
}

// importCases lists the hand-written configurations: realistic main.cf
// files (testdata/import) and the quirks of main.cf and master.cf syntax
// (testdata/quirks).
func importCases(t *testing.T) []importCase {
	t.Helper()
	var out []importCase
	for _, cf := range importCorpus(t) {
		out = append(out, importCase{strings.TrimSuffix(filepath.Base(cf), ".cf"), cf})
	}
	for _, cf := range quirkCorpus(t) {
		// Named by number only: a private instance's unix sockets live
		// under the test's directory, and a socket path is at most 108
		// bytes long.
		num, _, _ := strings.Cut(filepath.Base(cf), "-")
		out = append(out, importCase{"q" + num, cf})
	}
	return out
}

// TestImportCorpusRoundTrip imports every hand-written configuration for
// a system instance with the MPA wired and checks, as `postdeck import
// --check` does, that nothing differs but the MPA's wiring and the managed
// map paths; that no table of a type postdeck manages under the
// configuration directory is left outside maps.d unless the result says
// why; that every map holds its source's bytes; and that comments survive.
func TestImportCorpusRoundTrip(t *testing.T) {
	postfixtest.Require(t)
	ctx := context.Background()
	for _, c := range importCases(t) {
		t.Run(c.name, func(t *testing.T) {
			dir := importDir(t, c.file)
			res, ok := importOrRefusal(t, c.name, dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: corpusInstance()})
			if !ok {
				return
			}
			rep, err := CheckImport(ctx, postfixtest.SbinDir, dir, res)
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			for _, d := range rep.Changed() {
				t.Errorf("%s %s: original %q, result %q", d.File, d.Name, d.Original, d.Result)
			}
			out := filepath.Join(postfixtest.Dir(t), "out")
			r := renderTo(t, res, out)
			left := map[string]bool{}
			for _, u := range res.Unmanaged {
				left[u.Ref] = true
			}
			for name, v := range postconfNX(t, out) {
				for _, m := range tableRefRe.FindAllStringSubmatch(v, -1) {
					if slices.Contains(MapTypes, m[1]) && !keepRefs(name) && strings.HasPrefix(m[2], dir+"/") && !strings.HasPrefix(m[2], filepath.Join(out, "maps.d")+"/") {
						if !left[m[1]+":"+m[2]] && !leftUnder(res.Unmanaged, m[1], m[2], dir) {
							t.Errorf("%s still refers to %s:%s and the result does not say why", name, m[1], m[2])
						}
					}
				}
			}
			for _, m := range res.Maps {
				src, err := os.ReadFile(m.Source)
				if err != nil {
					t.Fatal(err)
				}
				if got := string(r[MapFile(m.Type, m.Name)].Data); got != string(src) && got != string(src)+"\n" {
					t.Errorf("map %s: content %q, source %q", m.Name, got, src)
				}
			}
			orig, _ := os.ReadFile(filepath.Join(dir, "main.cf"))
			for _, line := range strings.Split(string(orig), "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "#") && !strings.Contains(res.State.MainConfig, line) && !strings.Contains(res.State.Installation, line) {
					t.Errorf("comment %q was lost", line)
				}
			}
			if t.Failed() {
				var b strings.Builder
				rep.Format(&b)
				t.Logf("document:\n%s\nmaster:\n%s\nsettings: %+v\nnotes: %q\n%s", res.State.MainConfig, res.State.MasterConfig, res.State.Settings, res.Notes, b.String())
			}
		})
	}
}

// leftUnder reports whether a reference, written with $config_directory or
// another parameter in the original, is one the result left as it is.
func leftUnder(left []UnmanagedTable, typ, path, dir string) bool {
	for _, u := range left {
		if strings.HasPrefix(u.Ref, typ+":") && strings.HasSuffix(path, filepath.Base(strings.TrimPrefix(u.Ref, typ+":"))) {
			return true
		}
	}
	return false
}

// renderTo writes the rendered files of res for a system (not private)
// instance whose config directory is out.
func renderTo(t *testing.T, res *ImportResult, out string) Rendered {
	t.Helper()
	inst := res.Instance
	inst.ConfigDir, inst.Private = out, false
	r, err := Render(inst, res.State)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	for rel, f := range r {
		p := filepath.Join(out, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
			t.Fatal(err)
		}
	}
	writeBackdated(t, filepath.Join(out, "main.cf"), string(r["main.cf"].Data))
	return r
}

func TestImportSpecifics(t *testing.T) {
	postfixtest.Require(t)
	ctx := context.Background()
	pf := postfix.Runner{SbinDir: postfixtest.SbinDir}

	dir := importDir(t, "testdata/import/relay-gateway.cf")
	res, err := ImportConfig(ctx, pf, dir)
	if err != nil {
		t.Fatal(err)
	}
	s := res.State.Settings
	if s.Hostname != "mx1.gw.example.org" || s.InternalRelayHost != "[exchange.corp.example.org]:25" ||
		!s.RejectUnverifiedRecipient || s.UnverifiedRecipientRejectCode != 550 ||
		strings.Join(s.RelayDomains, ",") != "example.org,example.net" ||
		strings.Join(s.MyNetworks, ",") != "127.0.0.0/8,10.20.0.0/16,2001:db8:20::/48" || s.MessageSizeLimit != 52428800 {
		t.Errorf("settings: %+v", s)
	}
	names := map[string]string{}
	for _, m := range res.State.Maps {
		names[m.Name] = m.Type
	}
	for name, typ := range map[string]string{"relay_recipients": "hash", MapTransport: "hash", "client_access": "cidr", MapRecipientAccess: "hash", "header_checks": "pcre", MapVirtualAlias: "hash"} {
		if names[name] != typ {
			t.Errorf("map %s: type %q, want %q (maps %v)", name, names[name], typ, names)
		}
	}
	doc := res.State.MainConfig
	for _, want := range []string{
		"relay_recipient_maps = hash:$config_directory/maps.d/hash.relay_recipients.map",
		"    check_client_access cidr:$config_directory/maps.d/cidr.client_access.map,\n",
		"    # per-recipient exceptions\n    check_recipient_access hash:$config_directory/maps.d/hash.check-recipient-access.map\n",
		"# myhostname: imported into MTA Settings by postdeck",
		"address_verify_map = btree:$data_directory/verify_cache",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("document lacks %q:\n%s", want, doc)
		}
	}
	if hasToken(doc, restrictionVerify) {
		t.Errorf("document still has %s:\n%s", restrictionVerify, doc)
	}

	// The SASL password map stays private.
	res, err = ImportConfig(ctx, pf, importDir(t, "testdata/import/outbound-smarthost.cf"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(Instance{ConfigDir: "/x", SMTPListen: ":25"}, res.State)
	if err != nil {
		t.Fatal(err)
	}
	if f := r[MapFile("hash", MapSASLPasswords)]; f.Mode != 0o600 || !strings.Contains(string(f.Data), "relayuser:") {
		t.Errorf("sasl map: mode %o content %q", f.Mode, f.Data)
	}

	// A hash source edited after postmap is not what Postfix uses: the
	// table stays a reference to its file, and the result says why.
	dir = importDir(t, "testdata/import/relay-gateway.cf")
	if err := os.WriteFile(filepath.Join(dir, "transport"), []byte("example.org discard:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantLeft := func(dir, ref, reason string) {
		t.Helper()
		res, err := ImportConfig(ctx, pf, dir)
		if err != nil {
			t.Fatalf("import: %v", err)
		}
		for _, u := range res.Unmanaged {
			if u.Ref == ref && strings.Contains(u.Reason, reason) {
				if !strings.Contains(res.State.MainConfig, ref) {
					t.Errorf("%s left as is, but the document no longer has it:\n%s", ref, res.State.MainConfig)
				}
				return
			}
		}
		t.Errorf("%s is not left as is with %q: %+v", ref, reason, res.Unmanaged)
	}
	wantLeft(dir, "hash:"+dir+"/transport", "differs from")
	if err := os.Remove(filepath.Join(dir, "transport.db")); err != nil {
		t.Fatal(err)
	}
	wantLeft(dir, "hash:"+dir+"/transport", ".db is missing")
	// A source postdeck cannot take stays a reference too: readable by
	// root only, over a map's 16 MiB (not read: a sparse file says its
	// size), gone.
	cidr := filepath.Join(dir, "client_access.cidr")
	if err := os.Chmod(cidr, 0o600); err != nil {
		t.Fatal(err)
	}
	wantLeft(dir, "cidr:"+cidr, "it is readable by root only (mode 600)")
	if err := os.Chmod(cidr, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(cidr, maxMapBytes+1); err != nil {
		t.Fatal(err)
	}
	wantLeft(dir, "cidr:"+cidr, fmt.Sprintf("it is %d bytes; a map holds at most %d", maxMapBytes+1, maxMapBytes))
	if err := os.Remove(cidr); err != nil {
		t.Fatal(err)
	}
	wantLeft(dir, "cidr:"+cidr, "its source file does not exist")

	// A content filter of its own stays in front of the MPA (or behind it),
	// and the MPA's ports move away from the filter's.
	dir = importDir(t, "testdata/import/content-filter.cf")
	inst := Instance{ConfigDir: dir, SMTPListen: ":25", MPAListen: "127.0.0.1:10024", ReinjectListen: "127.0.0.1:10026"}
	res, err = ImportForInstance(ctx, inst, postfixtest.SbinDir, dir)
	if err != nil {
		t.Fatalf("content filter with the MPA on: %v", err)
	}
	if w := res.State.Wiring; w.Filter != "amavis:[127.0.0.1]:10024" || w.Order != ChainAfter || w.MPAListen == "127.0.0.1:10024" || res.Instance.MPAListen != w.MPAListen {
		t.Errorf("wiring: %+v, instance %+v", w, res.Instance)
	}
	if !strings.Contains(res.Chain, "content_filter amavis:[127.0.0.1]:10024 (kept from the import)") {
		t.Errorf("chain: %s", res.Chain)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "master.cf has no listener for the mail it returns") {
		t.Errorf("no note about the filter's missing return listener: %q", res.Notes)
	}
	if _, err := ImportWith(ctx, dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: inst, FixedMPAListen: true}); !errors.Is(err, ErrImport) || !strings.Contains(err.Error(), "--mpa-listen 127.0.0.1:10024 collides") {
		t.Errorf("a fixed MPA address the filter uses: %v", err)
	}
	inst.MPAListen = ""
	if res, err := ImportForInstance(ctx, inst, postfixtest.SbinDir, dir); err != nil || !strings.Contains(res.State.MainConfig, "content_filter = amavis") {
		t.Errorf("content filter with the MPA off: %v", err)
	}
}

// TestImportRefuses: what the MTA Settings page cannot hold is refused,
// naming the parameter.
func TestImportRefuses(t *testing.T) {
	postfixtest.Require(t)
	files, err := filepath.Glob("testdata/import/bad/*.cf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad corpus: %v", err)
	}
	for _, cf := range files {
		t.Run(strings.TrimSuffix(filepath.Base(cf), ".cf"), func(t *testing.T) {
			text, err := os.ReadFile(cf)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(text), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("%s: the first line must be \"# want: text of the error\"", cf)
			}
			_, err = ImportConfig(context.Background(), postfix.Runner{SbinDir: postfixtest.SbinDir}, importDir(t, cf))
			if err == nil || !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want one containing %q", err, want)
			}
		})
	}
}

// privateBlock is what renderMain's private-instance block sets, written
// out here so that the comparison lists every difference it explains.
func privateBlock(in Instance) map[string]string {
	return map[string]string{
		"queue_directory":       filepath.Join(in.BaseDir, "spool"),
		"data_directory":        filepath.Join(in.BaseDir, "data"),
		"syslog_name":           "postfix-postdeck",
		"maillog_file":          filepath.Join(in.BaseDir, "maillog"),
		"maillog_file_prefixes": in.BaseDir,
		"inet_interfaces":       "loopback-only",
		"inet_protocols":        "ipv4",
		"mydestination":         "",
		"alias_maps":            "",
		"alias_database":        "",
		"local_transport":       "error:local delivery disabled",
	}
}

// refusedImports are hand-written configurations an import refuses on
// purpose, with the sentence expected: multi-instance's primary instance
// sets master_service_disable = inet, which would switch off the smtpd
// listener postdeck receives mail on.
var refusedImports = map[string]string{
	"multi-instance": "Parameter master_service_disable switches off the smtpd listener",
}

// importOrRefusal imports a case; for a case of refusedImports it checks
// the refusal and reports false.
func importOrRefusal(t *testing.T, name, dir string, opts ImportOptions) (*ImportResult, bool) {
	t.Helper()
	res, err := ImportWith(context.Background(), dir, opts)
	if want := refusedImports[name]; want != "" {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("import: want a refusal with %q, got %v", want, err)
		}
		return nil, false
	}
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return res, true
}

// TestImportAppliesToPrivatePostfix applies every imported hand-written
// configuration through the Manager to a private Postfix, with the MPA
// wired: Postfix starts, answers SMTP, and its postconf -n is the
// original's but for the allowed differences.
func TestImportAppliesToPrivatePostfix(t *testing.T) {
	postfixtest.Require(t)
	for _, c := range importCases(t) {
		t.Run(c.name, func(t *testing.T) {
			dir := importDir(t, c.file)
			inst := corpusInstance()
			inst.MPAListen = "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
			inst.ReinjectListen = "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
			res, ok := importOrRefusal(t, c.name, dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: inst})
			if !ok {
				return
			}
			run := applyPrivately(t, res, dir, dir)
			answersSMTP(t, run.smtp, filepath.Join(run.inst.BaseDir, "maillog"))
			compareLive(t, dir, res, run)
		})
	}
}

// FuzzRefTokens checks the splitting of parameter values into list
// elements: no element is empty, and outside inline tables no element holds
// a separator.
func FuzzRefTokens(f *testing.F) {
	for _, s := range []string{"hash:/a, pcre:/b", "check_sender_access inline:{ a=b, c=d }, reject", "hash:${dir}/x", "{", "}}, ,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, tok := range refTokens(v) {
			if tok == "" {
				t.Fatalf("empty element in %q", v)
			}
			if !strings.ContainsAny(tok, "{}") && strings.ContainsAny(tok, ", \t") {
				t.Fatalf("element %q of %q holds a separator", tok, v)
			}
		}
	})
}

// TestImportChainBefore: --chain-order before puts the MPA in front of the
// configuration's content filter: main.cf's content_filter is the MPA's,
// the MPA's reinjection hands mail to the filter, the filter's return
// listener stays as it is; the check still finds only the wiring, and the
// result runs.
func TestImportChainBefore(t *testing.T) {
	postfixtest.Require(t)
	ctx := context.Background()
	dir := importDir(t, "testdata/quirks/27-amavis-return-listener.cf")
	inst := corpusInstance()
	inst.MPAListen = "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	inst.ReinjectListen = "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	res, err := ImportWith(ctx, dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: inst, Order: ChainBefore})
	if err != nil {
		t.Fatal(err)
	}
	if w := res.State.Wiring; w.Order != ChainBefore || w.Filter != "smtp-amavis:[127.0.0.1]:10024" {
		t.Errorf("wiring: %+v", w)
	}
	if !strings.HasPrefix(res.Chain, "smtpd → the MPA") || !strings.Contains(res.Chain, "→ content_filter smtp-amavis:[127.0.0.1]:10024 (kept from the import)") {
		t.Errorf("chain: %s", res.Chain)
	}
	rep, err := CheckImport(ctx, postfixtest.SbinDir, dir, res)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Changed() {
		t.Errorf("%s %s: original %q, result %q", d.File, d.Name, d.Original, d.Result)
	}
	run := applyPrivately(t, res, dir, dir)
	reinject := reinjectName(run.inst)
	out, _, err := run.m.Postfix().Run(ctx, nil, "postconf", "-P", reinject+"/inet/content_filter")
	if err != nil || !strings.Contains(string(out), "= smtp-amavis:[127.0.0.1]:10024") {
		t.Errorf("the MPA's reinjection does not hand mail to the filter: %s %v", out, err)
	}
	if got := postconfNX(t, run.inst.ConfigDir)["content_filter"]; got != run.inst.mpaNextHop() {
		t.Errorf("content_filter = %q, want the MPA's", got)
	}
	answersSMTP(t, run.smtp, filepath.Join(run.inst.BaseDir, "maillog"))
}

// TestImportQuirkSpecifics pins what the import makes of some quirks,
// beyond the round trip: which line a duplicate drops, where installation
// parameters go, how tables in the settings are written, what is left as
// it is.
func TestImportQuirkSpecifics(t *testing.T) {
	postfixtest.Require(t)
	ctx := context.Background()
	imp := func(name string) *ImportResult {
		t.Helper()
		res, err := ImportWith(ctx, importDir(t, "testdata/quirks/"+name+".cf"), ImportOptions{SbinDir: postfixtest.SbinDir, Instance: corpusInstance()})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return res
	}
	notes := func(res *ImportResult) string { return strings.Join(res.Notes, "\n") }

	res := imp("11-duplicate-parameter")
	if !strings.Contains(res.State.MainConfig, "\n#smtpd_helo_required = no\n") || !strings.Contains(res.State.MainConfig, "\nsmtpd_helo_required = yes\n") ||
		!strings.Contains(notes(res), "main.cf line 4: smtpd_helo_required is set again on line 6") {
		t.Errorf("duplicate: %q\n%s", res.Notes, res.State.MainConfig)
	}
	res = imp("35-installation-parameters")
	for _, name := range []string{"command_directory", "daemon_directory", "mail_owner", "setgid_group", "readme_directory", "html_directory"} {
		if !strings.Contains(res.State.Installation, name+" = ") || !strings.Contains(res.State.MainConfig, "# "+name+": fixed by the installation") {
			t.Errorf("installation parameter %s: installation %q", name, res.State.Installation)
		}
	}
	res = imp("18-relay-domains-hash-table")
	if strings.Join(res.State.Settings.RelayDomains, " ") != "map:relay_domains" {
		t.Errorf("relay domains from a hash table: %v", res.State.Settings.RelayDomains)
	}
	res = imp("19-relay-domains-proxy-table")
	if strings.Join(res.State.Settings.RelayDomains, " ") != "example.com proxy:hash:$config_directory/maps.d/hash.relay_domains.map" {
		t.Errorf("relay domains through proxymap: %v", res.State.Settings.RelayDomains)
	}
	res = imp("20-mynetworks-cidr-table")
	if strings.Join(res.State.Settings.MyNetworks, " ") != "127.0.0.0/8 map:trusted ::1/128" {
		t.Errorf("my networks with a cidr table: %v", res.State.Settings.MyNetworks)
	}
	res = imp("22-relay-domains-parameter")
	if strings.Join(res.State.Settings.RelayDomains, " ") != "$mydestination example.net" {
		t.Errorf("relay domains with a parameter: %v", res.State.Settings.RelayDomains)
	}
	res = imp("23-texthash-table")
	if len(res.Unmanaged) != 1 || !strings.HasPrefix(res.Unmanaged[0].Ref, "texthash:") || !strings.Contains(res.Unmanaged[0].Reason, "texthash is not a type postdeck manages") {
		t.Errorf("texthash: %+v", res.Unmanaged)
	}
	res = imp("24-unionmap")
	if !strings.Contains(res.State.MainConfig, "unionmap:{hash:$config_directory/maps.d/hash.virtual-alias-maps.map, static:postmaster@example.org}") &&
		!strings.Contains(res.State.MainConfig, "unionmap:{hash:$config_directory/maps.d/hash.virtual.map, static:postmaster@example.org}") {
		t.Errorf("unionmap: %s", res.State.MainConfig)
	}
	res = imp("32-reject-code-554")
	if res.State.Settings.UnverifiedRecipientRejectCode != 554 {
		t.Errorf("reject code: %d", res.State.Settings.UnverifiedRecipientRejectCode)
	}
	res = imp("33-relay-transport-smtp")
	if res.State.Settings.RelayTransport != "smtp" || res.State.Settings.InternalRelayHost != "[10.0.0.1]:25" {
		t.Errorf("relay transport: %+v", res.State.Settings)
	}
	res = imp("34-verify-first")
	if res.State.Settings.RejectUnverifiedRecipient || !strings.Contains(res.State.MainConfig, "    reject_unverified_recipient,\n") {
		t.Errorf("verify first: switch %v\n%s", res.State.Settings.RejectUnverifiedRecipient, res.State.MainConfig)
	}
	res = imp("17-unused-user-parameter")
	if !slices.Contains(res.Unused, "old_setting_nobody_uses") || !strings.Contains(res.State.MainConfig, "# old_setting_nobody_uses: Postfix ignores it") {
		t.Errorf("unused: %v\n%s", res.Unused, res.State.MainConfig)
	}
	res = imp("16-user-param-only-in-master")
	if !strings.Contains(res.State.MainConfig, "\ncheck_ratelimit = check_policy_service") {
		t.Errorf("a parameter master.cf uses was dropped:\n%s", res.State.MainConfig)
	}
}

// TestImportOutsideDirs: the directories of tables left as they are
// outside the configuration directory are reported (PMG keeps its tables
// in /etc/pmg).
func TestImportOutsideDirs(t *testing.T) {
	postfixtest.Require(t)
	needCorpusProject(t, "pmg")
	root := postfixtest.Dir(t)
	dir := corpusHost(t, "pmg", root)
	res, err := ImportWith(context.Background(), dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: corpusInstance()})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.OutsideDirs, filepath.Join(root, "etc/pmg")) {
		t.Errorf("outside directories: %v", res.OutsideDirs)
	}
}
