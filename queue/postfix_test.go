package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"net/smtp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postdeck/panics"
	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// qtEnv is a private Postfix whose relay target is closed (mail stays
// deferred) and a Queue on it whose commands are counted.
type qtEnv struct {
	inst  *postfixtest.Instance
	q     *Queue
	calls atomic.Int64
}

// qtMainCF keeps a closed relay target from being marked dead after one
// failure, so a retry right after opening it really connects, and keeps
// Postfix from retrying deferred mail on its own during a test.
const qtMainCF = `default_destination_concurrency_failed_cohort_limit = 1000
minimal_backoff_time = 600s
maximal_backoff_time = 1200s
queue_run_delay = 600s
`

func qtStart(t *testing.T, relayPort int) *qtEnv {
	t.Helper()
	return qtStartCF(t, relayPort, "")
}

// qtStartCF is qtStart with more main.cf lines.
func qtStartCF(t *testing.T, relayPort int, mainCF string) *qtEnv {
	t.Helper()
	inst := postfixtest.Start(t, postfixtest.Options{RelayPort: relayPort, MainCF: qtMainCF + mainCF})
	e := &qtEnv{inst: inst}
	p := postfix.Runner{SbinDir: postfixtest.SbinDir, ConfigDir: inst.ConfigDir}
	e.q = New(p, slog.New(slog.DiscardHandler))
	e.q.stream = func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, name string, args ...string) error {
		e.calls.Add(1)
		return p.Stream(ctx, stdin, stdout, stderr, name, args...)
	}
	if err := e.q.Start(context.Background(), IndexOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.q.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if n := panics.Total(); n != 0 {
			t.Errorf("%d panics recovered in queue goroutines", n)
		}
	})
	return e
}

// qtSend submits one message with a real SMTP client and returns its
// Message-ID (without brackets).
func qtSend(t *testing.T, addr, from string, to []string, subject string, bodyBytes int) string {
	t.Helper()
	mid := fmt.Sprintf("%d.%s@test.example", time.Now().UnixNano(), strings.NewReplacer("@", ".", " ", "-").Replace(subject))
	msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s>\r\n\r\n%s\r\n",
		from, strings.Join(to, ">, <"), subject, mid, strings.Repeat("x", bodyBytes))
	if err := smtp.SendMail(addr, nil, from, to, []byte(msg)); err != nil {
		t.Fatalf("send %s: %v", subject, err)
	}
	return mid
}

// qtListing is Postfix's own view: every message by queue id.
func (e *qtEnv) qtListing(t *testing.T) map[string]jsonMessage {
	t.Helper()
	out := make(map[string]jsonMessage)
	err := e.q.scan(context.Background(), func(m *jsonMessage) error {
		c := *m
		c.Recipients = slices.Clone(m.Recipients)
		out[m.QueueID] = c
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// qtWaitDeferred waits until n messages are deferred with a delay reason.
func (e *qtEnv) qtWaitDeferred(t *testing.T, n int) map[string]jsonMessage {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		all := e.qtListing(t)
		ready := 0
		for _, m := range all {
			if m.QueueName == Deferred && len(m.Recipients) > 0 && m.Recipients[0].DelayReason != "" {
				ready++
			}
		}
		if ready == n && len(all) == n {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages deferred after 30s (%d queued)\n%s", ready, n, len(all), e.inst.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// qtWaitFor polls Postfix's listing until cond holds.
func (e *qtEnv) qtWaitFor(t *testing.T, what string, cond func(map[string]jsonMessage) bool) map[string]jsonMessage {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		all := e.qtListing(t)
		if cond(all) {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; queue: %+v", what, all)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func qtIDs(p Page) []string {
	var ids []string
	for _, m := range p.Items {
		ids = append(ids, m.QueueID)
	}
	return ids
}

func (e *qtEnv) qtList(t *testing.T, f Filter) Page {
	t.Helper()
	e.q.Refresh()
	p, err := e.q.List(context.Background(), f)
	if err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return p
}

// TestQueueListing is acceptance 1: messages sent with a real SMTP client
// appear with the right sender, recipients, size and delay reason; filters
// and paging return the right subsets and totals.
func TestQueueListing(t *testing.T) {
	e := qtStart(t, 0)
	addr := e.inst.SMTPAddr
	for i := range 3 {
		qtSend(t, addr, "alice@a.test", []string{"x@dest1.test"}, fmt.Sprintf("alice %d", i), 100)
	}
	for i := range 2 {
		qtSend(t, addr, "bob@b.test", []string{"y@dest2.test", "z@dest1.test"}, fmt.Sprintf("bob %d", i), 200)
	}
	qtSend(t, addr, "carol@c.test", []string{"w@dest3.test"}, "carol big", 20000)
	sentID, err := SendMail(context.Background(), addr, SendMailRequest{
		Subject: "from the form", From: "Dora <dora@d.test>", Recipients: AddressList{"v@dest4.test"}, Body: "hi",
	})
	if err != nil {
		t.Fatal(err)
	}
	truth := e.qtWaitDeferred(t, 7)

	all := e.qtList(t, Filter{Limit: 100})
	if all.Total != 7 || len(all.Items) != 7 {
		t.Fatalf("total %d items %d", all.Total, len(all.Items))
	}
	if time.Since(all.AsOf) > time.Minute || all.AsOf.After(time.Now()) {
		t.Fatalf("as of %v", all.AsOf)
	}
	var totalBytes int64
	for _, m := range all.Items {
		want := truth[m.QueueID]
		if m.QueueName != Deferred || m.Sender != want.Sender || m.Size != want.MessageSize || len(m.Recipients) != len(want.Recipients) {
			t.Fatalf("row %+v, postqueue says %+v", m, want)
		}
		for _, r := range m.Recipients {
			if !strings.Contains(r.DelayReason, "Connection refused") {
				t.Fatalf("delay reason %q", r.DelayReason)
			}
		}
		totalBytes += m.Size
		switch m.Sender {
		case "alice@a.test":
			if m.Recipients[0].Address != "x@dest1.test" || m.Size < 100 || m.Size > 1000 {
				t.Fatalf("alice row %+v", m)
			}
		case "bob@b.test":
			got := []string{m.Recipients[0].Address, m.Recipients[1].Address}
			slices.Sort(got)
			if !slices.Equal(got, []string{"y@dest2.test", "z@dest1.test"}) {
				t.Fatalf("bob row %+v", m)
			}
		case "carol@c.test":
			if m.Size < 20000 || m.Size > 21000 {
				t.Fatalf("carol size %d", m.Size)
			}
		case "dora@d.test":
			if m.QueueID != sentID {
				t.Fatalf("Send Mail's queue id %s, listed %s", sentID, m.QueueID)
			}
		default:
			t.Fatalf("unexpected sender %q", m.Sender)
		}
	}

	for _, c := range []struct {
		f    Filter
		want int
	}{
		{Filter{Sender: "ALICE@"}, 3},
		{Filter{Recipient: "dest1.test"}, 5},
		{Filter{Q: "dest2"}, 2},
		{Filter{Q: "connection refused"}, 7},
		{Filter{Q: sentID[3:12]}, 1},
		{Filter{Queue: Deferred}, 7},
		{Filter{Queue: Hold}, 0},
		{Filter{MinAge: time.Hour}, 0},
		{Filter{Sender: "bob", Recipient: "z@"}, 2},
	} {
		p := e.qtList(t, c.f)
		if p.Total != c.want || len(p.Items) != c.want {
			t.Errorf("%+v: total %d items %d, want %d", c.f, p.Total, len(p.Items), c.want)
		}
	}
	if p := e.qtList(t, Filter{Sort: "-size", Limit: 1}); p.Items[0].Sender != "carol@c.test" || p.Total != 7 {
		t.Fatalf("largest first: %+v", p.Items)
	}
	if p := e.qtList(t, Filter{Sort: "sender", Limit: 1}); p.Items[0].Sender != "alice@a.test" {
		t.Fatalf("by sender: %+v", p.Items)
	}

	// Paging through a queue that does not move: pages are disjoint and
	// cover all. Each page is as of its own moment (the index is current
	// at every request), never older than the page before.
	e.q.Refresh()
	seen := map[string]bool{}
	var asOf time.Time
	for off := 0; off < 7; off += 3 {
		before := time.Now()
		p, err := e.q.List(context.Background(), Filter{Offset: off, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 7 || len(p.Items) != min(3, 7-off) || p.AsOf.Before(asOf) || p.AsOf.Before(before) || p.AsOf.After(time.Now()) {
			t.Fatalf("page at %d: total %d items %d as of %v (first page %v)", off, p.Total, len(p.Items), p.AsOf, asOf)
		}
		asOf = p.AsOf
		for _, id := range qtIDs(p) {
			if seen[id] {
				t.Fatalf("%s on two pages", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != 7 {
		t.Fatalf("pages covered %d messages", len(seen))
	}

	sum, err := e.q.Summary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total.Count != 7 || sum.Total.Bytes != totalBytes || sum.Queues[3].Name != Deferred || sum.Queues[3].Count != 7 {
		t.Fatalf("summary %+v", sum)
	}
	if sum.Shape[0].Domain != "dest1.test" || sum.Shape[0].Total != 5 || sum.Shape[0].Buckets[0] != 5 || sum.ShapeTotal.Total != 9 {
		t.Fatalf("shape %+v total %+v", sum.Shape, sum.ShapeTotal)
	}

	v, err := e.q.Show(context.Background(), sentID)
	if err != nil {
		t.Fatal(err)
	}
	if v.QueueName != Deferred || v.Sender != "dora@d.test" || !slices.Equal(v.Recipients, []string{"v@dest4.test"}) || v.Body != "hi\n" {
		t.Fatalf("view %+v", v)
	}
	var subject string
	for _, h := range v.Headers {
		if h.Name == "Subject" {
			subject = h.Value
		}
	}
	if subject != "from the form" {
		t.Fatalf("headers %+v", v.Headers)
	}
	if _, err := e.q.Show(context.Background(), "4jZZFn03xzz1SCLg"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

func (e *qtEnv) qtAct(t *testing.T, action string, ids ...string) ActionResult {
	t.Helper()
	res, err := e.q.Action(context.Background(), action, ids)
	if err != nil {
		t.Fatalf("%s %v: %v", action, ids, err)
	}
	return res
}

func (e *qtEnv) qtActFilter(t *testing.T, action string, f Filter) ActionResult {
	t.Helper()
	res, err := e.q.ActionFilter(context.Background(), action, f)
	if err != nil {
		t.Fatalf("%s %+v: %v", action, f, err)
	}
	return res
}

func qtIn(all map[string]jsonMessage, queue string, ids ...string) bool {
	for _, id := range ids {
		if m, ok := all[id]; !ok || m.QueueName != queue {
			return false
		}
	}
	return true
}

func qtBySender(all map[string]jsonMessage, sender string) []string {
	var ids []string
	for id, m := range all {
		if m.Sender == sender {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestQueueActions is acceptance 2 for hold, release, delete and requeue
// (one id and a filter each) and acceptance 3 for ids that are well formed
// but unknown.
func TestQueueActions(t *testing.T) {
	e := qtStart(t, 0)
	for i := range 3 {
		qtSend(t, e.inst.SMTPAddr, "alice@a.test", []string{"x@dest1.test"}, fmt.Sprintf("alice %d", i), 10)
		qtSend(t, e.inst.SMTPAddr, "bob@b.test", []string{"y@dest2.test"}, fmt.Sprintf("bob %d", i), 10)
	}
	all := e.qtWaitDeferred(t, 6)
	alice, bob := qtBySender(all, "alice@a.test"), qtBySender(all, "bob@b.test")

	// Generation: the same while nothing changes, another after a change.
	gen := func() uint64 {
		t.Helper()
		g, ok, err := e.q.Generation(context.Background())
		if err != nil || !ok {
			t.Fatalf("generation: %v (indexed: %v)", err, ok)
		}
		return g
	}
	g0 := gen()
	if g := gen(); g != g0 {
		t.Fatalf("generation %d, then %d without a change", g0, g)
	}

	// Hold and release one id.
	if r := e.qtAct(t, ActionHold, alice[0]); r.Affected != 1 || r.Requested != 1 || r.GoneCount != 0 {
		t.Fatalf("hold: %+v", r)
	}
	if g := gen(); g == g0 {
		t.Fatal("a hold left the generation as it was")
	}
	if !qtIn(e.qtListing(t), Hold, alice[0]) {
		t.Fatal("held message is not in hold")
	}
	if p := e.qtList(t, Filter{Queue: Hold}); p.Total != 1 || p.Items[0].QueueID != alice[0] {
		t.Fatalf("hold listing %+v", p)
	}
	if r := e.qtAct(t, ActionRelease, alice[0]); r.Affected != 1 {
		t.Fatalf("release: %+v", r)
	}
	if !qtIn(e.qtListing(t), Deferred, alice[0]) {
		t.Fatal("released message is not back in deferred")
	}
	// Releasing a message that is not on hold changes nothing.
	if r := e.qtAct(t, ActionRelease, alice[0]); r.Affected != 0 || r.UnchangedCount != 1 || r.Unchanged[0] != alice[0] {
		t.Fatalf("release again: %+v", r)
	}

	// Hold and release by filter.
	if r := e.qtActFilter(t, ActionHold, Filter{Sender: "alice@"}); r.Affected != 3 || r.Requested != 3 {
		t.Fatalf("hold filter: %+v", r)
	}
	now := e.qtListing(t)
	if !qtIn(now, Hold, alice...) || !qtIn(now, Deferred, bob...) {
		t.Fatalf("after hold by filter: %+v", now)
	}
	if r := e.qtActFilter(t, ActionRelease, Filter{Queue: Hold}); r.Affected != 3 {
		t.Fatalf("release filter: %+v", r)
	}
	if !qtIn(e.qtListing(t), Deferred, alice...) {
		t.Fatal("released messages are not back in deferred")
	}
	if r := e.qtActFilter(t, ActionHold, Filter{Sender: "nobody"}); r.Affected != 0 || r.Requested != 0 {
		t.Fatalf("empty filter: %+v", r)
	}

	// Delete one id; deleting it again, or unknown ids, affects nothing.
	if r := e.qtAct(t, ActionDelete, bob[0]); r.Affected != 1 {
		t.Fatalf("delete: %+v", r)
	}
	if _, ok := e.qtListing(t)[bob[0]]; ok {
		t.Fatal("deleted message is still queued")
	}
	unknown := "4jZZFn03xzz1SCLg"
	if r := e.qtAct(t, ActionDelete, bob[0], unknown); r.Affected != 0 || r.GoneCount != 2 || !slices.Equal(r.Gone, []string{bob[0], unknown}) {
		t.Fatalf("delete gone: %+v", r)
	}
	for _, action := range Actions {
		if r := e.qtAct(t, action, unknown); r.Affected != 0 || r.GoneCount != 1 {
			t.Fatalf("%s unknown: %+v", action, r)
		}
	}
	// Delete by filter.
	if r := e.qtActFilter(t, ActionDelete, Filter{Sender: "bob@b.test"}); r.Affected != 2 {
		t.Fatalf("delete filter: %+v", r)
	}
	if left := qtBySender(e.qtListing(t), "bob@b.test"); len(left) != 0 {
		t.Fatalf("bob's messages left: %v", left)
	}

	// Requeue one id: the message comes back under a new id.
	if r := e.qtAct(t, ActionRequeue, alice[0]); r.Affected != 1 {
		t.Fatalf("requeue: %+v", r)
	}
	e.qtWaitFor(t, "the requeued message under a new id", func(m map[string]jsonMessage) bool {
		ids := qtBySender(m, "alice@a.test")
		return len(ids) == 3 && !slices.Contains(ids, alice[0])
	})
	// Requeue by filter: every one of alice's messages gets a new id.
	before := qtBySender(e.qtListing(t), "alice@a.test")
	if r := e.qtActFilter(t, ActionRequeue, Filter{Recipient: "x@dest1.test"}); r.Affected != 3 {
		t.Fatalf("requeue filter: %+v", r)
	}
	e.qtWaitFor(t, "three requeued messages under new ids", func(m map[string]jsonMessage) bool {
		ids := qtBySender(m, "alice@a.test")
		for _, id := range ids {
			if slices.Contains(before, id) {
				return false
			}
		}
		return len(ids) == 3
	})
}

// TestQueueBounceRetryFlush is acceptance 2 for bounce, retry and flush:
// the relay target opens after the mail is deferred; a bounce reaches the
// sender (at the sink), retry and flush make delivery attempts.
func TestQueueBounceRetryFlush(t *testing.T) {
	port := postfixtest.FreePort(t)
	e := qtStart(t, port)
	addr := e.inst.SMTPAddr
	mids := map[string]string{}
	for _, s := range []string{"bounce1", "bounce2", "retry1", "retry2", "flush1", "flush2"} {
		mids[s] = qtSend(t, addr, s+"@senders.test", []string{s + "-rcpt@dest.test"}, s, 10)
	}
	all := e.qtWaitDeferred(t, 6)
	id := func(s string) string { return qtBySender(all, s+"@senders.test")[0] }
	sink := postfixtest.NewSink(t, port)

	// arrived waits for a message at the sink whose data contains mid.
	arrived := func(what, mid string) postfixtest.SinkMessage {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			for _, m := range sink.Messages() {
				if bytes.Contains(m.Data, []byte(mid)) {
					return m
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s did not arrive at the sink; got %d messages\n%s", what, len(sink.Messages()), e.inst.Log())
		return postfixtest.SinkMessage{}
	}
	isBounce := func(m postfixtest.SinkMessage, sender string) bool {
		return m.From == "" && slices.Equal(m.To, []string{sender}) && bytes.Contains(m.Data, []byte("Undelivered Mail Returned to Sender"))
	}

	// Bounce one id (held first: bounce releases it too).
	e.qtAct(t, ActionHold, id("bounce1"))
	if r := e.qtAct(t, ActionBounce, id("bounce1")); r.Affected != 1 || r.NotTriggeredCount != 0 {
		t.Fatalf("bounce: %+v", r)
	}
	if m := arrived("bounce of bounce1", mids["bounce1"]); !isBounce(m, "bounce1@senders.test") {
		t.Fatalf("not a bounce to the sender: from %q to %v\n%s", m.From, m.To, m.Data)
	}
	// Bounce by filter.
	if r := e.qtActFilter(t, ActionBounce, Filter{Sender: "bounce2@"}); r.Affected != 1 {
		t.Fatalf("bounce filter: %+v", r)
	}
	if m := arrived("bounce of bounce2", mids["bounce2"]); !isBounce(m, "bounce2@senders.test") {
		t.Fatalf("not a bounce to the sender: from %q to %v", m.From, m.To)
	}

	// Retry one id and by filter: each is delivered as it was sent.
	if r := e.qtAct(t, ActionRetry, id("retry1")); r.Affected != 1 || r.NotTriggeredCount != 0 {
		t.Fatalf("retry: %+v", r)
	}
	if m := arrived("retry1", mids["retry1"]); m.From != "retry1@senders.test" || !slices.Equal(m.To, []string{"retry1-rcpt@dest.test"}) {
		t.Fatalf("retry1 arrived as %+v", m)
	}
	if r := e.qtActFilter(t, ActionRetry, Filter{Recipient: "retry2-rcpt"}); r.Affected != 1 {
		t.Fatalf("retry filter: %+v", r)
	}
	arrived("retry2", mids["retry2"])

	// Nothing else moved: the flush messages are still deferred.
	now := e.qtListing(t)
	if len(now) != 2 || !qtIn(now, Deferred, id("flush1"), id("flush2")) {
		t.Fatalf("before flush: %+v", now)
	}
	if n := len(sink.Messages()); n != 4 {
		t.Fatalf("%d messages at the sink before the flush, want 4", n)
	}
	if err := e.q.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	arrived("flush1", mids["flush1"])
	arrived("flush2", mids["flush2"])
	e.qtWaitFor(t, "an empty queue", func(m map[string]jsonMessage) bool { return len(m) == 0 })
}

// TestQueueBadIDsRunNothing is acceptance 3 against a real queue: the
// malformed ids run no command and leave the queue as it was.
func TestQueueBadIDsRunNothing(t *testing.T) {
	e := qtStart(t, 0)
	qtSend(t, e.inst.SMTPAddr, "alice@a.test", []string{"x@dest1.test"}, "keep me", 10)
	before := e.qtWaitDeferred(t, 1)
	calls := e.calls.Load()
	for _, id := range []string{"../x", "-d", "ALL", "", strings.Repeat("A", 10000), "$(reboot)", "x; postsuper -d ALL", "`id`", "a\nALL"} {
		for _, action := range Actions {
			var fe *store.UserError
			if _, err := e.q.Action(context.Background(), action, []string{id}); !errors.As(err, &fe) || fe.Field != "ids" {
				t.Fatalf("%s %q: %v", action, id, err)
			}
		}
	}
	if n := e.calls.Load() - calls; n != 0 {
		t.Fatalf("%d commands ran for malformed ids", n)
	}
	after := e.qtListing(t)
	for id, m := range before {
		if after[id].QueueName != m.QueueName {
			t.Fatalf("queue changed: %+v -> %+v", before, after)
		}
	}
}

// qtSplitReceived returns the data without the Received header Postfix
// put in front, and that header.
func qtSplitReceived(t *testing.T, data []byte) (rest []byte, received string) {
	t.Helper()
	s := string(data)
	if !strings.HasPrefix(s, "Received: ") {
		t.Fatalf("no Received header first:\n%s", s)
	}
	end := 0
	for {
		i := strings.Index(s[end:], "\r\n")
		end += i + 2
		if s[end] != ' ' && s[end] != '\t' {
			break
		}
	}
	return []byte(s[end:]), s[:end]
}

// TestSendMailDelivers is acceptance 4: with Body Is MIME off and on, the
// sink receives exactly the intended message, and the queue id returned is
// the one Postfix assigned.
func TestSendMailDelivers(t *testing.T) {
	sink := postfixtest.NewSink(t, 0)
	e := qtStart(t, sink.Port)
	ctx := context.Background()

	body := "Hello Bob,\n\nünïcödé text and a line\n.starting with a dot\n-- \nAlice"
	req := SendMailRequest{
		Subject:    "Test ✓ from postdeck",
		From:       "Alice Ärger <alice@example.test>",
		Sender:     "bounces@example.test",
		Recipients: ParseAddressList("bob@example.org, carol@example.net"),
		Body:       body,
	}
	id, err := SendMail(ctx, e.inst.SMTPAddr, req)
	if err != nil {
		t.Fatal(err)
	}
	msgs := sink.Wait(t, 1, 20*time.Second)
	got := msgs[0]
	slices.Sort(got.To)
	if got.From != "bounces@example.test" || !slices.Equal(got.To, []string{"bob@example.org", "carol@example.net"}) {
		t.Fatalf("envelope %q %v", got.From, got.To)
	}
	rest, received := qtSplitReceived(t, got.Data)
	if !strings.Contains(received, "id "+id) {
		t.Fatalf("queue id %s not in %q", id, received)
	}
	m, err := mail.ReadMessage(bytes.NewReader(rest))
	if err != nil {
		t.Fatal(err)
	}
	var dec = new(mimeWordDecoder)
	subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil || subject != req.Subject {
		t.Fatalf("subject %q (%v)", m.Header.Get("Subject"), err)
	}
	from, err := m.Header.AddressList("From")
	if err != nil || from[0].Name != "Alice Ärger" || from[0].Address != "alice@example.test" {
		t.Fatalf("from %q", m.Header.Get("From"))
	}
	if m.Header.Get("To") != "bob@example.org, carol@example.net" || m.Header.Get("MIME-Version") != "1.0" ||
		m.Header.Get("Content-Type") != "text/plain; charset=utf-8" || !strings.HasSuffix(m.Header.Get("Message-ID"), "@example.test>") {
		t.Fatalf("header %v", m.Header)
	}
	if d, err := m.Header.Date(); err != nil || time.Since(d) > time.Minute {
		t.Fatalf("date %q", m.Header.Get("Date"))
	}
	decoded, err := io.ReadAll(qpReader(m))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(body, "\n", "\r\n") + "\r\n"; string(decoded) != want {
		t.Fatalf("body\n%q\nwant\n%q", decoded, want)
	}

	// Body Is MIME: the message is delivered byte for byte.
	mimeMsg := "From: Alice <alice@example.test>\r\n" +
		"To: bob@example.org\r\n" +
		"Subject: =?utf-8?q?MIME_=E2=9C=93?=\r\n" +
		"Date: Mon, 02 Jan 2026 10:00:00 +0000\r\n" +
		"Message-ID: <mime-test-1@example.test>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" +
		"\r\n" +
		"preamble\r\n" +
		"--b1\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n" +
		"\r\n" +
		"caf=C3=A9\r\n" +
		".dot line\r\n" +
		"--b1\r\n" +
		"Content-Type: application/octet-stream\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"a.bin\"\r\n" +
		"\r\n" +
		"AAECAwQFBgcICQ==\r\n" +
		"--b1--\r\n"
	id2, err := SendMail(ctx, e.inst.SMTPAddr, SendMailRequest{
		Sender: "bounces@example.test", Recipients: AddressList{"bob@example.org"}, BodyIsMIME: true,
		Body: strings.ReplaceAll(mimeMsg, "\r\n", "\n"), // as a browser form might send it
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs = sink.Wait(t, 2, 20*time.Second)
	rest, received = qtSplitReceived(t, msgs[1].Data)
	if !strings.Contains(received, "id "+id2) || id2 == id {
		t.Fatalf("queue id %s not in %q", id2, received)
	}
	if string(rest) != mimeMsg {
		t.Fatalf("MIME message changed:\n%q\nwant\n%q", rest, mimeMsg)
	}
	if msgs[1].From != "bounces@example.test" || !slices.Equal(msgs[1].To, []string{"bob@example.org"}) {
		t.Fatalf("envelope %q %v", msgs[1].From, msgs[1].To)
	}

}

type mimeWordDecoder = mime.WordDecoder

// qpReader returns m's body, decoded when it is quoted-printable.
func qpReader(m *mail.Message) io.Reader {
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		return quotedprintable.NewReader(m.Body)
	}
	return m.Body
}
