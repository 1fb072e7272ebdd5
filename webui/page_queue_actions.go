package webui

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"postdeck/admin"
	"postdeck/store"
)

// Scopes of an action from the queue page: the ticked messages, every
// message on the page, or every message that matches the filter now.
const (
	scopeSelected = "selected"
	scopePage     = "page"
	scopeAll      = "all"
)

// confirmShownIDs is how many ids a confirmation page lists by name.
const confirmShownIDs = 20

// queueConfirmData is the Data of views/queue_confirm.html: what is about
// to happen, and a form that does it.
type queueConfirmData struct {
	Heading    string
	What       string   // "Hold 2 selected messages."
	Help       string   // the documentation's words for the action
	Criteria   []string // the filter, for scope "all"
	IDs        []string // at most confirmShownIDs
	MoreIDs    int
	Caution    string   // shown in a caution box (Flush Queue)
	Paragraphs []string // more of the documentation
	Post       string   // the form's action
	Hidden     []hiddenField
	Button     string
	Danger     bool
	Back       string
}

// pageQueueActions is POST /queues/mta/actions: Delete, Bounce, Hold,
// Release, Requeue or Retry on the ticked messages, the page, or all that
// match the filter. Without confirmed=1 (set by app.js after its dialog,
// or by the confirmation page's form) it shows the confirmation page and
// changes nothing.
func (s *Server) pageQueueActions(c *fiber.Ctx) error {
	ff := queueFilterFormOf(c, true)
	back := ff.url(ff.Offset)
	if r := c.FormValue("return"); r != "" && admin.ValidQueueID(r) {
		back = "/queues/mta/" + r
	}
	action := c.FormValue("action")
	ch, ok := queueActionChoice(action)
	if !ok {
		return s.flashAndRedirect(c, &Flash{Kind: "error", Message: "Choose an action: " + strings.Join(admin.QueueActions, ", ") + "."}, back)
	}
	scope := c.FormValue("scope")
	var ids []string
	var err error
	switch scope {
	case scopeAll:
	case scopePage:
		ids, err = formValues(c, "page_id", admin.QueueMaxActionIDs)
	default:
		scope = scopeSelected
		ids, err = formValues(c, "id", admin.QueueMaxActionIDs)
	}
	if err != nil {
		return s.flashAndRedirect(c, &Flash{Kind: "error", Message: "Nothing was done: " + publicText(err)}, back)
	}
	var filter admin.QueueFilter
	if scope == scopeAll {
		f, err := ff.filter()
		if err != nil {
			return s.flashAndRedirect(c, &Flash{Kind: "error", Message: "Nothing was done: " + publicText(err)}, back)
		}
		filter = f
	} else {
		if len(ids) == 0 {
			return s.flashAndRedirect(c, &Flash{Kind: "warning", Message: "Nothing was done: no message was selected. Tick the messages to act on, or choose all messages matching the filter."}, back)
		}
		for _, id := range ids {
			if !admin.ValidQueueID(id) {
				return s.flashAndRedirect(c, &Flash{Kind: "error", Message: "Nothing was done: a selected id is not a Postfix queue id."}, back)
			}
		}
	}

	if c.FormValue("confirmed") != "1" {
		d := queueConfirmData{
			Heading: "Confirm: " + ch.Label, Help: ch.Help, Post: "/queues/mta/actions",
			Danger: ch.Danger, Back: back,
		}
		d.Hidden = append(ff.hidden(), hiddenField{"scope", scope}, hiddenField{"confirmed", "1"})
		if r := c.FormValue("return"); r != "" && admin.ValidQueueID(r) {
			d.Hidden = append(d.Hidden, hiddenField{"return", r})
		}
		if scope == scopeAll {
			probe := filter
			probe.Offset, probe.Limit = 0, 1
			page, err := s.admin.QueueList(c.UserContext(), who(c), probe)
			if err != nil {
				return err
			}
			d.What = fmt.Sprintf("%s all %s matching this filter (counted just now; the action acts on what matches when it runs).", ch.Label, admin.Plural(page.Total, "message"))
			if n := page.Total - maxTriggerEach; n > 0 && (action == admin.QueueActionRetry || action == admin.QueueActionBounce) {
				d.Paragraphs = append(d.Paragraphs, triggerBoundNote(action, n))
			}
			d.Criteria = ff.describe()
			d.Button = fmt.Sprintf("%s all matching messages", ch.Label)
		} else {
			which := "selected"
			if scope == scopePage {
				which = "on this page"
			}
			d.What = fmt.Sprintf("%s the %s %s.", ch.Label, admin.Plural(len(ids), "message"), which)
			for i, id := range ids {
				d.Hidden = append(d.Hidden, hiddenField{"id", id})
				if i < confirmShownIDs {
					d.IDs = append(d.IDs, id)
				}
			}
			d.MoreIDs = len(ids) - len(d.IDs)
			d.Hidden = replaceHidden(d.Hidden, "scope", scopeSelected) // the ids travel as "id"
			d.Button = fmt.Sprintf("%s %s", ch.Label, admin.Plural(len(ids), "message"))
		}
		d.Hidden = append(d.Hidden, hiddenField{"action", action})
		return s.render(c, "queue_confirm", "Confirm "+strings.ToLower(ch.Label), d)
	}

	req := admin.QueueActionRequest{Action: action, IDs: ids}
	if scope == scopeAll {
		// The console asked (and showed the count) before: "all" here
		// is every message that matches the page's filter.
		req.IDs, req.Filter, req.All = nil, &filter, true
	}
	ret := c.FormValue("return")
	fromMessage := ret != "" && back == "/queues/mta/"+ret
	followed := fromMessage && action == admin.QueueActionRequeue && len(ids) == 1 && ids[0] == ret
	var sender string // of the message requeued from its page, to find it again
	if followed {
		if v, err := s.admin.QueueMessage(c.UserContext(), who(c), ret); err == nil {
			sender = v.Sender
		}
	}
	res, err := s.admin.QueueAction(c.UserContext(), who(c), req)
	if err != nil {
		code, body := errorStatus(err)
		if code >= 500 {
			s.log.Error("queue action failed", "err", err)
		}
		return s.flashAndRedirect(c, &Flash{Kind: "error", Message: ch.Label + " failed: " + body.Error}, back)
	}
	if followed {
		f, to := s.requeueFlash(c, ret, sender, res)
		return s.flashAndRedirect(c, f, to)
	}
	if fromMessage && (action == admin.QueueActionDelete || action == admin.QueueActionRequeue || action == admin.QueueActionBounce) {
		back = "/queues/mta" // the message is gone or has a new id
	}
	return s.flashAndRedirect(c, actionFlash(ch, res), back)
}

// requeueFlash says where a message requeued from its own page went, and
// leads there: the page of the id it is queued under now (after pickup,
// and after the MPA when it passed through it again); else its page
// under the old id while it waits in maildrop for pickup (with why, when
// Postfix is not running); else the list, with what is known.
func (s *Server) requeueFlash(c *fiber.Ctx, old, sender string, res admin.QueueActionResult) (*Flash, string) {
	ctx := c.UserContext()
	if res.Affected == 0 && res.UnchangedCount > 0 {
		// Still queued, not requeued. (A message in maildrop, which
		// postsuper -r does not touch, is refused before it runs:
		// queue.Action, and the refusal is the flash.)
		return &Flash{Kind: "warning", Message: "Requeue: message " + old + " was not requeued: it is still queued, but Postfix did not requeue it; try again in a moment."}, "/queues/mta/" + old
	}
	if res.Affected == 0 {
		return &Flash{Kind: "warning", Message: "Requeue: message " + old + " was not requeued: it is no longer in the queue (delivered, returned or removed meanwhile)."}, "/queues/mta"
	}
	if id, ok := res.RequeuedAs[old]; ok {
		if _, err := s.admin.QueueMessage(ctx, who(c), id); err == nil {
			return &Flash{Kind: "success", Message: "Requeued: the message is now queue ID " + id + " (it was " + old + "); Postfix gives a requeued message a new ID. This is its page now."}, "/queues/mta/" + id
		}
		return &Flash{Kind: "info", Message: "Requeued: the message became queue ID " + id + " (it was " + old + ") and has already left the queue: delivered, or handed on and not back yet. The MTA queue below shows this sender's messages."}, senderList(sender)
	}
	v, err := s.admin.QueueMessage(ctx, who(c), old)
	if err == nil && v.QueueName == "maildrop" {
		msg := "Requeued: the message waits in the maildrop queue, still as " + old + ", for Postfix's pickup, which gives it a new queue ID. "
		if !s.admin.Running(ctx) {
			msg += "Postfix is not running: start it from the dashboard, and the message goes on."
		} else {
			msg += "Pickup has not taken it within a few seconds; reload this page, or find it in the MTA queue by its sender."
		}
		return &Flash{Kind: "warning", Message: msg}, "/queues/mta/" + old
	}
	return &Flash{Kind: "warning", Message: "Requeued, but its new queue ID could not be told: find the message in the MTA queue by its sender or recipient."}, senderList(sender)
}

// senderList is the MTA queue filtered by sender, or the whole list.
// A sender longer than a filter's text may be (Postfix takes them) is
// looked for by its beginning: the whole would be a refused filter,
// whose error would take the place of the flash that leads there.
func senderList(sender string) string {
	if sender == "" {
		return "/queues/mta"
	}
	if r := []rune(sender); len(r) > admin.QueueFilterTextMax {
		sender = string(r[:admin.QueueFilterTextMax])
	}
	return "/queues/mta?sender=" + url.QueryEscape(sender)
}

// maxTriggerEach is admin.QueueMaxTriggerEach, lowered by tests that
// reach the bound with a few messages.
var maxTriggerEach = admin.QueueMaxTriggerEach

// triggerBoundNote says, before a retry or bounce of more messages than
// one action asks Postfix to attempt, what becomes of the n others: the
// answer names them afterwards, but an administrator who chose "all"
// should know before.
func triggerBoundNote(action string, n int) string {
	s := fmt.Sprintf("One action asks Postfix for at most %s: ", admin.Plural(maxTriggerEach, "delivery attempt"))
	if action == admin.QueueActionBounce {
		s += fmt.Sprintf("every matching message is expired now, but %d of them are returned to their senders only at their next scheduled attempt.", n)
	} else {
		s += fmt.Sprintf("%d of these messages are not attempted now but at their next scheduled attempt.", n)
	}
	return s + " Flush Queue attempts every queued message now."
}

// actionFlash reports an action's result: Postfix's own count of affected
// messages and the ids that were gone.
func actionFlash(ch choice, res admin.QueueActionResult) *Flash {
	if res.Requested == 0 {
		return &Flash{Kind: "info", Message: ch.Label + ": no message matches this filter any more; nothing was done."}
	}
	f := &Flash{Kind: "success", Message: fmt.Sprintf("%s: %s affected, %d gone (of %d requested).", ch.Label, admin.Plural(res.Affected, "message"), res.GoneCount, res.Requested)}
	if res.Affected == 0 {
		f.Kind = "warning"
	}
	if res.GoneCount > 0 {
		f.Details = append(f.Details, "No longer in the queue (delivered, returned or removed meanwhile): "+idList(res.Gone, res.GoneCount))
	}
	if res.UnchangedCount > 0 {
		f.Details = append(f.Details, "Still queued, but the action does not apply to them (such as releasing a message that is not on hold): "+idList(res.Unchanged, res.UnchangedCount))
	}
	if res.NotTriggeredCount > 0 {
		f.Kind = "warning"
		f.Details = append(f.Details, fmt.Sprintf("Not attempted now, as one action asks Postfix for at most %s: ", admin.Plural(maxTriggerEach, "delivery attempt"))+idList(res.NotTriggered, res.NotTriggeredCount)+". Postfix attempts them when they are due; Flush Queue attempts every queued message now.")
	}
	if res.InDeliveryCount > 0 {
		f.Details = append(f.Details, "In the middle of a delivery attempt: "+idList(res.InDelivery, res.InDeliveryCount)+". Each is returned to its sender as soon as that attempt ends.")
	}
	return f
}

// idList names up to 10 ids and says how many more there are.
func idList(ids []string, total int) string {
	const show = 10
	if len(ids) > show {
		ids = ids[:show]
	}
	s := strings.Join(ids, ", ")
	if total > len(ids) {
		s += fmt.Sprintf(" and %d more", total-len(ids))
	}
	return s
}

// formCount is how many values the urlencoded form has for key, counted
// without copying them, so that a limit is checked before the work.
func formCount(args *fasthttp.Args, key string) int {
	n := 0
	args.VisitAll(func(k, _ []byte) {
		if string(k) == key {
			n++
		}
	})
	return n
}

// formValues are every value of a repeated urlencoded form field, copied
// out of fiber's buffers; more than limit values are refused unread.
func formValues(c *fiber.Ctx, key string, limit int) ([]string, error) {
	args := c.Request().PostArgs()
	if n := formCount(args, key); n > limit {
		return nil, store.Invalid(key, "Select at most %d messages at once; the form's %s field names %d.", limit, key, n)
	}
	var out []string
	seen := map[string]bool{}
	for _, b := range args.PeekMulti(key) {
		v := strings.TrimSpace(string(b))
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out, nil
}

func replaceHidden(h []hiddenField, name, value string) []hiddenField {
	for i := range h {
		if h[i].Name == name {
			h[i].Value = value
		}
	}
	return h
}

// pageQueueFlushConfirm is GET /queues/mta/flush: the documentation's
// caution, then the button that flushes (Actions > Flush Queue).
func (s *Server) pageQueueFlushConfirm(c *fiber.Ctx) error {
	return s.render(c, "queue_confirm", "Flush Queue", queueConfirmData{
		Heading: "Flush Queue",
		What:    "Tell Postfix to attempt delivery of every queued message now (postqueue -f).",
		Paragraphs: []string{
			"Postfix automatically retries delivery of messages that are temporarily undeliverable. After the first failed attempt, it retries shortly thereafter. If multiple attempts fail, the time between retries gradually increases (this is normal “backoff” behavior).",
			"Flushing does not guarantee delivery; it simply tells Postfix to try again right away using the current network and DNS conditions. If the underlying problem persists (such as a remote server still being down or DNS still failing), messages will remain queued and Postfix will continue its normal retry schedule.",
			"Use Flush Queue after you have fixed a connectivity or configuration issue, or when you know the receiving system is available again and you want to expedite delivery.",
		},
		Caution: admin.FlushCaution,
		Post:    "/queues/mta/flush",
		Button:  "Flush the queue now",
		Back:    "/queues/mta",
	})
}

// pageQueueFlush is POST /queues/mta/flush: postqueue -f.
func (s *Server) pageQueueFlush(c *fiber.Ctx) error {
	if err := s.admin.QueueFlush(c.UserContext(), who(c)); err != nil {
		s.log.Error("queue flush failed", "err", err)
		return s.flashAndRedirect(c, &Flash{Kind: "error", Message: "Flush failed: " + publicText(err)}, "/queues/mta")
	}
	return s.flashAndRedirect(c, &Flash{Kind: "success", Message: "Queue flushed: Postfix is attempting delivery of every queued message now. Messages whose destination is still unreachable stay queued."}, "/queues/mta")
}
