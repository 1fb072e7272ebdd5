package queue

import (
	"context"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// TestRequeueFollows is issue #17's "Requeue follows the message to its
// new id", against Postfix: postsuper -r renames the file into maildrop
// under its name (same inode), pickup gives it a new id, and a requeue
// by ids reports each new id; messages from the same sender at the same
// second and to the same recipients are not mistaken for each other
// (log_ident tells them apart), a message requeued twice is followed
// twice, several at once; with master stopped the requeue answers at
// once, and the message waits in maildrop under its old id.
func TestRequeueFollows(t *testing.T) {
	e := qtStart(t, 0)
	// Twins: same sender, same recipient, sent at once, so that they
	// arrive within the same second: only log_ident tells them apart.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { qtSend(t, e.inst.SMTPAddr, "twin@a.test", []string{"x@dest1.test"}, "twin", 10) })
	}
	wg.Wait()
	e.qtWaitDeferred(t, 4)
	ctx := context.Background()
	mustList := func() map[string]Message {
		out := map[string]Message{}
		for _, m := range e.qtList(t, Filter{Limit: 100}).Items {
			out[m.QueueID] = m
		}
		return out
	}
	before := mustList()
	// The first is one that shares its second with another.
	var twins []string
	for _, m := range e.qtList(t, Filter{Limit: 100}).Items {
		twins = append(twins, m.QueueID)
	}
	slices.SortStableFunc(twins, func(x, y string) int {
		return cmpTwins(before, x) - cmpTwins(before, y)
	})
	if !before[twins[0]].ArrivalTime.Equal(before[twins[1]].ArrivalTime) {
		t.Fatalf("no two of the four arrived in the same second: %v", before)
	}

	res := e.qtAct(t, ActionRequeue, twins[0])
	newID := res.RequeuedAs[twins[0]]
	if res.Affected != 1 || len(res.RequeuedAs) != 1 || !ValidID(newID) || newID == twins[0] {
		t.Fatalf("requeue one: %+v", res)
	}
	now := mustList()
	if _, ok := now[twins[0]]; ok {
		t.Errorf("the old id %s is still listed", twins[0])
	}
	if m, ok := now[newID]; !ok || m.Sender != "twin@a.test" || !m.ArrivalTime.Equal(before[twins[0]].ArrivalTime) || slices.Contains(twins, newID) {
		t.Fatalf("the new id %s: %+v (listed %v)", newID, m, ok)
	}
	path, _, _ := e.q.watcher().findFile(newID)
	if ident := newFileReader(defaultFileConf(), nil).logIdent(path); ident != twins[0] {
		t.Errorf("log_ident of the new file %q, want the first id %s", ident, twins[0])
	}

	// Again: log_ident still names the first id; the new one is found.
	res = e.qtAct(t, ActionRequeue, newID)
	second := res.RequeuedAs[newID]
	if !ValidID(second) || second == newID || second == twins[0] {
		t.Fatalf("requeue again: %+v", res)
	}
	// Two at once, an unknown id beside them.
	res = e.qtAct(t, ActionRequeue, twins[1], twins[2], "4jZZFn03xzz1SCLg")
	a, b := res.RequeuedAs[twins[1]], res.RequeuedAs[twins[2]]
	if res.Affected != 2 || res.GoneCount != 1 || !ValidID(a) || !ValidID(b) || a == b || len(res.RequeuedAs) != 2 {
		t.Fatalf("requeue two: %+v", res)
	}
	final := mustList()
	want := []string{second, a, b, twins[3]}
	var have []string
	for id := range final {
		have = append(have, id)
	}
	slices.Sort(want)
	slices.Sort(have)
	if !slices.Equal(have, want) {
		t.Fatalf("queued after the requeues: %v, want %v", have, want)
	}

	// Master stopped (the maillog given to the mail owner, so that
	// postsuper can log): no waiting, the file is renamed into maildrop
	// under its own name.
	u, err := user.Lookup(e.inst.Postconf(t, "mail_owner"))
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(e.inst.Maillog, uid, gid); err != nil {
		t.Fatal(err)
	}
	postfixtest.StopByPidFile(t, e.inst.QueueDir)
	oldPath, _, _ := e.q.watcher().findFile(twins[3])
	var st syscall.Stat_t
	if err := syscall.Stat(oldPath, &st); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err = e.q.Action(ctx, ActionRequeue, []string{twins[3]})
	if err != nil || res.Affected != 1 || len(res.RequeuedAs) != 0 {
		t.Fatalf("requeue with master stopped: %+v %v", res, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the requeue waited %v for a pickup that cannot run", d)
	}
	var st2 syscall.Stat_t
	if err := syscall.Stat(e.inst.QueueDir+"/maildrop/"+twins[3], &st2); err != nil || st2.Ino != st.Ino {
		t.Fatalf("maildrop/%s: %v, inode %d, was %d", twins[3], err, st2.Ino, st.Ino)
	}
	if m := mustList()[twins[3]]; m.QueueName != Maildrop {
		t.Errorf("with master stopped the requeued message is listed in %q", m.QueueName)
	}
	// Started again, pickup takes it under a new id.
	if out, err := postfixtest.Command(t, "postfix", "-c", e.inst.ConfigDir, "start"); err != nil {
		t.Fatalf("postfix start: %v %s", err, out)
	}
	e.qtWaitFor(t, "the maildrop message picked up", func(m map[string]jsonMessage) bool {
		_, old := m[twins[3]]
		return !old && len(m) == 4
	})
}

// cmpTwins orders the messages that share their arrival second with
// more others first.
func cmpTwins(all map[string]Message, id string) int {
	n := 0
	for _, m := range all {
		if m.ArrivalTime.Equal(all[id].ArrivalTime) {
			n++
		}
	}
	return -n
}

// TestEnvelopeFilterRecord: cleanup writes the content filter a message
// goes to into its queue file's envelope (an L record before the
// content, REC_TYPE_FILT), which tells the requeue follower to wait for
// the message to come back; a message without a filter has none, so the
// follower is done with it once it left the queue. Checked against
// Postfix's own files (the filter here is a closed port, so the message
// stays deferred with its record), with postcat -e as the witness.
func TestEnvelopeFilterRecord(t *testing.T) {
	closed := postfixtest.FreePort(t)
	filter := "smtp:[127.0.0.1]:" + strconv.Itoa(closed)
	e := qtStartCF(t, 0, "content_filter = "+filter+"\n")
	qtSend(t, e.inst.SMTPAddr, "filtered@a.test", []string{"x@dest1.test"}, "filtered", 10)
	id := qtBySender(e.qtWaitDeferred(t, 1), "filtered@a.test")[0]
	path, _, _ := e.q.watcher().findFile(id)
	r := newFileReader(defaultFileConf(), nil)
	ident, hasFilter, ok := r.envelopeInfo(path)
	if !ok || !hasFilter || ident != id {
		t.Errorf("with content_filter: log_ident %q, filter %v, read %v", ident, hasFilter, ok)
	}
	out, err := postfixtest.Command(t, "postcat", "-c", e.inst.ConfigDir, "-e", "-q", id)
	if err != nil || !strings.Contains(out, "content_filter: "+filter) {
		t.Errorf("postcat -e: %v\n%s", err, out)
	}

	plain := qtStart(t, 0)
	qtSend(t, plain.inst.SMTPAddr, "plain@a.test", []string{"x@dest1.test"}, "plain", 10)
	id = qtBySender(plain.qtWaitDeferred(t, 1), "plain@a.test")[0]
	path, _, _ = plain.q.watcher().findFile(id)
	if ident, hasFilter, ok := r.envelopeInfo(path); !ok || hasFilter || ident != id {
		t.Errorf("without content_filter: log_ident %q, filter %v, read %v", ident, hasFilter, ok)
	}
	if _, _, ok := r.envelopeInfo(path + ".missing"); ok {
		t.Error("a missing file was read")
	}
}
