package webui

import (
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

// mpaQueuePageData is the Data of views/mpa_queue.html.
type mpaQueuePageData struct {
	Items  []mpaQueueRow
	Counts admin.MPACounts
	// Waiting and Retry count the entries by state (Counts.Processing
	// counts what workers hold).
	Waiting, Retry int
	Now            time.Time
	// Total is the number of messages; Items holds at most
	// mpaQueueShown of them.
	Total int
	// Unreadable is the line about the records among the oldest
	// mpaQueueShown that do not decode ("" when none), and UnreadableN
	// their number: they are not rows, and without the line the page
	// had a hole nobody was told of (or said an empty queue).
	Unreadable  string
	UnreadableN int
}

// Shown is how many of the oldest messages the page covers: its rows
// and the unreadable records among them.
func (d mpaQueuePageData) Shown() int { return len(d.Items) + d.UnreadableN }

// The end of the line about unreadable records of the MPA queue page.
const (
	mpaQueueUnreadableOne  = "It is kept untouched with its message file and is not delivered until it is repaired or removed; the daemon's log says why."
	mpaQueueUnreadableMany = "They are kept untouched with their message files and are not delivered until they are repaired or removed; the daemon's log says why."
)

// mpaQueueShown bounds the rows of the MPA Queue page: a queue backed up
// to tens of thousands of messages (the MPA cannot hand mail back) made a
// page of megabytes, drawn again at every auto-refresh. The counts above
// the table count them all.
const mpaQueueShown = 200

// mpaQueueRow is one message of the MPA queue with its next attempt said
// relative to now ("in 40 s", "due").
type mpaQueueRow struct {
	admin.SpoolItem
	NextIn string
}

// pageMPAQueue is GET /queues/mpa: the messages waiting for the Mail
// Processing Agent, with their state, attempts, next attempt and last
// error. app.js refreshes the #mpa-live region while the page is open.
func (s *Server) pageMPAQueue(c *fiber.Ctx) error {
	ctx := c.UserContext()
	// Only the rows shown are read: every entry of a spool backed up to
	// tens of thousands was decoded at each auto-refresh.
	head, err := s.admin.MPAQueueHead(ctx, who(c), mpaQueueShown)
	if err != nil {
		return err
	}
	counts, err := s.admin.MPACounts(ctx, who(c))
	if err != nil {
		return err
	}
	now := time.Now()
	data := mpaQueuePageData{Counts: counts, Now: now, Total: head.Total, Waiting: head.Waiting, Retry: head.Retry,
		Unreadable:  unreadableLine(head.Unreadable, "on this page", mpaQueueUnreadableOne, mpaQueueUnreadableMany),
		UnreadableN: len(head.Unreadable)}
	for _, it := range head.Items {
		data.Items = append(data.Items, mpaQueueRow{SpoolItem: it, NextIn: mpaUntil(now, it.NextAttempt)})
	}
	return s.render(c, "mpa_queue", "MPA Queue", data)
}

// mpaUntil says when t comes, seen from now.
func mpaUntil(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "due now"
	case d < time.Minute:
		return fmt.Sprintf("in %d s", int(d.Seconds()+0.5))
	case d < time.Hour:
		return fmt.Sprintf("in %d min", int(d.Minutes()+0.5))
	case d < 48*time.Hour:
		return fmt.Sprintf("in %d h", int(d.Hours()+0.5))
	}
	return fmt.Sprintf("in %d days", int(d.Hours()/24+0.5))
}
