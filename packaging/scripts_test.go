package packaging

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSystemctl stands in for systemctl while the maintainer scripts run:
// it logs every call and keeps each unit's enabled and running state as
// files in $STATE, the way systemd would answer is-enabled and try-restart.
const fakeSystemctl = `#!/bin/sh
echo "systemctl $*" >>"$STATE/calls"
verb=$1
shift
for u in "$@"; do
	case "$u" in -*) continue ;; esac
	case "$verb" in
	enable) : >"$STATE/enabled.$u" ;;
	disable) rm -f "$STATE/enabled.$u" ;;
	start | restart) : >"$STATE/running.$u" ;;
	stop) rm -f "$STATE/running.$u" ;;
	try-restart) ;;
	is-enabled) [ -e "$STATE/enabled.$u" ] || exit 1 ;;
	is-active) [ -e "$STATE/running.$u" ] || exit 3 ;;
	esac
done
exit 0
`

// scriptRun is what the maintainer scripts left after each step.
type scriptRun struct {
	state []string // per step: "enabled=UNITS running=UNITS data=MODE FILES"
	calls string   // the systemctl calls, one a line
	// account is the web user's passwd entry and group entry (getent)
	// after the last step.
	account, group string
	out            string
}

// runScripts runs the package's maintainer scripts (packaging/scripts, as
// nfpm puts them into the .deb and the .rpm) through steps, in a mount
// namespace of their own where /run, /var/lib, /var/log and /etc/postfix
// are empty tmpfs mounts, /etc is an overlay whose changes go to a
// temporary directory (useradd and groupadd are the real ones), and
// systemctl is a fake: nothing of this machine's systemd, accounts, data,
// logs or Postfix is touched. Each step
// is "SCRIPT ARGS..." (SCRIPT one of postinstall, preremove, postremove)
// or "admin COMMAND..." (a shell command between the package's steps);
// after each, the units' enabled and running state and what is in
// /var/lib/postdeck are recorded.
func runScripts(t *testing.T, steps ...string) scriptRun {
	t.Helper()
	missing := ""
	if os.Geteuid() != 0 {
		missing = "root (a mount namespace for the maintainer scripts)"
	} else if _, err := exec.LookPath("unshare"); err != nil {
		missing = "unshare (util-linux)"
	}
	if missing != "" {
		if os.Getenv("POSTDECK_REQUIRE_POSTFIX") == "1" {
			t.Fatalf("the maintainer scripts' test needs %s (POSTDECK_REQUIRE_POSTFIX=1)", missing)
		}
		t.Skipf("needs %s; set POSTDECK_REQUIRE_POSTFIX=1 to fail instead", missing)
	}
	scripts, err := filepath.Abs("scripts")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin, state := filepath.Join(dir, "bin"), filepath.Join(dir, "state")
	upper, work := filepath.Join(dir, "etc-upper"), filepath.Join(dir, "etc-work")
	for _, d := range []string{bin, state, upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fakeSystemctl), 0o755); err != nil {
		t.Fatal(err)
	}
	var drive strings.Builder
	drive.WriteString(`set -e
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$UPPER,workdir=$WORK" /etc
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib
mount -t tmpfs tmpfs /var/log
if [ -d /etc/postfix ]; then mount -t tmpfs tmpfs /etc/postfix; fi
mkdir -p /run/systemd/system
report() {
	echo "STATE $1|enabled=$(cd "$STATE" && ls enabled.* 2>/dev/null | sed 's/^enabled\.//' | tr '\n' ' ')running=$(cd "$STATE" && ls running.* 2>/dev/null | sed 's/^running\.//' | tr '\n' ' ')data=$(stat -c %a /var/lib/postdeck 2>/dev/null)$(ls -A /var/lib/postdeck 2>/dev/null | tr '\n' ' ')"
}
`)
	for _, step := range steps {
		name, args, _ := strings.Cut(step, " ")
		if name == "admin" {
			drive.WriteString(args + "\n")
		} else {
			drive.WriteString("echo \"RUN " + step + "\"\nsh " + filepath.Join(scripts, name+".sh") + " " + args + "\n")
		}
		drive.WriteString("report '" + step + "'\n")
	}
	drive.WriteString("echo \"ACCOUNT $(getent passwd postdeck-web)|$(getent group postdeck-web)\"\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "--", "sh", "-c", drive.String())
	cmd.Env = []string{"PATH=" + bin + ":/usr/sbin:/usr/bin:/sbin:/bin", "STATE=" + state, "UPPER=" + upper, "WORK=" + work}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the maintainer scripts failed: %v\n%s", err, out)
	}
	calls, _ := os.ReadFile(filepath.Join(state, "calls"))
	r := scriptRun{calls: string(calls), out: string(out)}
	for _, line := range strings.Split(string(out), "\n") {
		if s, ok := strings.CutPrefix(line, "ACCOUNT "); ok {
			r.account, r.group, _ = strings.Cut(s, "|")
		}
		if s, ok := strings.CutPrefix(line, "STATE "); ok {
			_, st, _ := strings.Cut(s, "|")
			r.state = append(r.state, st)
		}
	}
	if len(r.state) != len(steps) {
		t.Fatalf("%d states for %d steps:\n%s", len(r.state), len(steps), out)
	}
	return r
}

const (
	bothUnits = "postdeck-web.service postdeck.service "
	enabledUp = "enabled=" + bothUnits + "running=" + bothUnits
	allOff    = "enabled=running="
)

// TestReinstallAfterRemoveEnablesAndStarts: `apt remove postdeck` stops
// and disables the units and keeps the data; dpkg then remembers the
// removed version, and `apt install postdeck` runs postinst configure
// with it, as for an upgrade. The reinstalled postdeck must run again
// (enabled and started, as at the first install), not stay stopped
// until someone notices; so after a deconfigure. An administrator's own
// disable survives an upgrade, on Debian and on an rpm distribution.
func TestReinstallAfterRemoveEnablesAndStarts(t *testing.T) {
	const adminDisables = "admin systemctl disable postdeck.service postdeck-web.service; systemctl stop postdeck.service postdeck-web.service"
	check := func(t *testing.T, r scriptRun, steps []string, want map[int]string) {
		t.Helper()
		for i, w := range want {
			if r.state[i] != w {
				t.Errorf("after %q: %q, want %q\n%s", steps[i], r.state[i], w, r.out)
			}
		}
		checkWebAccount(t, r)
	}
	t.Run("deb", func(t *testing.T) {
		steps := []string{
			"postinstall configure",
			"admin : >/var/lib/postdeck/postdeck.db",
			"preremove remove",
			"postremove remove",
			"postinstall configure 1.0", // dpkg -i after dpkg -r
			adminDisables,
			"preremove upgrade 1.1",
			"postremove upgrade 1.1",
			"postinstall configure 1.0", // an upgrade
		}
		r := runScripts(t, steps...)
		check(t, r, steps, map[int]string{
			0: enabledUp + "data=700",
			3: allOff + "data=700.package-removed postdeck.db ",
			4: enabledUp + "data=700postdeck.db ",
			8: allOff + "data=700postdeck.db ",
		})
	})
	// dpkg deconfigures a package another one's install breaks, then
	// configures it again with its own version.
	t.Run("deb deconfigure", func(t *testing.T) {
		steps := []string{"postinstall configure", "preremove deconfigure in-favour other 2.0", "postinstall configure 1.0"}
		r := runScripts(t, steps...)
		check(t, r, steps, map[int]string{1: allOff + "data=700.package-removed ", 2: enabledUp + "data=700"})
	})
	t.Run("rpm", func(t *testing.T) {
		steps := []string{
			"postinstall 1",
			"preremove 0",
			"postremove 0",
			"postinstall 1", // rpm -i after rpm -e
			adminDisables,
			"postinstall 2", // rpm -U: the new %post, then the old %preun and %postun
			"preremove 1",
			"postremove 1",
		}
		r := runScripts(t, steps...)
		check(t, r, steps, map[int]string{
			0: enabledUp + "data=700",
			2: allOff + "data=700.package-removed ",
			3: enabledUp + "data=700",
			7: allOff + "data=700",
		})
	})
}

// checkWebAccount: the web user exists once, with no home and no login
// shell, and its group is the one of its own name.
func checkWebAccount(t *testing.T, r scriptRun) {
	t.Helper()
	u := strings.Split(r.account, ":")
	g := strings.Split(r.group, ":")
	if len(u) != 7 || len(g) != 4 {
		t.Fatalf("the web user: passwd %q, group %q\n%s", r.account, r.group, r.out)
	}
	if u[0] != "postdeck-web" || u[5] != "/nonexistent" || !strings.HasSuffix(u[6], "/nologin") || u[2] == "0" || u[3] != g[2] {
		t.Errorf("the web user: passwd %q, group %q: want postdeck-web, home /nonexistent, nologin, its own group", r.account, r.group)
	}
}

// TestPostinstWithTheWebGroupAlreadyThere: a postdeck-web group without
// the user (made beforehand by an administrator or a directory service,
// or left by a userdel that kept it) must not make the install fail
// (useradd --user-group refuses a name whose group exists): the user is
// made in that group.
func TestPostinstWithTheWebGroupAlreadyThere(t *testing.T) {
	steps := []string{"admin groupadd --system postdeck-web", "postinstall configure"}
	r := runScripts(t, steps...)
	if r.state[1] != enabledUp+"data=700" {
		t.Errorf("after %q: %q, want %q\n%s", steps[1], r.state[1], enabledUp+"data=700", r.out)
	}
	checkWebAccount(t, r)
}

// TestMaintainerScriptsRunTwice: dpkg runs a script again after a failed
// or interrupted run; each is idempotent under set -e, and a purge
// removes the data directory whatever ran before.
func TestMaintainerScriptsRunTwice(t *testing.T) {
	steps := []string{
		"postinstall configure", "postinstall configure",
		"admin : >/var/lib/postdeck/postdeck.db",
		"postinstall configure 1.0", "postinstall configure 1.0",
		"preremove remove", "preremove remove",
		"postremove remove", "postremove remove",
		"postremove purge", "postremove purge",
	}
	r := runScripts(t, steps...)
	for i, want := range map[int]string{
		1:  enabledUp + "data=700",
		4:  enabledUp + "data=700postdeck.db ",
		8:  allOff + "data=700.package-removed postdeck.db ",
		10: allOff + "data=",
	} {
		if r.state[i] != want {
			t.Errorf("after step %d %q: %q, want %q\n%s", i, steps[i], r.state[i], want, r.out)
		}
	}
	checkWebAccount(t, r)
}

// TestPreremoveUnwiresThroughPostfixUnit: the removal's `postdeck
// unwire` starts a stopped Postfix; under systemd it must do so through
// postfix.service, as the daemon does (--postfix-unit), never as a master
// of its own outside the unit. A stand-in postdeck (over /usr/bin, in the
// scripts' mount namespace) prints the arguments it got.
func TestPreremoveUnwiresThroughPostfixUnit(t *testing.T) {
	const fakePostdeck = "admin mkdir -p /run/fakebin/up /run/fakebin/work; " +
		`printf '#!/bin/sh\necho "POSTDECK $*"\n' >/run/fakebin/up/postdeck; chmod 755 /run/fakebin/up/postdeck; ` +
		"mount -t overlay overlay -o lowerdir=/usr/bin,upperdir=/run/fakebin/up,workdir=/run/fakebin/work /usr/bin; " +
		": >/var/lib/postdeck/postdeck.db"
	r := runScripts(t, "postinstall configure", fakePostdeck, "preremove remove")
	if !strings.Contains(r.out, "POSTDECK unwire --postfix-unit postfix.service\n") {
		t.Errorf("the removal ran unwire without --postfix-unit postfix.service:\n%s", r.out)
	}
}
