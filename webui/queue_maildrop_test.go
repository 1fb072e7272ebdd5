package webui

import (
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
	"postdeck/queue"
)

// TestRequeueOfAMaildropMessage: a message that waits in maildrop (here
// Postfix is stopped, so pickup does not take it) cannot be requeued:
// postsuper -r leaves it where it is. Requeue from its page said "it is
// no longer in the queue (delivered, returned or removed meanwhile)" and
// led away from it; it says where the message is and stays on its page.
// There it can be deleted (postsuper -d finds it in maildrop).
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
	act := func(action string) string {
		t.Helper()
		res := op.postForm("/queues/mta/actions", url.Values{"action": {action}, "id": {id}, "return": {id}, "confirmed": {"1"}}, true)
		if res.Status != 303 {
			t.Fatalf("%s: %d %s", action, res.Status, res.Body)
		}
		return res.Header.Get("Location")
	}
	to := act("requeue")
	page := string(op.get(to).Body)
	if to != "/queues/mta/"+id || strings.Contains(page, "no longer in the queue") || !strings.Contains(page, "waits in the maildrop queue") || !strings.Contains(page, "Postfix is not running") {
		t.Errorf("requeue of a message in maildrop led to %s saying:\n%s", to, flashText(page))
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
