package queue

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// TestActionThatFailsMidwaySaysWhatItDid: when postsuper fails after it
// acted on messages (killed at the command timeout in the middle of a
// mass delete, or a fatal error partway), the failed action's result
// still says how many messages it affected, by ids and by filter (one
// lane and several), so that the audit entry and the log can say it. It
// said 0: a delete of thousands that failed read as one that did
// nothing.
func TestActionThatFailsMidwaySaysWhatItDid(t *testing.T) {
	e := qtStart(t, 0)
	for _, subject := range []string{"one", "two", "three", "four"} {
		qtSend(t, e.inst.SMTPAddr, "midway@a.test", []string{"x@dest1.test"}, subject, 10)
	}
	ids := qtBySender(e.qtWaitDeferred(t, 4), "midway@a.test")

	p := e.q.p
	killed := errors.New("postsuper: killed")
	e.q.stream = func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, name string, args ...string) error {
		err := p.Stream(ctx, stdin, stdout, stderr, name, args...)
		if name == "postsuper" && err == nil {
			return killed // it acted, then "failed"
		}
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	res, err := e.q.Action(ctx, ActionHold, ids[:1])
	if !errors.Is(err, killed) || res.Affected != 1 {
		t.Errorf("hold by ids that failed after acting: %+v, %v; want 1 affected and the failure", res, err)
	}
	res, err = e.q.ActionFilter(ctx, ActionHold, Filter{Queue: Deferred, Sender: "midway@a.test"})
	if !errors.Is(err, killed) || res.Affected != 3 || res.Requested != 3 {
		t.Errorf("hold by filter that failed after acting: %+v, %v; want 3 requested and affected, and the failure", res, err)
	}
	old := laneThreshold
	laneThreshold = 2
	defer func() { laneThreshold = old }()
	res, err = e.q.ActionFilter(ctx, ActionRelease, Filter{Queue: Hold, Sender: "midway@a.test"})
	if !errors.Is(err, killed) || res.Affected != 4 || res.Requested != 4 {
		t.Errorf("release by filter in %d lanes that failed after acting: %+v, %v; want 4 requested and affected, and the failure", actionLanes, res, err)
	}
	if all := e.qtListing(t); !qtIn(all, Deferred, ids...) {
		t.Errorf("the messages were not all released: %+v", all)
	}
}
