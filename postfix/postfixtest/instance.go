package postfixtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"postdeck/postfix"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Options shape a standalone instance.
type Options struct {
	// RelayPort is the port of relayhost [127.0.0.1]:RelayPort. 0 means a
	// port where nothing listens, so mail stays deferred.
	RelayPort int
	// MainCF is appended to the generated main.cf; a parameter it sets
	// replaces the generated line of that name (and an earlier line of
	// its own).
	MainCF string
	// MasterCF is appended to the generated master.cf.
	MasterCF string
}

// Instance is a running private Postfix.
type Instance struct {
	Base      string // every directory below this one
	ConfigDir string
	QueueDir  string
	Maillog   string
	SMTPPort  int    // smtpd listens on 127.0.0.1:SMTPPort
	SMTPAddr  string // "127.0.0.1:PORT"
}

// Start creates and starts a private instance and registers its stop.
func Start(t testing.TB, opts Options) *Instance {
	t.Helper()
	Require(t)
	base := Dir(t)
	inst := &Instance{
		Base:      base,
		ConfigDir: filepath.Join(base, "etc"),
		QueueDir:  filepath.Join(base, "spool"),
		Maillog:   filepath.Join(base, "maillog"),
		SMTPPort:  FreePort(t),
	}
	inst.SMTPAddr = "127.0.0.1:" + strconv.Itoa(inst.SMTPPort)
	relay := opts.RelayPort
	if relay == 0 {
		relay = FreePort(t)
	}
	for _, d := range []string{inst.ConfigDir, inst.QueueDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	main := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
syslog_name = postfix-test
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
myhostname = mx.gw.example.test
mydomain = gw.example.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:%[2]d
alias_maps =
alias_database =
local_transport = error:local delivery disabled
smtputf8_enable = no
enable_long_queue_ids = yes
`, base, relay)
	main = lastOnly(main + opts.MainCF)
	master := inst.SMTPAddr + " inet n - n - - smtpd\n" + postfix.DebianServices + opts.MasterCF
	writeFile(t, filepath.Join(inst.ConfigDir, "main.cf"), main)
	writeFile(t, filepath.Join(inst.ConfigDir, "master.cf"), master)
	backdate(t, filepath.Join(inst.ConfigDir, "main.cf"))
	if out, err := Command(t, "postfix", "-c", inst.ConfigDir, "check"); err != nil {
		t.Fatalf("postfix check: %v: %s\n%s", err, out, inst.Log())
	}
	if out, err := Command(t, "postfix", "-c", inst.ConfigDir, "start"); err != nil {
		t.Fatalf("postfix start: %v: %s\n%s", err, out, inst.Log())
	}
	t.Cleanup(func() { StopByPidFile(t, inst.QueueDir) })
	inst.WaitListening(t)
	return inst
}

// lastOnly is main.cf text with only the last line of each parameter
// (with its continuation lines): what Postfix takes, without repeats.
// Postfix takes the last of repeated lines but logs "overriding earlier
// entry" at every daemon start, and logging that while postlogd starts
// once hung it (smtpd never answered).
func lastOnly(text string) string {
	lines := strings.SplitAfter(text, "\n")
	owner := make([]int, len(lines)) // the line of the parameter a line belongs to, or -1
	last := map[string]int{}         // a parameter's last line
	cur := -1
	for i, line := range lines {
		switch {
		case strings.TrimSpace(line) == "" || line[0] == '#':
			cur = -1
		case line[0] == ' ' || line[0] == '\t':
			// continues cur's value
		default:
			cur = i
			name, _, _ := strings.Cut(line, "=")
			last[strings.TrimSpace(name)] = i
		}
		owner[i] = cur
	}
	var out strings.Builder
	for i, line := range lines {
		if o := owner[i]; o >= 0 {
			name, _, _ := strings.Cut(lines[o], "=")
			if last[strings.TrimSpace(name)] != o {
				continue
			}
		}
		out.WriteString(line)
	}
	return out.String()
}

// WaitListening waits until smtpd accepts connections.
func (i *Instance) WaitListening(t testing.TB) {
	t.Helper()
	if err := WaitPort(i.SMTPAddr, 5*time.Second); err != nil {
		t.Fatalf("postfix at %s: %v\n%s", i.SMTPAddr, err, i.Log())
	}
}

// Postconf returns `postconf -h NAME` of the instance.
func (i *Instance) Postconf(t testing.TB, name string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(SbinDir, "postconf"), "-c", i.ConfigDir, "-h", name).Output()
	if err != nil {
		t.Fatalf("postconf -h %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// Log returns the instance's maillog so far.
func (i *Instance) Log() string {
	b, _ := os.ReadFile(i.Maillog)
	return string(b)
}

// StopByPidFile stops the Postfix whose queue directory is queueDir: it
// signals the master named by queueDir/pid/master.pid and waits for it to
// exit. It never looks processes up by name.
func StopByPidFile(t testing.TB, queueDir string) {
	t.Helper()
	pid := postfix.MasterPID(queueDir)
	if pid <= 1 {
		return // never started, or already stopped
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !postfix.Alive(pid) {
			return
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// backdate sets path's mtime into the past: Postfix stalls ~2 s on a
// main.cf younger than that.
func backdate(t testing.TB, path string) {
	t.Helper()
	old := time.Now().Add(-10 * time.Second)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}
