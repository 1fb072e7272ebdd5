package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/mta"
	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// importFixture is a system Postfix configuration with an amavis content
// filter whose return listener holds the MPA's default port, and a hash
// table under the configuration directory.
func importFixture(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(postfixtest.Dir(t), "etc")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.cf", "myhostname = mx1.gw.example.org\nrelay_domains = hash:"+dir+"/relay_domains\n"+
		"content_filter = smtp-amavis:[127.0.0.1]:10024\ncompatibility_level = 3.6\n")
	write("master.cf", "smtp      inet  n       -       y       -       -       smtpd\n"+postfix.DebianServices+
		"smtp-amavis unix - - n - 2 smtp\n127.0.0.1:10025 inet n - n - - smtpd\n  -o content_filter=\n")
	write("relay_domains", "example.org OK\n")
	if out, err := postfixtest.Command(t, "postmap", "-c", dir, "hash:"+filepath.Join(dir, "relay_domains")); err != nil {
		t.Fatalf("postmap: %v %s", err, out)
	}
	old := time.Now().Add(-10 * time.Second)
	if err := os.Chtimes(filepath.Join(dir, "main.cf"), old, old); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestImportCheckCommand runs `postdeck import --check` and the offline
// import on a configuration: the check exits 0 when only the MPA's wiring
// and the managed map paths differ, and 1 (naming the parameter) when
// taking over would change more; the import then refuses to store it
// unless --accept-changes.
func TestImportCheckCommand(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	dir := importFixture(t)
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"import"}, args...)...)
		for _, kv := range os.Environ() { // the default MPA addresses, free to move
			if !strings.HasPrefix(kv, "POSTDECK_MPA_LISTEN=") && !strings.HasPrefix(kv, "POSTDECK_REINJECT_LISTEN=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("--check", dir)
	if err != nil {
		t.Fatalf("import --check: %v\n%s", err, out)
	}
	for _, want := range []string{"[MPA wiring]", "relay_domains", "0 other", "content_filter smtp-amavis:[127.0.0.1]:10024 (kept from the import)"} {
		if !strings.Contains(out, want) {
			t.Errorf("import --check output lacks %q:\n%s", want, out)
		}
	}
	mainCF := filepath.Join(dir, "main.cf")
	orig, err := os.ReadFile(mainCF)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mainCF, append(orig, "message_size_limit = 0\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	// Unlimited becomes the MPA's 4 GiB, and with it Postfix's local
	// delivery needs mailbox_size_limit as large (local(8) refuses to run
	// with a smaller one): two differences.
	out, err = run("--check", dir)
	if err == nil || !strings.Contains(out, "message_size_limit") || !strings.Contains(out, "+ mailbox_size_limit = 4294967296") ||
		!strings.Contains(out, "2 differences besides") {
		t.Fatalf("import --check with a change: %v\n%s", err, out)
	}
	data := filepath.Join(postfixtest.Dir(t), "data")
	out, err = run("--data", data, dir)
	if err == nil || !strings.Contains(out, "--accept-changes") {
		t.Fatalf("import with a change: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(data, "postdeck.db")); err == nil {
		t.Errorf("a refused import created the database")
	}
	out, err = run("--data", data, "--accept-changes", dir)
	if err != nil || !strings.Contains(out, "mail path:") {
		t.Fatalf("import --accept-changes: %v\n%s", err, out)
	}
	db, err := store.Open(filepath.Join(data, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	if st.Wiring.Filter != "smtp-amavis:[127.0.0.1]:10024" || st.Wiring.Order != mta.ChainAfter || st.Wiring.MPAListen == "127.0.0.1:10025" ||
		len(st.Settings.RelayDomains) != 1 || st.Settings.RelayDomains[0] != "map:relay_domains" {
		t.Errorf("stored: wiring %+v, relay domains %v", st.Wiring, st.Settings.RelayDomains)
	}
}

// TestServeTakesStoredWiring: the daemon's MPA addresses come from what an
// import stored, unless a flag names them.
func TestServeTakesStoredWiring(t *testing.T) {
	w := store.Wiring{MPAListen: "127.0.0.1:10035", ReinjectListen: "127.0.0.1:10036", Filter: "amavis:[127.0.0.1]:10024", Order: mta.ChainAfter}
	f, err := parseServeFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	inst := wiredInstance(mta.Instance{MPAListen: f.mpaListen, ReinjectListen: f.reinjectListen}, w, f)
	if inst.MPAListen != w.MPAListen || inst.ReinjectListen != w.ReinjectListen || inst.ChainFilter != w.Filter || inst.ChainOrder != w.Order {
		t.Errorf("defaults: %+v", inst)
	}
	f, err = parseServeFlags([]string{"--mpa-listen", "127.0.0.1:2000", "--chain-order", "before"})
	if err != nil {
		t.Fatal(err)
	}
	inst = wiredInstance(mta.Instance{MPAListen: f.mpaListen, ReinjectListen: f.reinjectListen}, w, f)
	if inst.MPAListen != "127.0.0.1:2000" || inst.ReinjectListen != w.ReinjectListen || f.chainOrder != mta.ChainBefore {
		t.Errorf("with --mpa-listen: %+v", inst)
	}
	if _, err := parseServeFlags([]string{"--chain-order", "sideways"}); err == nil {
		t.Errorf("--chain-order sideways was accepted")
	}
}
