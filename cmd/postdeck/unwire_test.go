package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/mta"
	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestUnwireKeepsTheImportedFilter: an imported configuration with amavis
// (content_filter and its return listener), applied with the MPA after
// it, then `postdeck unwire` (what the package's removal runs): the MPA's
// services and its -o content_filter on the return listener go, amavis
// stays the content filter, and the same Postfix runs on (reloaded, not
// restarted). The removal script's old way, content_filter = "", would
// have left the return listener handing mail to the removed MPA.
func TestUnwireKeepsTheImportedFilter(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	src := filepath.Join(base, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	ret := "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	files := map[string]string{
		"main.cf": "myhostname = mx1.gw.example.org\nrelay_domains = example.org\n" +
			"content_filter = smtp-amavis:[127.0.0.1]:10024\ncompatibility_level = 3.6\n",
		"master.cf": "smtp      inet  n       -       y       -       -       smtpd\n" + postfix.DebianServices +
			"smtp-amavis unix - - n - 2 smtp\n" + ret + " inet n - n - - smtpd\n  -o content_filter=\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-10 * time.Second)
	if err := os.Chtimes(filepath.Join(src, "main.cf"), old, old); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(base, "data")
	mpaAddr := "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	reinject := "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	if out, err := exec.Command(bin, "import", "--data", data, "--mpa-listen", mpaAddr, "--reinject-listen", reinject, src).CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}

	// The daemon's apply, with the MPA after amavis, on a private instance.
	etc := filepath.Join(base, "postfix", "etc")
	smtp := "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	inst := mta.Instance{ConfigDir: etc, BaseDir: filepath.Dir(etc), Private: true, SMTPListen: smtp,
		MPAListen: mpaAddr, ReinjectListen: reinject, ChainFilter: "smtp-amavis:[127.0.0.1]:10024", ChainOrder: mta.ChainAfter}
	t.Cleanup(func() { postfixtest.StopByPidFile(t, inst.QueueDir()) })
	db, err := store.Open(filepath.Join(data, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := mta.New(mta.Config{Instance: inst}, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(context.Background()); err != nil {
		t.Fatalf("apply with the MPA: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	returnFilter := func() string { return postconfP(t, etc, ret+"/inet/content_filter") }
	if got := returnFilter(); !strings.HasPrefix(got, "mpa:") {
		t.Fatalf("before unwire the return listener hands mail to %q, want the MPA", got)
	}
	master := postfix.MasterPID(inst.QueueDir())

	out, err := exec.Command(bin, "unwire", "--private-postfix", "--data", data, "--postfix-config", etc, "--smtp-listen", smtp).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "content filter now: smtp-amavis:[127.0.0.1]:10024") {
		t.Fatalf("unwire: %v\n%s", err, out)
	}
	if got := postconfH(t, etc, "content_filter"); got != "smtp-amavis:[127.0.0.1]:10024" {
		t.Errorf("content_filter after unwire: %q", got)
	}
	if got := returnFilter(); got != "" {
		t.Errorf("the return listener still hands mail to %q", got)
	}
	services, err := postfixtest.Command(t, "postconf", "-c", etc, "-M")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(services, "\n") {
		if strings.HasPrefix(l, "mpa ") || strings.HasPrefix(l, reinject+" ") {
			t.Errorf("the MPA's service is still in master.cf: %s", l)
		}
	}
	if now := postfix.MasterPID(inst.QueueDir()); now != master || !postfix.Alive(now) {
		t.Errorf("Postfix's master was %d and is %d now: unwire must reload, not restart", master, now)
	}

	// Without a database there is nothing to unwire, and it says so.
	if out, err := exec.Command(bin, "unwire", "--data", filepath.Join(base, "none"), "--postfix-config", etc).CombinedOutput(); err == nil || !strings.Contains(string(out), "no database at") {
		t.Errorf("unwire without a database: %v\n%s", err, out)
	}
}

// postconfP is one `postconf -P NAME` value of the instance in etc ("" when
// unset).
func postconfP(t *testing.T, etc, name string) string {
	t.Helper()
	out, err := postfixtest.Command(t, "postconf", "-c", etc, "-P", name)
	if err != nil {
		t.Fatalf("postconf -P %s: %v %s", name, err, out)
	}
	_, v, _ := strings.Cut(strings.TrimSpace(out), " = ")
	return v
}

// TestUnwireWithoutAConfiguration: a database that holds no configuration
// (the first start held its takeover of a running Postfix, so it stored
// nothing) has nothing to unwire. The package's removal runs unwire
// whenever postdeck.db exists: applying the empty state would replace the
// administrator's main.cf and master.cf, which postdeck had refused to
// touch, with postdeck's defaults. unwire refuses, says why, and leaves
// every file of the configuration directory as it was.
func TestUnwireWithoutAConfiguration(t *testing.T) {
	pf := postfixtest.Start(t, postfixtest.Options{MainCF: "# the administrator's own\n"})
	bin := buildBinary(t)
	data := filepath.Join(pf.Base, "data")
	db, err := store.Open(filepath.Join(data, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before := dirFiles(t, pf.ConfigDir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "unwire", "--private-postfix", "--data", data, "--postfix-config", pf.ConfigDir, "--smtp-listen", pf.SMTPAddr).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "holds no configuration") {
		t.Errorf("unwire of a database without a configuration: %v\n%s", err, out)
	}
	after := dirFiles(t, pf.ConfigDir)
	for name, content := range before {
		if after[name] != content {
			t.Errorf("unwire changed %s:\n%s", name, after[name])
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("unwire created %s", name)
		}
	}
}

// dirFiles is every entry under dir (relative path → content; "" for a
// directory).
func dirFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			files[rel] = ""
			return nil
		}
		b, err := os.ReadFile(path)
		files[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestUnwireStartsPostfixThroughItsUnit: with Postfix stopped, unwire
// starts it to apply the configuration without the MPA. It started master
// with `postfix start`, as no --postfix-unit reached it: on a system whose
// postfix.service runs Postfix, that master ran outside the unit (which
// stays "active (exited)" beside it, and whose stop then stops nothing).
// unwire takes --postfix-unit (and POSTDECK_POSTFIX_UNIT, as serve), and
// starts Postfix with `systemctl restart UNIT`; the fake systemctl here
// starts the test's private instance as the unit would and records the
// call.
func TestUnwireStartsPostfixThroughItsUnit(t *testing.T) {
	postfixtest.Require(t)
	t.Setenv("POSTDECK_POSTFIX_UNIT", "postfix@-.service")
	if o, err := parseUnwireFlags(nil); err != nil || o.postfixUnit != "postfix@-.service" {
		t.Fatalf("POSTDECK_POSTFIX_UNIT: %q %v", o.postfixUnit, err)
	}
	base := postfixtest.Dir(t)
	etc := filepath.Join(base, "postfix", "etc")
	smtp := "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	data := filepath.Join(base, "data")
	o, err := parseUnwireFlags([]string{"--private-postfix", "--data", data, "--postfix-config", etc, "--smtp-listen", smtp, "--postfix-unit", "postfix.service"})
	if err != nil || o.postfixUnit != "postfix.service" {
		t.Fatalf("--postfix-unit: %q %v", o.postfixUnit, err)
	}
	t.Cleanup(func() { postfixtest.StopByPidFile(t, o.inst.QueueDir()) })

	// The daemon's configuration, with the MPA, applied once; then
	// Postfix stops.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(data, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	wired := o.inst
	wired.MPAListen = "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	wired.ReinjectListen = "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	m, err := mta.New(mta.Config{Instance: wired}, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(ctx); err != nil {
		t.Fatalf("apply with the MPA: %v", err)
	}
	if got := postconfH(t, etc, "content_filter"); !strings.HasPrefix(got, "mpa:") {
		t.Fatalf("content_filter before unwire: %q", got)
	}
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if postfix.Alive(postfix.MasterPID(o.inst.QueueDir())) {
		t.Fatal("Postfix still runs after the shutdown")
	}

	calls := filepath.Join(base, "calls")
	o.systemctl = filepath.Join(base, "systemctl")
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >>'%s'\n[ \"$*\" = \"restart postfix.service\" ] || exit 2\nexec '%s' -c '%s' start\n",
		calls, filepath.Join(postfix.DefaultSbinDir, "postfix"), etc)
	if err := os.WriteFile(o.systemctl, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unwire(o); err != nil {
		t.Fatalf("unwire: %v", err)
	}
	got, _ := os.ReadFile(calls)
	if string(got) != "restart postfix.service\n" {
		t.Errorf("systemctl calls: %q, want just restart postfix.service (Postfix started outside its unit)", got)
	}
	if !postfix.Alive(postfix.MasterPID(o.inst.QueueDir())) {
		t.Error("no master runs after unwire")
	}
	if got := postconfH(t, etc, "content_filter"); got != "" {
		t.Errorf("content_filter after unwire: %q", got)
	}
}
