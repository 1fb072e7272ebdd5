package queue

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/smtp"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
)

// The index must say what `postqueue -j` says, message for message:
// the same ids in the same queues, the same sender, size, arrival time,
// expiry flag, and the same recipients with the same delay reasons in
// the same order. These helpers run a mix of operations, through
// postdeck and behind its back with postsuper, and compare.

// qaOps runs n operations (one operation acts on one message) chosen at
// random with seed: new messages over SMTP, postdeck's hold, release,
// delete, requeue and bounce by ids and by filter, and postsuper's -h,
// -H, -d, -r and -e run directly, and delivery attempts (postqueue -i)
// that rewrite defer logs. It returns how many operations of each kind
// it ran.
func qaOps(tb testing.TB, q *Queue, p postfix.Runner, smtpAddr string, n int, seed uint64, sendRcpt func(i int) []string) map[string]int {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	counts := map[string]int{}
	done := 0
	ids := func(queue string, k int) []string {
		tb.Helper()
		f := Filter{Queue: queue, Limit: MaxPageSize}
		page, err := q.List(ctx, f)
		if err != nil {
			tb.Fatal(err)
		}
		var out []string
		for _, i := range rng.Perm(len(page.Items)) {
			if len(out) == k {
				break
			}
			out = append(out, page.Items[i].QueueID)
		}
		return out
	}
	postsuper := func(flag string, list []string) {
		tb.Helper()
		if len(list) == 0 {
			return
		}
		if _, stderr, err := p.Run(ctx, strings.NewReader(strings.Join(list, "\n")+"\n"), "postsuper", flag, "-"); err != nil {
			tb.Fatalf("postsuper %s: %v: %s", flag, err, stderr)
		}
	}
	act := func(action string, list []string) {
		tb.Helper()
		if len(list) == 0 {
			return
		}
		if _, err := q.Action(ctx, action, list); err != nil {
			tb.Fatalf("%s: %v", action, err)
		}
	}
	sent := 0
	for done < n {
		k := min(1+rng.IntN(40), n-done)
		var kind string
		switch r := rng.IntN(100); {
		case r < 18:
			kind = "smtp"
			for range k {
				from := fmt.Sprintf("s%d@senders%d.test", sent%7, sent%3)
				if sent%11 == 0 {
					from = "" // a bounce-like message: MAILER-DAEMON
				}
				msg := fmt.Sprintf("Subject: op %d\r\n\r\nbody %d\r\n", sent, sent)
				if err := smtp.SendMail(smtpAddr, nil, from, sendRcpt(sent), []byte(msg)); err != nil {
					tb.Fatalf("send: %v", err)
				}
				sent++
			}
		case r < 28:
			kind = "postdeck hold"
			act(ActionHold, ids(Deferred, k))
		case r < 38:
			kind = "postdeck release"
			act(ActionRelease, ids(Hold, k))
		case r < 44:
			kind = "postdeck delete"
			act(ActionDelete, ids("", k))
		case r < 49:
			kind = "postdeck requeue"
			act(ActionRequeue, ids(Deferred, k))
		case r < 52:
			kind = "postdeck hold by filter"
			sender := fmt.Sprintf("s%d@", rng.IntN(7))
			res, err := q.ActionFilter(ctx, ActionHold, Filter{Queue: Deferred, Sender: sender})
			if err != nil {
				tb.Fatal(err)
			}
			k = max(res.Requested, 1)
		case r < 55:
			kind = "postdeck release by filter"
			res, err := q.ActionFilter(ctx, ActionRelease, Filter{Queue: Hold, Recipient: fmt.Sprintf("dest%d", rng.IntN(4))})
			if err != nil {
				tb.Fatal(err)
			}
			k = max(res.Requested, 1)
		case r < 65:
			kind = "postsuper -h"
			postsuper("-h", ids(Deferred, k))
		case r < 75:
			kind = "postsuper -H"
			postsuper("-H", ids(Hold, k))
		case r < 80:
			kind = "postsuper -d"
			postsuper("-d", ids("", k))
		case r < 84:
			kind = "postsuper -r"
			postsuper("-r", ids("", k))
			if _, _, err := p.Run(ctx, nil, "postkick", "public", "pickup", "W"); err != nil {
				tb.Logf("postkick: %v", err)
			}
		case r < 89:
			kind = "postsuper -e"
			postsuper("-e", ids("", k))
		case r < 95:
			kind = "postqueue -i"
			list := ids(Deferred, min(k, 10))
			for _, id := range list {
				if _, stderr, err := p.Run(ctx, nil, "postqueue", "-i", id); err != nil {
					tb.Fatalf("postqueue -i: %v: %s", err, stderr)
				}
			}
			k = max(len(list), 1)
		default:
			kind = "postdeck bounce"
			act(ActionBounce, ids(Deferred, min(k, 5)))
			k = min(k, 5)
		}
		counts[kind] += k
		done += k
	}
	return counts
}

// qaQuiet waits until nothing is in flight (maildrop, incoming and
// active are empty, per postqueue -j), so that both views can be taken
// of a queue that does not move.
func qaQuiet(tb testing.TB, q *Queue, within time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		busy := 0
		err := q.scan(context.Background(), func(m *jsonMessage) error {
			if m.QueueName == Maildrop || m.QueueName == Incoming || m.QueueName == Active {
				busy++
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d messages still in flight after %v", busy, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// qaCompare compares the index (through List, after it caught up) with
// postqueue -j and reports every difference; it returns the number of
// messages compared.
func qaCompare(tb testing.TB, q *Queue) int {
	tb.Helper()
	ctx := context.Background()
	if _, err := q.WaitIndexed(ctx); err != nil {
		tb.Fatalf("no index to compare: %v", err)
	}
	truth := map[string]jsonMessage{}
	if err := q.scan(ctx, func(m *jsonMessage) error {
		c := *m
		c.Recipients = slices.Clone(m.Recipients)
		truth[m.QueueID] = c
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	got := map[string]Message{}
	for off := 0; ; off += MaxPageSize {
		page, err := q.List(ctx, Filter{Offset: off, Limit: MaxPageSize})
		if err != nil {
			tb.Fatal(err)
		}
		for _, m := range page.Items {
			got[m.QueueID] = m
		}
		if off+MaxPageSize >= page.Total {
			break
		}
	}
	q.mu.Lock()
	fellBack := q.snap != nil || q.pending != nil
	q.mu.Unlock()
	if fellBack {
		tb.Fatal("List answered from a postqueue -j snapshot, not from the index")
	}
	diffs := 0
	report := func(format string, args ...any) {
		tb.Helper()
		if diffs++; diffs <= 20 {
			tb.Errorf(format, args...)
		}
	}
	for id, want := range truth {
		m, ok := got[id]
		if !ok {
			report("%s (%s) is in postqueue -j but not in the index", id, want.QueueName)
			continue
		}
		if m.QueueName != want.QueueName || m.Sender != want.Sender || m.Size != want.MessageSize ||
			m.ArrivalTime.Unix() != want.ArrivalTime || m.ForcedExpire != want.ForcedExpire {
			report("%s: index %s %q size %d arrival %d expired %v; postqueue -j %s %q size %d arrival %d expired %v", id,
				m.QueueName, m.Sender, m.Size, m.ArrivalTime.Unix(), m.ForcedExpire,
				want.QueueName, want.Sender, want.MessageSize, want.ArrivalTime, want.ForcedExpire)
		}
		wantR := make([]Recipient, len(want.Recipients))
		for i, r := range want.Recipients {
			wantR[i] = Recipient(r)
		}
		if !slices.Equal(m.Recipients, wantR) {
			report("%s recipients: index %+v; postqueue -j %+v", id, m.Recipients, wantR)
		}
	}
	for id, m := range got {
		if _, ok := truth[id]; !ok {
			report("%s (%s) is in the index but not in postqueue -j", id, m.QueueName)
		}
	}
	if diffs > 0 {
		tb.Fatalf("%d differences between the index and postqueue -j (%d and %d messages)", diffs, len(got), len(truth))
	}
	// The summary the index kept current through all of it is the one a
	// scan of its messages makes.
	checkTally(tb, q.watcher().idx, time.Now().UTC())
	return len(truth)
}

// TestIndexAgreesWithPostqueue runs 2,000 mixed operations (BenchmarkQueue
// runs 10,000 on a bigger queue) and compares the index with postqueue -j
// after them, then again after more postsuper runs while master is
// stopped.
func TestIndexAgreesWithPostqueue(t *testing.T) {
	// Filtered actions of two messages or more take the lanes.
	defer func(old int) { laneThreshold = old }(laneThreshold)
	laneThreshold = 2
	e := qtStart(t, 0)
	p := postfix.Runner{SbinDir: postfixtest.SbinDir, ConfigDir: e.inst.ConfigDir}
	rcpts := func(i int) []string {
		switch i % 5 {
		case 0:
			return []string{fmt.Sprintf("r%d@dest%d.test", i, i%4), fmt.Sprintf("x%d@dest%d.test", i, (i+1)%4)}
		case 1:
			return []string{`"odd local"@dest1.test`}
		default:
			return []string{fmt.Sprintf("r%d@dest%d.test", i, i%4)}
		}
	}
	// 400 to start with: the operations' course depends on timing (which
	// messages each listing finds), and one run under -race deleted 425
	// of 473 messages; what is left must be enough to compare.
	for i := range 400 {
		from := fmt.Sprintf("s%d@senders%d.test", i%7, i%3)
		if err := smtp.SendMail(e.inst.SMTPAddr, nil, from, rcpts(i), []byte("Subject: seed\r\n\r\nx\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	e.qtWaitDeferred(t, 400)
	counts := qaOps(t, e.q, p, e.inst.SMTPAddr, 2000, 1, rcpts)
	t.Logf("operations: %v", counts)
	qaQuiet(t, e.q, time.Minute)
	n := qaCompare(t, e.q)
	if n < 50 {
		t.Fatalf("only %d messages left to compare", n)
	}

	// Master down: postsuper and the index both work on the files.
	// postsuper then writes the instance's maillog_file itself, as the
	// mail owner: give it the file postlogd made as root.
	if u, err := user.Lookup(e.inst.Postconf(t, "mail_owner")); err != nil {
		t.Fatal(err)
	} else if uid, gid := qtAtoi(t, u.Uid), qtAtoi(t, u.Gid); os.Chown(e.inst.Maillog, uid, gid) != nil {
		t.Fatalf("chown maillog to %s", u.Username)
	}
	postfixtest.StopByPidFile(t, e.inst.QueueDir)
	held, err := e.q.List(context.Background(), Filter{Queue: Deferred, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := p.Run(context.Background(), strings.NewReader(strings.Join(qtIDs(held), "\n")+"\n"), "postsuper", "-h", "-"); err != nil {
		t.Fatalf("postsuper -h with master down: %v: %s", err, stderr)
	}
	if page, err := e.q.List(context.Background(), Filter{Queue: Hold, Limit: MaxPageSize}); err != nil {
		t.Fatal(err)
	} else if !qtContainsAll(qtIDs(page), qtIDs(held)) {
		t.Fatalf("held with master down, not held in the index: %v", qtIDs(held))
	}
	qaCompare(t, e.q)
}

func qtAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func qtContainsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// TestIndexHealsAndStops: a reconciliation puts back what the index lost
// and drops what it should not have, and Shutdown stops the watcher
// (listings then run postqueue -j).
func TestIndexHealsAndStops(t *testing.T) {
	e := qtStart(t, 0)
	for i := range 3 {
		qtSend(t, e.inst.SMTPAddr, "alice@a.test", []string{"x@dest1.test"}, fmt.Sprintf("heal %d", i), 10)
	}
	e.qtWaitDeferred(t, 3)
	ctx := context.Background()
	if _, err := e.q.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	w := e.q.watcher()
	// Lose one message and invent another, behind the watcher's back.
	w.idx.mu.Lock()
	var lost string
	w.idx.ids(func(id string) {
		if lost == "" {
			lost = id
		}
	})
	w.idx.remove(lost)
	w.idx.put(queueEntry{id: "4jZZFn03xzz1SCLg", sender: "ghost@x.test", queue: 3}, entryMeta{dir: 0})
	w.idx.mu.Unlock()
	if p, err := e.q.List(ctx, Filter{}); err != nil || p.Total != 3 || slices.Contains(qtIDs(p), lost) {
		t.Fatalf("the tampered index should show the damage: %v %v", qtIDs(p), err)
	}
	reconcileAndWait(t, w)
	qaCompare(t, e.q)

	if err := e.q.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
	default:
		t.Fatal("the watcher still runs after Shutdown")
	}
	if _, err := w.sync(ctx); err == nil {
		t.Fatal("a stopped watcher answered")
	}
	if p := e.qtList(t, Filter{}); p.Total != 3 {
		t.Fatalf("listing without the index: %d messages", p.Total)
	}
	e.q.mu.Lock()
	fellBack := e.q.snap != nil
	e.q.mu.Unlock()
	if !fellBack {
		t.Fatal("without the index, List did not use postqueue -j")
	}
}

// TestIndexFollowsMainCF: the index reads the queue files with main.cf's
// parameters (smtputf8_enable, empty_address_recipient, the hashing);
// when an administrator changes one, after the reload it lists what
// showq lists, not what it listed before until postdeck restarts.
func TestIndexFollowsMainCF(t *testing.T) {
	e := qtStartCF(t, 0, "smtputf8_enable = yes\n")
	if err := smtp.SendMail(e.inst.SMTPAddr, nil, "jörg@a.test", []string{"müller@dest1.test"}, []byte("Subject: utf8\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	e.qtWaitDeferred(t, 1)
	qaCompare(t, e.q)
	if p := e.qtList(t, Filter{Sender: "jörg@"}); p.Total != 1 {
		t.Fatalf("with SMTPUTF8 on: %+v", p.Items)
	}
	// SMTPUTF8 turned off, main.cf written in place (an editor), then
	// replaced (postconf -e renames a new file in).
	f, err := os.OpenFile(e.inst.ConfigDir+"/main.cf", os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(f, "smtputf8_enable = no\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := postfixtest.Command(t, "postfix", "-c", e.inst.ConfigDir, "reload"); err != nil {
		t.Fatalf("postfix reload: %v %s", err, out)
	}
	e.qtWaitFor(t, "showq without SMTPUTF8", func(m map[string]jsonMessage) bool {
		return len(qtBySender(m, "j??rg@a.test")) == 1
	})
	qaCompare(t, e.q)
	if p := e.qtList(t, Filter{Sender: "j??rg@"}); p.Total != 1 {
		t.Fatalf("with SMTPUTF8 off: %+v", p.Items)
	}
	if out, err := postfixtest.Command(t, "postconf", "-c", e.inst.ConfigDir, "-e", "empty_address_recipient = nobody-here"); err != nil {
		t.Fatalf("postconf -e: %v %s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.q.watcher().conf.Load().emptyAddr != "nobody-here" {
		if time.Now().After(deadline) {
			t.Fatalf("main.cf replaced: the index still reads with %+v", *e.q.watcher().conf.Load())
		}
		if _, err := e.q.WaitIndexed(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
