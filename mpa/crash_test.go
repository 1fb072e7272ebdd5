package mpa

import (
	"bufio"
	"fmt"
	"math/rand/v2"
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

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// child is an MPA running in a re-executed test binary.
type child struct {
	cmd   *exec.Cmd
	ready chan struct{}
}

// startChild runs an MPA child serving ln (which the parent keeps open
// across kills, so Postfix's connections wait in its backlog meanwhile);
// its log goes to logf.
func startChild(t testing.TB, dir string, ln net.Listener, r *rig, logf *os.File) *child {
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
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, ready: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(c.ready)
			}
		}
	}()
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
	})
	return c
}

func (c *child) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
}

// crashResult is what a crash run found.
type crashResult struct {
	Sent, Kills                            int
	Delivered, Lost, Duplicated            int // distinct messages at the sink, missing, arriving twice or more
	Acknowledged, AckNotOnce               int // spool ids acknowledged to Postfix; of those not delivered exactly once
	Spooled, Errored                       int // left in the MPA after the run
	Resent                                 int // resends the MPA recognised (its log)
	InDoubtDelivered, InDoubtResent, Unres int // in-doubt deliveries settled from Postfix's log (its log)
	Elapsed                                time.Duration
}

func (c crashResult) String() string {
	return fmt.Sprintf("crash: sent=%d kills=%d delivered=%d lost=%d duplicated=%d acknowledged=%d ack_not_once=%d spooled=%d errored=%d resent_recognised=%d in_doubt_delivered=%d in_doubt_resent=%d in_doubt_unresolved=%d elapsed=%v",
		c.Sent, c.Kills, c.Delivered, c.Lost, c.Duplicated, c.Acknowledged, c.AckNotOnce, c.Spooled, c.Errored, c.Resent,
		c.InDoubtDelivered, c.InDoubtResent, c.Unres, c.Elapsed.Round(time.Millisecond))
}

// runCrash sends total messages through Postfix -> MPA (a child process)
// -> Postfix -> sink and kill -9s the MPA kills times at random moments
// of the flow (each one at a random time, up to maxLife, after the child
// started: during its recovery too), restarting it each time. Then it
// waits, with deadlines, until Postfix's queue is empty and every message
// reached the sink, stops the MPA and reads its store.
func runCrash(t testing.TB, total, kills int, maxLife time.Duration) crashResult {
	r := startRig(t)
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "mpa.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logf.Close() }()
	seed := time.Now().UnixNano()
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("crash run: %d messages, %d kills, seed %d", total, kills, seed)
	start := time.Now()
	c := startChild(t, dir, r.mpaLn, r, logf)

	const senders = 8
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
	// The kills: each at a random moment of a child's life, while mail
	// flows (at least one message through since the previous kill, so
	// that they spread over the flow rather than bunch at its start).
	killed := 0
	for k := range kills {
		before := r.sink.Count()
		life := time.Duration(rnd.Int64N(int64(maxLife)))
		timer := time.NewTimer(life)
		<-timer.C
		lastFlush := time.Now()
		flowing := waitUntil(60*time.Second, func() bool {
			if r.sink.Count() > before || r.sink.Count() >= total {
				return true
			}
			if time.Since(lastFlush) > 5*time.Second { // see the flush below
				lastFlush = time.Now()
				r.flush(t)
			}
			return false
		})
		if !flowing {
			t.Errorf("no mail flowed for 60 s before kill %d (sink %d of %d)", k+1, r.sink.Count(), total)
			break
		}
		c.kill()
		killed++
		c = startChild(t, dir, r.mpaLn, r, logf)
	}
	select {
	case <-c.ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the last MPA child did not start")
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Postfix can leave a message that a killed MPA had in flight in its
	// incoming queue ("skipped, still being delivered" while the error
	// agent deferred it), where qmgr looks again only when new mail
	// triggers it; with no more mail coming, a flush is that trigger.
	lastFlush := time.Now()
	drained := waitUntil(120*time.Second, func() bool {
		if len(sinkSubjects(r.sink)) >= total && r.queueEmpty(t) {
			return true
		}
		if time.Since(lastFlush) > 5*time.Second {
			lastFlush = time.Now()
			r.flush(t)
		}
		return false
	})
	if !drained {
		// Fail, and still collect what the MPA left for the diagnosis.
		q, err := r.postqueueJSON()
		t.Errorf("timed out waiting for every message at the sink (%d of %d) and an empty Postfix queue (postqueue: %v):\n%s",
			len(sinkSubjects(r.sink)), total, err, q)
	}
	res := crashResult{Sent: int(sent.Load()), Kills: killed, Elapsed: time.Since(start)}
	// A clean stop, then the store as the MPA left it.
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
	res.Spooled, res.Errored = len(spool), len(errs)
	for _, e := range spool {
		t.Errorf("left in the spool: %s %+v", e.ID, e)
	}
	for _, e := range errs {
		t.Errorf("in the error repository: %s stage=%s reason=%s", e.ID, e.Stage, e.Reason)
	}

	subjects := sinkSubjects(r.sink)
	bySpoolID := map[string]int{}
	for _, m := range r.sink.Messages() {
		bySpoolID[headerOf(m.Data, TraceHeader)]++
	}
	for i := range total {
		switch n := subjects["crash "+strconv.Itoa(i)]; {
		case n == 0:
			res.Lost++
			t.Errorf("message %d never arrived", i)
		case n > 1:
			res.Duplicated++
			t.Errorf("message %d arrived %d times", i, n)
		}
	}
	res.Delivered = len(subjects)
	// Every spool id Postfix logged as acknowledged ("status=sent (250 ...
	// queued as ID)" for the MPA's port) was delivered exactly once.
	mpaPort := strconv.Itoa(r.mpaLn.Addr().(*net.TCPAddr).Port)
	ackRE := regexp.MustCompile(`relay=127\.0\.0\.1\[127\.0\.0\.1\]:` + mpaPort + `\b.*status=sent \(250 .*queued as ([0-9a-z]+)\)`)
	acked := map[string]bool{}
	for _, line := range strings.Split(r.inst.Log(), "\n") {
		if m := ackRE.FindStringSubmatch(line); m != nil {
			acked[m[1]] = true
		}
	}
	res.Acknowledged = len(acked)
	mlog, err := os.ReadFile(logf.Name())
	if err != nil {
		t.Fatal(err)
	}
	for id := range acked {
		if bySpoolID[id] != 1 {
			res.AckNotOnce++
			t.Errorf("acknowledged spool id %s delivered %d times", id, bySpoolID[id])
			// What Postfix and the MPA said about it, to find out why.
			for _, text := range []string{r.inst.Log(), string(mlog)} {
				for _, line := range strings.Split(text, "\n") {
					if strings.Contains(line, id) {
						t.Logf("  %s", line)
					}
				}
			}
		}
	}
	for _, line := range strings.Split(string(mlog), "\n") {
		switch {
		case strings.Contains(line, "recognised a message postfix sent again"):
			res.Resent++
		case strings.Contains(line, "in-doubt delivery settled") && strings.Contains(line, "outcome=delivered"):
			res.InDoubtDelivered++
		case strings.Contains(line, "in-doubt delivery settled"):
			res.InDoubtResent++
		case strings.Contains(line, "stage=interrupted"):
			res.Unres++
		case strings.Contains(line, "level=ERROR") || strings.Contains(line, "panic"):
			t.Errorf("MPA child: %s", line)
		}
	}
	if t.Failed() {
		// Keep the evidence: the maillog and the MPA's log.
		keep := filepath.Join(os.TempDir(), "postdeck-crash-"+strconv.FormatInt(seed, 10))
		if err := os.MkdirAll(keep, 0o700); err == nil {
			_ = os.WriteFile(filepath.Join(keep, "maillog"), []byte(r.inst.Log()), 0o600)
			_ = os.WriteFile(filepath.Join(keep, "mpa.log"), mlog, 0o600)
			t.Logf("maillog and MPA log kept in %s", keep)
		}
	}
	if res.Sent != total {
		t.Errorf("sent %d of %d", res.Sent, total)
	}
	if res.Acknowledged < total {
		t.Errorf("only %d acknowledgements in the maillog, want >= %d", res.Acknowledged, total)
	}
	return res
}

// Acceptance (issues #15, #21): 100 kill -9 at random moments while 2,000
// messages flow: every message reaches the sink exactly once, every
// acknowledged spool id is delivered exactly once, the spool is empty
// afterwards and the error repository too (no in-doubt delivery left for
// a person). BenchmarkCrash runs the same and reports the counts.
func TestAcceptanceCrashKill9(t *testing.T) {
	res := runCrash(t, 2000, 100, 300*time.Millisecond)
	t.Log(res)
	if res.Kills != 100 {
		t.Errorf("%d kills", res.Kills)
	}
}

// BenchmarkCrash prints lost, duplicated and in-doubt counts of the crash
// run (make bench).
func BenchmarkCrash(b *testing.B) {
	total, kills := 2000, 100
	if postfixtest.Smoke() {
		total, kills = 200, 10 // the same checks, on a tenth
	}
	for range b.N {
		res := runCrash(b, total, kills, 300*time.Millisecond)
		fmt.Println(res)
		b.ReportMetric(float64(res.Lost), "lost")
		b.ReportMetric(float64(res.Duplicated), "duplicated")
		b.ReportMetric(float64(res.InDoubtDelivered+res.InDoubtResent), "in-doubt-settled")
		b.ReportMetric(float64(res.Unres), "in-doubt-unresolved")
		b.ReportMetric(float64(res.Resent), "resends-recognised")
	}
}
