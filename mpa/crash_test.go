package mpa

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"postdeck/mta/postfixtest"
	"postdeck/store"
)

// child is an MPA running in a re-executed test binary.
type child struct {
	cmd *exec.Cmd
}

// startChild runs an MPA child serving ln (which the parent keeps open
// across kills, so Postfix's connections wait in its backlog meanwhile).
func startChild(t *testing.T, dir string, ln net.Listener, r *rig) *child {
	t.Helper()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "POSTDECK_MPA_CHILD=1", "POSTDECK_MPA_DIR="+dir,
		"POSTDECK_MPA_REINJECT="+r.reinjAddr, "POSTDECK_MPA_MAILLOG="+r.inst.Maillog)
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
	})
	return c
}

// Acceptance 4: kill -9 the MPA while 2,000 messages flow, restart it;
// every message the MPA acknowledged (250 with its spool id, as Postfix
// logged it) is delivered exactly once, or is in the spool or the error
// repository.
func TestAcceptanceCrashKill9(t *testing.T) {
	r := startRig(t)
	dir := t.TempDir()
	c := startChild(t, dir, r.mpaLn, r)

	const total, senders = 2000, 8
	var sent atomic.Int64
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := gosmtp.Dial(r.inst.SMTPAddr)
			if err != nil {
				t.Error(err)
				return
			}
			defer func() { _ = cl.Close() }()
			for i := g; i < total; i += senders {
				raw := msgWithSubject("crash " + strconv.Itoa(i))
				if err := cl.SendMail("a@example.test", []string{"b@example.org"}, strings.NewReader(raw)); err != nil {
					t.Errorf("send %d: %v", i, err)
					return
				}
				sent.Add(1)
			}
		}()
	}
	waitFor(t, 60*time.Second, "400 messages at the sink", func() bool { return len(r.sink.Messages()) >= 400 })
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
	atKill := len(r.sink.Messages())
	time.Sleep(500 * time.Millisecond)
	c = startChild(t, dir, r.mpaLn, r)
	wg.Wait()
	t.Logf("sent %d; sink had %d at the kill", sent.Load(), atKill)

	// Wait until Postfix's queue is empty and the sink stops growing.
	last, stable := -1, 0
	deadline := time.Now().Add(90 * time.Second)
	for stable < 6 && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		n := len(r.sink.Messages())
		q, _ := exec.Command(filepath.Join(postfixtest.SbinDir, "postqueue"), "-c", r.inst.ConfigDir, "-j").Output()
		if n == last && len(strings.TrimSpace(string(q))) == 0 {
			stable++
		} else {
			stable = 0
		}
		last = n
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("child exit: %v", err)
	}
	db, err := store.Open(filepath.Join(dir, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	spool, err := db.MPASpoolList()
	if err != nil {
		t.Fatal(err)
	}
	errs, err := db.MPAErrorList()
	if err != nil {
		t.Fatal(err)
	}

	// Acknowledged ids: Postfix logged "status=sent (250 ... queued as ID)"
	// for deliveries to the MPA's port.
	mpaPort := r.mpaAddr[strings.LastIndexByte(r.mpaAddr, ':')+1:]
	ackRE := regexp.MustCompile(`relay=127\.0\.0\.1\[127\.0\.0\.1\]:` + mpaPort + `\b.*status=sent \(250 .*queued as ([0-9a-z]+)\)`)
	acked := map[string]bool{}
	for _, line := range strings.Split(r.inst.Log(), "\n") {
		if m := ackRE.FindStringSubmatch(line); m != nil {
			acked[m[1]] = true
		}
	}
	delivered := map[string]int{}
	subjects := map[string]int{}
	for _, m := range r.sink.Messages() {
		delivered[headerOf(m.Data, TraceHeader)]++
		subjects[headerOf(m.Data, "Subject")]++
	}
	held := map[string]string{}
	for _, e := range spool {
		held[e.ID] = "spool"
	}
	interrupted := 0
	for _, e := range errs {
		base, _, _ := strings.Cut(e.ID, "-")
		held[base] = "errors:" + e.Stage
		if e.Stage == store.StageInterrupted {
			interrupted++
		}
	}
	var lost, dup, inDoubtDelivered int
	for id := range acked {
		n := delivered[id]
		switch {
		case n > 1:
			dup++
			t.Errorf("spool id %s delivered %d times", id, n)
		case n == 0 && held[id] == "":
			lost++
			t.Errorf("spool id %s acknowledged but neither delivered nor held", id)
		case n == 1 && held[id] != "":
			inDoubtDelivered++
		}
	}
	dupSubjects := 0
	for s, n := range subjects {
		if n > 1 {
			// Spooled but killed before the 250 went out: Postfix sends
			// it again under a new spool id. Not acknowledged, so allowed.
			dupSubjects++
			t.Logf("%q delivered %d times (unacknowledged first copy)", s, n)
		}
	}
	missing := total - len(subjects) - len(spool) - (len(errs) - inDoubtDelivered)
	summary := fmt.Sprintf("crash test: sent=%d acknowledged=%d delivered=%d spooled=%d errored=%d (interrupted=%d, of which delivered=%d) lost=%d duplicated_acknowledged=%d resent_unacknowledged=%d missing=%d",
		sent.Load(), len(acked), len(subjects), len(spool), len(errs), interrupted, inDoubtDelivered, lost, dup, dupSubjects, missing)
	t.Log(summary)
	fmt.Println(summary)
	if len(acked) < total {
		t.Errorf("only %d acknowledgements in the maillog, want >= %d", len(acked), total)
	}
	if missing > 0 {
		t.Errorf("%d messages neither delivered nor held by the MPA", missing)
	}
}
