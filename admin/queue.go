package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"postdeck/queue"
	"postdeck/store"
)

func (s *Service) needQueue() error {
	if s.queue == nil {
		return store.Unavailable("The MTA queue is not available in this daemon")
	}
	return nil
}

// QueueList returns a filtered, sorted page of the Postfix queue.
func (s *Service) QueueList(ctx context.Context, id Identity, f queue.Filter) (queue.Page, error) {
	if err := need(id, PermRead); err != nil {
		return queue.Page{}, err
	}
	if err := s.needQueue(); err != nil {
		return queue.Page{}, err
	}
	return s.queue.List(ctx, f)
}

// QueueSummary returns the queue's counts and shape.
func (s *Service) QueueSummary(ctx context.Context, id Identity) (queue.Summary, error) {
	if err := need(id, PermRead); err != nil {
		return queue.Summary{}, err
	}
	if err := s.needQueue(); err != nil {
		return queue.Summary{}, err
	}
	return s.queue.Summary(ctx)
}

// QueueMessage shows one queued message: envelope, headers and the start
// of its body (postcat).
func (s *Service) QueueMessage(ctx context.Context, id Identity, queueID string) (queue.MessageView, error) {
	if err := need(id, PermRead); err != nil {
		return queue.MessageView{}, err
	}
	if err := s.needQueue(); err != nil {
		return queue.MessageView{}, err
	}
	v, err := s.queue.Show(ctx, queueID)
	if err == nil && !mayReadBodies(id) {
		v.Body, v.BodyHidden = "", true
	}
	return v, err
}

// QueueDownload writes one queued message whole, as an .eml file
// (headers and body, CRLF line ends; queue.WriteMessage), to w and
// returns its size. Only those who may read bodies may download them
// (an auditor sees metadata only). Every download, and every refused
// or failed one, is one audit entry: a message body leaving the gateway
// is worth a line.
func (s *Service) QueueDownload(ctx context.Context, id Identity, queueID string, w io.Writer) (int64, error) {
	if err := need(id, PermOperate); err != nil {
		return 0, err
	}
	if err := s.needQueue(); err != nil {
		return 0, err
	}
	n, err := s.queue.WriteMessage(ctx, queueID, w)
	if err != nil {
		s.auditFailure(id, "queue download", err)
		return 0, err
	}
	s.audit(id, "queue download", ResultDone, fmt.Sprintf("%s (%d bytes)", queueID, n), "")
	return n, nil
}

// mayReadBodies decides who reads what messages say: operators and
// administrators, who act on them. An auditor reads the metadata (envelope
// and headers), not the bodies: auditing the gateway does not need the
// mail's content.
func mayReadBodies(id Identity) bool { return PermOperate.Allows(id.Role) }

// QueueActionRequest names an action and the messages it acts on: ids, or
// every message a filter matches. A filter that selects nothing in
// particular (or none at all) acts on the whole queue only with All: a
// misspelled or blank filter must not empty the queue.
type QueueActionRequest struct {
	Action string        `json:"action"`
	IDs    []string      `json:"ids"`
	Filter *queue.Filter `json:"filter"`
	All    bool          `json:"all"`
}

// QueueAction deletes, bounces, holds, releases, requeues or retries
// messages in one Postfix command run.
func (s *Service) QueueAction(ctx context.Context, id Identity, in QueueActionRequest) (queue.ActionResult, error) {
	if err := need(id, PermOperate); err != nil {
		return queue.ActionResult{}, err
	}
	if err := s.needQueue(); err != nil {
		return queue.ActionResult{}, err
	}
	action := "queue " + truncate(in.Action, 20)
	// Retry, and bounce after it expires the messages, ask Postfix for a
	// delivery attempt: refused before anything changes while it is
	// stopped (a bounce half done was a failure answer for messages
	// expired all the same).
	if (in.Action == queue.ActionRetry || in.Action == queue.ActionBounce) && !s.mta.Running(ctx) {
		err := errPostfixDown()
		s.auditFailure(id, action, err)
		return queue.ActionResult{}, err
	}
	res, err := s.queueAction(ctx, in)
	if err != nil && res.Affected > 0 {
		// Postfix acted on messages before the failure (a postsuper
		// killed partway through a mass delete, a bounce whose delivery
		// attempts failed after it expired them): the entry says on how
		// many, as the log does.
		s.log.Error("queue action failed", "action", action, "requested", res.Requested, "affected", res.Affected, "err", err)
		s.audit(id, action, ResultFailed, queueActionFailedDetail(in, res), "")
		return res, err
	}
	if err != nil {
		s.auditFailure(id, action, err)
		return res, err
	}
	s.audit(id, action, ResultDone, queueActionDetail(in, res), "")
	return res, nil
}

// queueActionDetail is the audit entry's detail of an action done: for
// which messages, and what became of them. A retry or bounce of more
// messages than one action triggers says how many were not attempted
// now, so that "affected" is not read as "delivery attempted".
func queueActionDetail(in QueueActionRequest, res queue.ActionResult) string {
	d := fmt.Sprintf("%s: %d requested, %d affected, %d gone", queueActionTarget(in), res.Requested, res.Affected, res.GoneCount)
	if res.NotTriggeredCount > 0 {
		d += fmt.Sprintf(", %d not attempted now (one action asks Postfix for at most %d delivery attempts; Postfix attempts the others when they are due)", res.NotTriggeredCount, queue.MaxTriggerEach)
	}
	if res.InDeliveryCount > 0 {
		d += fmt.Sprintf(", %d in the middle of a delivery attempt (returned to their senders when it ends)", res.InDeliveryCount)
	}
	return d
}

// queueActionFailedDetail is the audit entry's detail of an action that
// failed after Postfix acted on some of its messages.
func queueActionFailedDetail(in QueueActionRequest, res queue.ActionResult) string {
	return fmt.Sprintf("%s: %d requested, %d affected before the action failed; %s", queueActionTarget(in), res.Requested, res.Affected, internalFailure)
}

// auditedIDs is how many ids of an action by ids its audit entry names.
const auditedIDs = 10

// queueActionTarget says, for the audit entry, which messages an action
// was for: its ids (the first few and how many more) or its filter, so
// that the log tells whose mail a mass delete removed. Filter texts are
// quoted: they are the caller's words, control characters included.
func queueActionTarget(in QueueActionRequest) string {
	if in.Filter == nil && !in.All {
		var shown []string
		for _, qid := range in.IDs[:min(len(in.IDs), auditedIDs)] {
			shown = append(shown, truncate(qid, 40)) // another node's may be unchecked here
		}
		t := "ids " + strings.Join(shown, ", ")
		if more := len(in.IDs) - len(shown); more > 0 {
			t += fmt.Sprintf(" and %d more", more)
		}
		return t
	}
	var f queue.Filter
	if in.Filter != nil {
		f = *in.Filter
	}
	var parts []string
	for _, kv := range [][2]string{{"queue", f.Queue}, {"q", f.Q}, {"sender", f.Sender}, {"recipient", f.Recipient}} {
		if v := strings.TrimSpace(kv[1]); v != "" {
			parts = append(parts, kv[0]+" "+strconv.Quote(v))
		}
	}
	if f.MinAge > 0 {
		parts = append(parts, "min_age "+f.MinAge.String())
	}
	if len(parts) == 0 {
		return "every message"
	}
	return "filter " + strings.Join(parts, ", ")
}

func (s *Service) queueAction(ctx context.Context, in QueueActionRequest) (queue.ActionResult, error) {
	switch {
	case in.Filter != nil && len(in.IDs) > 0:
		return queue.ActionResult{}, store.Invalid("ids", "Give either ids or a filter, not both")
	case in.All && len(in.IDs) > 0:
		return queue.ActionResult{}, store.Invalid("all", "Give either ids or \"all\": true, not both")
	case in.Filter != nil || in.All:
		var f queue.Filter
		if in.Filter != nil {
			f = *in.Filter
		}
		// An action acts on every match: a page's offset and limit are
		// ignored, not checked as a listing's.
		f.Offset, f.Limit = 0, 0
		if err := f.Normalize(); err != nil {
			return queue.ActionResult{}, err
		}
		if f.Empty() && !in.All {
			return queue.ActionResult{}, store.Invalid("all", "This filter selects every message in the queue; send \"all\": true to act on all of them")
		}
		return s.queue.ActionFilter(ctx, in.Action, f)
	case len(in.IDs) == 0:
		return queue.ActionResult{}, store.Invalid("ids", "Name the messages to act on (ids), a filter, or \"all\": true")
	}
	return s.queue.Action(ctx, in.Action, in.IDs)
}

// QueueFlush asks Postfix to attempt delivery of every queued message now.
func (s *Service) QueueFlush(ctx context.Context, id Identity) error {
	if err := need(id, PermOperate); err != nil {
		return err
	}
	if err := s.needQueue(); err != nil {
		return err
	}
	if !s.mta.Running(ctx) {
		err := errPostfixDown()
		s.auditFailure(id, "queue flush", err)
		return err
	}
	if err := s.queue.Flush(ctx); err != nil {
		s.auditFailure(id, "queue flush", err)
		return err
	}
	s.audit(id, "queue flush", ResultDone, "", "")
	return nil
}

// SendMail composes (or takes as MIME) a test mail and submits it to the
// local Postfix; it returns Postfix's queue id.
func (s *Service) SendMail(ctx context.Context, id Identity, req queue.SendMailRequest) (string, error) {
	if err := need(id, PermOperate); err != nil {
		return "", err
	}
	qid, err := queue.SendMail(ctx, s.submitAddr, req)
	// A submission that failed for any reason but the request's own (a
	// connection refused, or reset by an smtpd a dying master left behind)
	// is Postfix being down when its master is gone.
	if err != nil && !errors.Is(err, store.ErrInvalid) && !s.mta.Running(ctx) {
		err = errPostfixDown()
	}
	if err != nil {
		s.auditFailure(id, "send mail", err)
		return "", err
	}
	s.audit(id, "send mail", "queued", qid, "")
	return qid, nil
}
