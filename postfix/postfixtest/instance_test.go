package postfixtest

import (
	"bufio"
	"fmt"
	"io"
	"net/smtp"
	"os"
	"os/exec"
	"postdeck/postfix"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInstanceRelaysToSink shows the harness itself works: a private
// instance accepts a message and relays it to a sink.
func TestInstanceRelaysToSink(t *testing.T) {
	sink := NewSink(t, 0)
	inst := Start(t, Options{RelayPort: sink.Port})
	if got := inst.Postconf(t, "myhostname"); got != "mx.gw.example.test" {
		t.Fatalf("myhostname = %q", got)
	}
	// The running master is known by its pid file (postfix.MasterPID
	// checks the process too).
	if pid := postfix.MasterPID(inst.QueueDir); pid <= 1 || !postfix.Alive(pid) {
		t.Fatalf("MasterPID of a running instance = %d", pid)
	}
	err := smtp.SendMail(inst.SMTPAddr, nil, "a@example.test", []string{"b@example.org"},
		[]byte("Subject: hi\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	msgs := sink.Wait(t, 1, 20*time.Second)
	if msgs[0].From != "a@example.test" || len(msgs[0].To) != 1 || msgs[0].To[0] != "b@example.org" {
		t.Fatalf("envelope: %+v", msgs[0])
	}
	if !strings.Contains(string(msgs[0].Data), "hello") {
		t.Fatalf("body: %q", msgs[0].Data)
	}
}

// TestFreePortNeverTwice: two listeners a test asks ports for before
// either binds must not get the same port. 2,000 picks out of about
// 12,000 ports would repeat one about 150 times if picks were independent.
func TestFreePortNeverTwice(t *testing.T) {
	seen := make(map[int]bool)
	for range 2000 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

// TestFreePortAcrossProcesses: a port another test process holds is not
// handed out here until that process exits. A child (this test binary)
// holds one port; without the shared reservation this process would take
// it.
func TestFreePortAcrossProcesses(t *testing.T) {
	if held := os.Getenv("POSTDECK_HOLD_PORT"); held != "" {
		p, _ := strconv.Atoi(held)
		if !reserve(p) {
			fmt.Println("busy")
			os.Exit(1)
		}
		fmt.Println("held")
		_, _ = io.ReadAll(os.Stdin) // until the parent closes it
		os.Exit(0)
	}
	// Two ports no process holds (other test packages run beside this one).
	var free []int
	for p := freePortMin; len(free) < 2 && p < freePortMin+5000; p++ {
		handedOut.Lock()
		taken := handedOut.ports[p]
		handedOut.Unlock()
		if !taken && !heldElsewhere(t, p) {
			free = append(free, p)
		}
	}
	held, other := free[0], free[1]
	child := exec.Command(os.Args[0], "-test.run=^TestFreePortAcrossProcesses$")
	child.Env = append(os.Environ(), "POSTDECK_HOLD_PORT="+strconv.Itoa(held))
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "held\n" {
		_ = child.Process.Kill()
		_ = child.Wait()
		t.Fatalf("child: %q %v", line, err)
	}
	if reserve(held) {
		t.Errorf("port %d, held by another process, was reserved here too", held)
	}
	if !reserve(other) {
		t.Errorf("port %d, held by nobody, was refused", other)
	}
	_ = stdin.Close()
	if err := child.Wait(); err != nil {
		t.Fatal(err)
	}
	if !reserve(held) {
		t.Errorf("port %d stayed held after its process exited", held)
	}
}

// heldElsewhere reports whether another process holds port's reservation,
// without taking it.
func heldElsewhere(t *testing.T, port int) bool {
	f, err := reservationFile()
	if err != nil {
		t.Fatal(err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Start: int64(port), Len: 1}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		t.Fatal(err)
	}
	return lk.Type != syscall.F_UNLCK
}

// TestMainCFReplacesGeneratedLines: a parameter Options.MainCF sets
// replaces the generated line instead of repeating it, so that Postfix
// has nothing to log as "overriding earlier entry" at each daemon start
// (once seen to hang postlogd, logging about itself).
func TestMainCFReplacesGeneratedLines(t *testing.T) {
	inst := Start(t, Options{MainCF: "myhostname = other.gw.example.test\n# smtputf8_enable = yes\n" +
		"smtpd_banner = first\n  continued\nsmtpd_banner = $myhostname\n  ESMTP\n"})
	if got := inst.Postconf(t, "myhostname"); got != "other.gw.example.test" {
		t.Fatalf("myhostname = %q", got)
	}
	if got := inst.Postconf(t, "smtputf8_enable"); got != "no" {
		t.Fatalf("smtputf8_enable = %q: a comment replaced the generated line", got)
	}
	if got := inst.Postconf(t, "smtpd_banner"); got != "$myhostname ESMTP" {
		t.Fatalf("smtpd_banner = %q", got)
	}
	b, err := os.ReadFile(inst.ConfigDir + "/main.cf")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\nmyhostname ="); n != 1 || strings.Count(string(b), "smtpd_banner =") != 1 || strings.Contains(string(b), "continued") {
		t.Fatalf("main.cf repeats a parameter:\n%s", b)
	}
	out, err := Command(t, "postconf", "-c", inst.ConfigDir, "-n")
	if err != nil || strings.Contains(string(out), "overriding earlier entry") {
		t.Fatalf("postconf -n: %v: %s", err, out)
	}
}
