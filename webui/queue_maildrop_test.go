package webui

import (
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
	"postdeck/queue"
)

// TestRequeueOfAMaildropMessage: a message that waits in maildrop (here
// Postfix is stopped, so pickup does not take it) can only be deleted:
// postsuper's hold, release, requeue and expire leave it where it is.
// Its page offered every action, and an action answered as if it did not
// apply to a message of that queue; its page (and the list of the
// maildrop queue) offer Delete only and say why, and the others, sent
// anyway, are refused with a sentence naming the queue, on the message's
// page (the API answers 409 with it). Delete removes it.
func TestRequeueOfAMaildropMessage(t *testing.T) {
	st := newStack(t)
	killPostfix(t, st)
	cmd := exec.Command(postfixtest.SbinDir+"/sendmail", "-C", st.inst.ConfigDir, "-f", "md@example.org", "r@remote.example.net")
	cmd.Stdin = strings.NewReader("Subject: stuck in maildrop\n\nbody\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sendmail: %v %s", err, out)
	}
	id := waitQueue(t, st, queue.Filter{Queue: queue.Maildrop, Sender: "md@example.org"}, 1)[0]

	op := st.login(t, "oper")
	offers := func(page string) []string {
		var on []string
		for _, a := range queue.Actions {
			if strings.Contains(page, `id="action-`+a+`"`) {
				on = append(on, a)
			}
		}
		return on
	}
	page := string(op.get("/queues/mta/" + id).Body)
	if on := offers(page); !slices.Equal(on, []string{queue.ActionDelete}) || !strings.Contains(page, `id="maildrop-note"`) || !strings.Contains(page, "Postfix is not running") {
		t.Errorf("the page of a message in maildrop offers %v and says:\n%s", on, page)
	}
	if on := offers(string(op.get("/queues/mta?queue=maildrop").Body)); !slices.Equal(on, []string{queue.ActionDelete}) {
		t.Errorf("the maildrop queue's list offers %v", on)
	}

	act := func(action string) string {
		t.Helper()
		res := op.postForm("/queues/mta/actions", url.Values{"action": {action}, "id": {id}, "return": {id}, "confirmed": {"1"}}, true)
		if res.Status != 303 {
			t.Fatalf("%s: %d %s", action, res.Status, res.Body)
		}
		return res.Header.Get("Location")
	}
	to := act("requeue")
	page = string(op.get(to).Body)
	if to != "/queues/mta/"+id || strings.Contains(page, "no longer in the queue") || !strings.Contains(page, "waits in the maildrop queue, where Postfix can only delete it") {
		t.Errorf("requeue of a message in maildrop led to %s saying:\n%s", to, flashText(page))
	}
	r := st.socketDo(t, "POST", "/api/v1/queue/actions", map[string]any{"action": "hold", "ids": []string{id}})
	if r.Status != 409 || !strings.Contains(string(r.Body), "maildrop queue") {
		t.Errorf("hold of a message in maildrop: %d %s", r.Status, r.Body)
	}
	if p := waitQueue(t, st, queue.Filter{Queue: queue.Maildrop, Sender: "md@example.org"}, 1); p[0] != id {
		t.Fatalf("maildrop holds %v, want %s", p, id)
	}
	act("delete")
	waitQueue(t, st, queue.Filter{Sender: "md@example.org"}, 0)
}

// flashText is the part of a page around its flash, for a failure's message.
func flashText(page string) string {
	i := strings.Index(page, "flash")
	if i < 0 {
		return "(no flash)"
	}
	return page[i:min(len(page), i+600)]
}
