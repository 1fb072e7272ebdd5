package admin

import (
	"context"
	"fmt"
	"log/slog"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
	"postdeck/queue"
)

// TestQueueActionIgnoresFilterPaging: an action by filter acts on every
// message the filter matches, and the filter's offset and limit are
// ignored (docs/api.md): a filter taken from a listing's page, with
// "limit": 5000 or "offset": -1 beside its criteria, was refused (400
// on limit, or offset) because the request's filter was normalized as a
// page before its paging was dropped.
func TestQueueActionIgnoresFilterPaging(t *testing.T) {
	inst := postfixtest.Start(t, postfixtest.Options{})
	q := queue.New(postfix.Runner{SbinDir: postfixtest.SbinDir, ConfigDir: inst.ConfigDir}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := q.Start(ctx, queue.IndexOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Shutdown(context.Background()) })
	s, db, _ := loggedService(t, func(c *Config) { c.Queue = q })

	for i := range 2 {
		msg := fmt.Sprintf("From: <paging@a.test>\r\nTo: <r@dest.test>\r\nSubject: paging %d\r\n\r\nbody\r\n", i)
		if err := smtp.SendMail(inst.SMTPAddr, nil, "paging@a.test", []string{"r@dest.test"}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until both are out of incoming/active (deferred: the relay is closed).
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := s.QueueList(ctx, Root, queue.Filter{Queue: queue.Deferred, Sender: "paging@a.test"})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 2 messages deferred after 30s", p.Total)
		}
		time.Sleep(100 * time.Millisecond)
	}

	for _, paging := range []queue.Filter{{Limit: 5000}, {Offset: -1, Limit: 1}} {
		f := paging
		f.Queue, f.Sender = queue.Deferred, "paging@a.test"
		res, err := s.QueueAction(ctx, Root, QueueActionRequest{Action: queue.ActionHold, Filter: &f})
		if err != nil {
			t.Fatalf("hold by a filter with offset %d, limit %d: %v", f.Offset, f.Limit, err)
		}
		if res.Requested != 2 || res.Affected != 2 {
			t.Errorf("hold by a filter with offset %d, limit %d: %+v, want both held", f.Offset, f.Limit, res)
		}
		if e := newest(t, db); e.Action != "queue hold" || !strings.Contains(e.Detail, "2 requested, 2 affected") {
			t.Errorf("audit entry %q %q", e.Action, e.Detail)
		}
		if _, err := s.QueueAction(ctx, Root, QueueActionRequest{Action: queue.ActionRelease, Filter: &queue.Filter{Queue: queue.Hold, Sender: "paging@a.test"}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestQueueActionFailedPartwayIsAudited: an action that fails after
// Postfix acted on messages writes an audit entry that says how many it
// affected. Here a bounce expired the message (postsuper -f), and its
// delivery attempt then failed: Postfix had stopped between postdeck's
// check and the attempt (this service's MTA is another, running
// instance, to stop it in that window). The entry said only "internal
// error": the expired message is returned to its sender all the same.
func TestQueueActionFailedPartwayIsAudited(t *testing.T) {
	running := postfixtest.Start(t, postfixtest.Options{})
	inst := postfixtest.Start(t, postfixtest.Options{})
	q := queue.New(postfix.Runner{SbinDir: postfixtest.SbinDir, ConfigDir: inst.ConfigDir}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := q.Start(ctx, queue.IndexOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Shutdown(context.Background()) })
	s, db, _ := loggedService(t, func(c *Config) { c.Queue = q }, withMTA(t, running.Base, running.ConfigDir))

	msg := "From: <partway@a.test>\r\nTo: <r@dest.test>\r\nSubject: partway\r\n\r\nbody\r\n"
	if err := smtp.SendMail(inst.SMTPAddr, nil, "partway@a.test", []string{"r@dest.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	var qid string
	deadline := time.Now().Add(30 * time.Second)
	for qid == "" {
		p, err := s.QueueList(ctx, Root, queue.Filter{Queue: queue.Deferred, Sender: "partway@a.test"})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) == 1 {
			qid = p.Items[0].QueueID
		} else if time.Now().After(deadline) {
			t.Fatal("the message was not deferred after 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := postfixtest.Command(t, "postfix", "-c", inst.ConfigDir, "stop"); err != nil {
		t.Fatalf("postfix stop: %v: %s", err, out)
	}

	res, err := s.QueueAction(ctx, Root, QueueActionRequest{Action: queue.ActionBounce, IDs: []string{qid}})
	if err == nil {
		t.Fatalf("bounce with Postfix stopped before its delivery attempt succeeded: %+v", res)
	}
	e := newest(t, db)
	if e.Action != "queue bounce" || e.Result != ResultFailed || !strings.Contains(e.Detail, "ids "+qid+": 1 requested, 1 affected before the action failed") {
		t.Errorf("audit entry %q %q %q, want a failure that says the message was affected", e.Action, e.Result, e.Detail)
	}
}
