package webui

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// queueRefreshSeconds is how often app.js reloads the queue listing while
// auto-refresh runs (JavaScript only; the page itself never refreshes).
const queueRefreshSeconds = 15

// queueFilterForm is the filter of the MTA Queue page as typed: the query
// parameters of GET /queues/mta, which are those of GET /api/v1/queue.
type queueFilterForm struct {
	Queue     string
	Q         string
	Sender    string
	Recipient string
	MinAge    string
	Sort      string
	Offset    int
	// Limit is the page size; 0 is admin.QueuePageSize. The page offers
	// queuePageSizes; any size the API takes works in the URL.
	Limit int
}

// queuePageSizes are the page sizes the MTA Queue page offers.
var queuePageSizes = []int{20, 50, 100, 200}

// queueFilterFormOf reads the filter from the query string (GET) or, with
// post, from the form body of an action.
func queueFilterFormOf(c *fiber.Ctx, post bool) queueFilterForm {
	get := c.Query
	if post {
		get = func(key string, _ ...string) string { return c.FormValue(key) }
	}
	f := queueFilterForm{
		Queue:     strings.Clone(strings.TrimSpace(get("queue"))),
		Q:         strings.Clone(strings.TrimSpace(get("q"))),
		Sender:    strings.Clone(strings.TrimSpace(get("sender"))),
		Recipient: strings.Clone(strings.TrimSpace(get("recipient"))),
		MinAge:    strings.Clone(strings.TrimSpace(get("min_age"))),
		Sort:      strings.Clone(strings.TrimSpace(get("sort"))),
	}
	if n, err := strconv.Atoi(get("offset")); err == nil && n > 0 {
		f.Offset = n
	}
	if n, err := strconv.Atoi(get("limit")); err == nil && n > 0 {
		f.Limit = n
	}
	return f
}

// limit is the page size in effect.
func (f queueFilterForm) limit() int {
	if f.Limit > 0 {
		return f.Limit
	}
	return admin.QueuePageSize
}

// values are the filter's non-empty fields and the page size, without
// the offset.
func (f queueFilterForm) values() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{{"queue", f.Queue}, {"q", f.Q}, {"sender", f.Sender}, {"recipient", f.Recipient}, {"min_age", f.MinAge}, {"sort", f.Sort}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	if f.Limit > 0 && f.Limit != admin.QueuePageSize {
		v.Set("limit", strconv.Itoa(f.Limit))
	}
	return v
}

// withLimit is the filter with another page size, at the page that
// holds the current first row.
func (f queueFilterForm) withLimit(n int) queueFilterForm {
	f.Offset = f.Offset / n * n
	f.Limit = n
	return f
}

// url is the queue page with this filter at offset.
func (f queueFilterForm) url(offset int) string {
	v := f.values()
	if offset > 0 {
		v.Set("offset", strconv.Itoa(offset))
	}
	if len(v) == 0 {
		return "/queues/mta"
	}
	return "/queues/mta?" + v.Encode()
}

// filter is the admin.QueueFilter of the form, one page of admin.QueuePageSize.
func (f queueFilterForm) filter() (admin.QueueFilter, error) {
	v := f.values()
	if f.Offset > 0 {
		v.Set("offset", strconv.Itoa(f.Offset))
	}
	return admin.ParseQueueFilter(v)
}

// hidden is the filter as hidden form fields, so that an action can act
// on "everything that matches" and come back to the same page.
func (f queueFilterForm) hidden() []hiddenField {
	var out []hiddenField
	for _, kv := range [][2]string{{"queue", f.Queue}, {"q", f.Q}, {"sender", f.Sender}, {"recipient", f.Recipient}, {"min_age", f.MinAge}, {"sort", f.Sort}} {
		if kv[1] != "" {
			out = append(out, hiddenField{kv[0], kv[1]})
		}
	}
	if f.Offset > 0 {
		out = append(out, hiddenField{"offset", strconv.Itoa(f.Offset)})
	}
	if f.Limit > 0 && f.Limit != admin.QueuePageSize {
		out = append(out, hiddenField{"limit", strconv.Itoa(f.Limit)})
	}
	return out
}

// describe says in words what the filter selects, for the confirmation.
func (f queueFilterForm) describe() []string {
	var out []string
	if f.Queue != "" {
		out = append(out, "Queue: "+f.Queue)
	}
	if f.Q != "" {
		out = append(out, "Text (id, sender, recipient, delay reason or subject) contains: "+f.Q)
	}
	if f.Sender != "" {
		out = append(out, "Sender contains: "+f.Sender)
	}
	if f.Recipient != "" {
		out = append(out, "Recipient contains: "+f.Recipient)
	}
	if f.MinAge != "" {
		out = append(out, "At least this old: "+f.MinAge)
	}
	if len(out) == 0 {
		out = append(out, "No filter: every message in every queue")
	}
	return out
}

// hiddenField is one <input type="hidden">.
type hiddenField struct{ Name, Value string }

// choice is one <option> or button: a value, its label and help.
type choice struct {
	Value, Label, Help string
	Danger             bool
}

// queueSorts are the sort orders the filter offers.
var queueSorts = []choice{
	{Value: "arrival", Label: "Oldest first"},
	{Value: "-arrival", Label: "Newest first"},
	{Value: "-size", Label: "Largest first"},
	{Value: "size", Label: "Smallest first"},
	{Value: "sender", Label: "Sender A–Z"},
	{Value: "-sender", Label: "Sender Z–A"},
}

// queueActionChoices are the action bar's buttons, with the
// documentation's words for each.
var queueActionChoices = []choice{
	{Value: admin.QueueActionDelete, Label: "Delete", Help: "Permanently remove the message from the queue. Use this for spam or messages that should never be delivered.", Danger: true},
	{Value: admin.QueueActionBounce, Label: "Bounce", Help: "Return the message to the sender with a non-delivery report (NDR).", Danger: true},
	{Value: admin.QueueActionHold, Label: "Hold", Help: "Pause the message to prevent any further delivery attempts. Use this while investigating an issue."},
	{Value: admin.QueueActionRelease, Label: "Release", Help: "Resume delivery attempts for a message that was previously placed on hold."},
	{Value: admin.QueueActionRequeue, Label: "Requeue", Help: "Place the message back into the active queue to trigger a new delivery attempt. This is useful after fixing a temporary issue, such as a network or DNS problem."},
	{Value: admin.QueueActionRetry, Label: "Retry", Help: "Try to deliver the message now, without waiting for Postfix's next scheduled attempt."},
}

// maildrop is the queue of messages Postfix's pickup has not taken in;
// there Postfix can only delete them (the API refuses the other actions),
// so the buttons offered there are maildropActions.
const maildrop = "maildrop"

var maildropActions = []choice{queueActionChoices[0]} // Delete

func queueActionChoice(action string) (choice, bool) {
	for _, a := range queueActionChoices {
		if a.Value == action {
			return a, true
		}
	}
	return choice{}, false
}

// queueRow is one message of the listing, ready to show on one line:
// the first recipient and how many more, the first delay reason.
type queueRow struct {
	ID        string
	Queue     string
	Sender    string
	Subject   string
	Recipient string // the first
	More      int    // recipients after the first
	AllRcpts  string // every address, for the title (at most 20)
	Reason    string // the first delay reason
	Size      string
	Arrival   time.Time
	Age       string
	Expired   bool
}

func newQueueRow(m admin.QueueItem) queueRow {
	r := queueRow{
		ID: m.QueueID, Queue: m.QueueName, Sender: m.Sender, Subject: m.Subject,
		Size: admin.SizeText(m.Size), Arrival: m.ArrivalTime, Age: humanAge(m.AgeSeconds), Expired: m.ForcedExpire,
	}
	var all []string
	for i, rc := range m.Recipients {
		if i == 0 {
			r.Recipient = rc.Address
		}
		if r.Reason == "" {
			r.Reason = rc.DelayReason
		}
		if i < 20 {
			all = append(all, rc.Address)
		}
	}
	r.More = max(0, len(m.Recipients)-1)
	r.AllRcpts = strings.Join(all, ", ")
	if len(m.Recipients) > len(all) {
		r.AllRcpts += fmt.Sprintf(" and %d more", len(m.Recipients)-len(all))
	}
	return r
}

// pageLink is one page-size link: the size, its URL, and whether it is
// the one shown.
type pageLink struct {
	Size    int
	URL     string
	Current bool
}

// queuePageData is the Data of views/queue.html.
type queuePageData struct {
	Filter   queueFilterForm
	Errors   map[string]string // filter field -> sentence
	Listed   bool              // the filter was valid and the listing ran
	Page     admin.QueuePage
	Rows     []queueRow
	Summary  admin.QueueSummary
	Buckets  []string // the queue shape's column labels
	Queues   []string
	Sorts    []choice
	Actions  []choice
	Hidden   []hiddenField // the filter, for the action form
	Filtered bool          // a filter field is set
	// First and Last are the 1-based rows shown; FirstURL, PrevURL,
	// NextURL and LastURL page (empty: there is no such page), keeping
	// the filter and the page size.
	First, Last                         int
	FirstURL, PrevURL, NextURL, LastURL string
	PageNum, PageCount                  int
	Sizes                               []pageLink
	Limit                               int
	Refresh                             int    // seconds between auto-refreshes
	ReloadURL                           string // this very page
}

// pageQueue is GET /queues/mta: the documentation's live snapshot of
// Postfix's queues with a summary, filters, sort, paging and, for
// operators and admins, the action bar.
func (s *Server) pageQueue(c *fiber.Ctx) error {
	ff := queueFilterFormOf(c, false)
	d := queuePageData{
		Filter: ff, Errors: map[string]string{}, Queues: admin.QueueNames, Sorts: queueSorts,
		Actions: queueActionChoices, Hidden: ff.hidden(), Filtered: hasFilter(ff),
		Refresh: queueRefreshSeconds, ReloadURL: ff.url(ff.Offset),
	}
	if ff.Queue == maildrop {
		d.Actions = maildropActions
	}
	sum, err := s.admin.QueueSummary(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	d.Summary = sum
	d.Buckets = shapeLabels(sum.ShapeBucketMinutes)
	var flash *Flash
	f, err := ff.filter()
	if err == nil {
		d.Page, err = s.admin.QueueList(c.UserContext(), who(c), f)
	}
	var fe *store.UserError
	switch {
	case err == nil:
		d.Listed = true
	case errors.As(err, &fe):
		d.Errors[fe.Field] = fe.Msg
		flash = &Flash{Kind: "error", Message: "The filter was not applied: correct the field marked below."}
		if fe.Field == "offset" || fe.Field == "limit" {
			flash.Message = fe.Msg
		}
	default:
		return err
	}
	d.Limit = ff.limit()
	if d.Listed {
		d.Rows = make([]queueRow, 0, len(d.Page.Items))
		for _, m := range d.Page.Items {
			d.Rows = append(d.Rows, newQueueRow(m))
		}
		if len(d.Rows) > 0 {
			d.First, d.Last = d.Page.Offset+1, d.Page.Offset+len(d.Rows)
		}
		lim := d.Page.Limit
		lastOffset := max(0, (d.Page.Total-1)/lim*lim)
		if d.Page.Offset > 0 {
			d.FirstURL = ff.url(0)
			d.PrevURL = ff.url(max(0, d.Page.Offset-lim))
		}
		if d.Page.Offset+len(d.Rows) < d.Page.Total {
			d.NextURL = ff.url(d.Page.Offset + lim)
			if lastOffset > d.Page.Offset {
				d.LastURL = ff.url(lastOffset)
			}
		}
		d.PageNum, d.PageCount = d.Page.Offset/lim+1, max(1, (d.Page.Total+lim-1)/lim)
		for _, n := range queuePageSizes {
			g := ff.withLimit(n)
			d.Sizes = append(d.Sizes, pageLink{Size: n, URL: g.url(g.Offset), Current: n == lim})
		}
	}
	return s.renderStatus(c, fiber.StatusOK, "queue", "MTA Queue", d, flash)
}

func hasFilter(f queueFilterForm) bool {
	return f.Queue != "" || f.Q != "" || f.Sender != "" || f.Recipient != "" || f.MinAge != ""
}

// shapeLabels are the column heads of the queue shape, in minutes as
// qshape prints them: each bucket's upper bound, then the open last one.
func shapeLabels(bounds []int) []string {
	out := make([]string, 0, len(bounds)+1)
	for _, m := range bounds {
		out = append(out, strconv.Itoa(m)+"m")
	}
	if len(bounds) > 0 {
		out = append(out, strconv.Itoa(bounds[len(bounds)-1])+"m+")
	}
	return out
}

// humanAge is a message's age: "42 s", "7 min", "3 h 5 min", "2 d 4 h".
func humanAge(sec int64) string {
	switch {
	case sec < 60:
		return fmt.Sprintf("%d s", sec)
	case sec < 3600:
		return fmt.Sprintf("%d min", sec/60)
	case sec < 86400:
		return fmt.Sprintf("%d h %d min", sec/3600, sec%3600/60)
	}
	return fmt.Sprintf("%d d %d h", sec/86400, sec%86400/3600)
}
