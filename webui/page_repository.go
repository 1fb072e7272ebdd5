package webui

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// repositoryPageData is the Data of views/repository.html: the list, or a
// confirmation of an action on it (Confirm set).
type repositoryPageData struct {
	// Rows is the list, one page of it: its entries and its records
	// that do not decode, each in its place by id (the repository's
	// order, oldest first), so that one of those can be ticked and
	// deleted alone.
	Rows    []repositoryRow
	Confirm *repositoryConfirm
	// Total is the size of the repository; Offset and Limit the page
	// of it that Rows is.
	Total, Offset, Limit int
	// Unreadable is the line about the page's records that do not
	// decode ("" when none): it counts and names the rows that say so,
	// which can sit anywhere among a hundred.
	Unreadable string
}

// repositoryRow is a row of the MPA Repository page: an entry, or (with
// Unreadable) only the id of a record that does not decode. Such a record
// had no row at all: it could be removed only with Delete all, which
// removes every good message too, or with the CLI.
type repositoryRow struct {
	admin.ErrorItem
	Unreadable bool
}

// repositoryRows merges a page's entries and the ids of its records that
// do not decode (both in the repository's order, by id) into its rows.
func repositoryRows(items []admin.ErrorItem, unreadable []string) []repositoryRow {
	rows := make([]repositoryRow, 0, len(items)+len(unreadable))
	for len(items) > 0 || len(unreadable) > 0 {
		if len(unreadable) > 0 && (len(items) == 0 || unreadable[0] < items[0].ID) {
			rows = append(rows, repositoryRow{ErrorItem: admin.ErrorItem{ID: unreadable[0]}, Unreadable: true})
			unreadable = unreadable[1:]
			continue
		}
		rows = append(rows, repositoryRow{ErrorItem: items[0]})
		items = items[1:]
	}
	return rows
}

// repositoryPageSize bounds the list's page: the repository holds 10,000
// entries by default, and the whole of it was a page of megabytes.
const repositoryPageSize = 100

// repositoryConfirm is the question asked before a delete or requeue: the
// page works without JavaScript, so the server asks.
type repositoryConfirm struct {
	Action string   // admin.ErrorActionDelete or admin.ErrorActionRequeue
	All    bool     // the whole repository
	IDs    []string // the selection, or what "all" names
	// Items is the start of what the action touches, at most
	// repositoryPageSize ("all" of a full repository was a table of
	// megabytes, and reading it all a view of megabytes); Count is all
	// of it. The form still carries every id; the heading says how many.
	Items []admin.ErrorItem
	Count int
	// Unreadable is the line about the records among the first
	// repositoryPageSize that do not decode ("" when none); UnreadableN
	// counts them (they are not rows of Items).
	Unreadable  string
	UnreadableN int
	Back        string // where Cancel goes
}

// Verb is the button and heading word of the confirmation.
func (c repositoryConfirm) Verb() string { return upperFirst(c.Action) }

// NotShown counts what the action touches that the table (Items) leaves
// out.
func (c repositoryConfirm) NotShown() int { return c.Count - len(c.Items) - c.UnreadableN }

// repositoryMessageData is the Data of views/repository_message.html.
type repositoryMessageData struct {
	admin.ErrorDetail
}

// pageRepository is GET /queues/repository: the MPA error repository.
func (s *Server) pageRepository(c *fiber.Ctx) error {
	d, err := s.repositoryPage(c, c.QueryInt("offset", 0))
	if err != nil {
		return err
	}
	return s.render(c, "repository", "MPA Repository", d)
}

// repositoryPage is the list's page at offset, read alone (the
// repository holds 10,000 entries by default); an offset past the end
// (entries deleted meanwhile) is the last page.
func (s *Server) repositoryPage(c *fiber.Ctx, offset int) (repositoryPageData, error) {
	p, err := s.admin.MPAErrorPage(c.UserContext(), who(c), offset, repositoryPageSize, false)
	if err != nil {
		return repositoryPageData{}, err
	}
	return repositoryPageData{Rows: repositoryRows(p.Items, p.Unreadable), Total: p.Total, Offset: p.Offset, Limit: repositoryPageSize,
		Unreadable: unreadableLine(p.Unreadable, "on this page", repositoryUnreadableOne, repositoryUnreadableMany)}, nil
}

// The end of the line about unreadable records of the error repository
// page, for one and for several: what is done with them and what can be
// done (requeue cannot work without the envelope the record holds).
const (
	repositoryUnreadableOne = "It is kept untouched with its message file; the daemon's log says why. " +
		"It cannot be requeued (its envelope cannot be read): select its row and choose Delete to delete it alone."
	repositoryUnreadableMany = "They are kept untouched with their message files; the daemon's log says why. " +
		"They cannot be requeued (their envelopes cannot be read): select their rows and choose Delete to delete them alone."
	// confirmUnreadable ends the confirmation's line; before a requeue,
	// confirmUnreadableRequeueOne and Many say what becomes of them.
	confirmUnreadable            = "The daemon's log says why."
	confirmUnreadableRequeueOne  = "The daemon's log says why. It cannot be requeued (its envelope cannot be read): the requeue leaves it as it is; Delete deletes it."
	confirmUnreadableRequeueMany = "The daemon's log says why. They cannot be requeued (their envelopes cannot be read): the requeue leaves them as they are; Delete deletes them."
)

// confirmUnreadableLine is the confirmation's line about the records of
// ids that do not decode, for action.
func confirmUnreadableLine(ids []string, action string) string {
	if action == admin.ErrorActionRequeue {
		return unreadableLine(ids, "among them", confirmUnreadableRequeueOne, confirmUnreadableRequeueMany)
	}
	return unreadableLine(ids, "among them", confirmUnreadable, confirmUnreadable)
}

// unreadableShownIDs bounds the ids a line about unreadable records
// names: a page can hold a hundred of them.
const unreadableShownIDs = 5

// unreadableLine is the sentence a page shows about the records of where
// ("on this page") that do not decode (written by another version,
// restored from an old backup, damaged): how many, the first
// unreadableShownIDs ids and how many more, then what happens to them
// (one for a single record, many for several). No decoding error is
// shown: the daemon logged it at its start. It is "" for none.
func unreadableLine(ids []string, where, one, many string) string {
	if len(ids) == 0 {
		return ""
	}
	return fmt.Sprintf("%d %s %s could not be read: %s. %s", len(ids), repoPlural(len(ids), "message", "messages"), where,
		store.NamedIDs(ids, unreadableShownIDs), repoPlural(len(ids), one, many))
}

// pageRepositoryMessage is GET /queues/repository/:id: one message with
// its envelope, reason, headers and the start of its body.
func (s *Server) pageRepositoryMessage(c *fiber.Ctx) error {
	d, err := s.admin.MPAError(c.UserContext(), who(c), param(c, "id"))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return newClientError(fiber.StatusNotFound, "The message is not in the error repository: it was requeued or deleted, or the id is wrong.")
		}
		return err
	}
	return s.render(c, "repository_message", "Repository message", repositoryMessageData{ErrorDetail: d})
}

// pageRepositoryActions is POST /queues/repository/actions: delete or
// requeue one message, a selection, or all. Without confirmed=1 it
// shows the confirmation (with the documentation's tip before a requeue);
// with it, it acts and goes back to the list with the affected count.
func (s *Server) pageRepositoryActions(c *fiber.Ctx) error {
	ctx := c.UserContext()
	action := strings.Clone(c.FormValue("action"))
	all := false
	if a, ok := strings.CutSuffix(action, "-all"); ok {
		action, all = a, true
	}
	if c.FormValue("all") == "1" {
		all = true
	}
	ids, err := formValues(c, "id", store.MaxErrorIDs)
	if err != nil {
		return s.repositoryError(c, fiber.StatusBadRequest, publicText(err)+" Nothing was changed.")
	}
	back := "/queues/repository"
	if len(ids) == 1 && c.FormValue("from") == "message" && store.ValidSpoolID(ids[0]) {
		back = "/queues/repository/" + ids[0]
	}
	if action != admin.ErrorActionDelete && action != admin.ErrorActionRequeue {
		return s.repositoryError(c, fiber.StatusBadRequest, fmt.Sprintf("Unknown action %q: choose Delete or Requeue.", action))
	}
	var confirmedIDs []string // what a confirmation of "all" listed
	if all {
		confirmedIDs, ids = ids, nil
	} else if len(ids) == 0 {
		return s.repositoryError(c, fiber.StatusBadRequest, "Select at least one message, or use "+upperFirst(action)+" all.")
	}
	if c.FormValue("confirmed") != "1" {
		conf := &repositoryConfirm{Action: action, All: all, IDs: ids, Back: back}
		if all {
			// The form names what it lists: messages that fail after
			// this page was drawn were never shown, and stay. (Past the
			// bound of one action's ids, which only a quota raised past
			// it reaches, it says "all" alone.)
			p, err := s.admin.MPAErrorPage(ctx, who(c), 0, repositoryPageSize, true)
			if err != nil {
				return err
			}
			conf.Items, conf.Count = p.Items, p.Total
			conf.Unreadable, conf.UnreadableN = confirmUnreadableLine(p.Unreadable, action), len(p.Unreadable)
			if len(p.IDs) <= store.MaxErrorIDs {
				conf.IDs = p.IDs
			}
		} else {
			sel, err := s.admin.MPAErrorSelection(ctx, who(c), ids, repositoryPageSize)
			if err != nil {
				return err
			}
			if sel.Missing != "" {
				return s.repositoryError(c, fiber.StatusNotFound, fmt.Sprintf("The message %q is not in the error repository (requeued or deleted meanwhile?). Nothing was changed.", sel.Missing))
			}
			conf.Items, conf.Count = sel.Items, sel.Count
			conf.Unreadable, conf.UnreadableN = confirmUnreadableLine(sel.Unreadable, action), len(sel.Unreadable)
		}
		if conf.Count == 0 {
			return s.flashAndRedirect(c, &Flash{Kind: "info", Message: "The error repository is empty: nothing to " + action + "."}, "/queues/repository")
		}
		return s.render(c, "repository", "MPA Repository", repositoryPageData{Confirm: conf})
	}
	left := 0 // entries of the repository the confirmation did not list
	if all && len(confirmedIDs) > 0 {
		// A confirmed "all" acts on the messages its confirmation listed
		// that are still there (another administrator may have requeued
		// or deleted some), not on those that failed since. Their ids
		// are enough: no entry is decoded.
		p, err := s.admin.MPAErrorPage(ctx, who(c), 0, 0, true)
		if err != nil {
			return err
		}
		listed := map[string]bool{}
		for _, id := range confirmedIDs {
			listed[id] = true
		}
		for _, id := range p.IDs {
			if listed[id] {
				ids = append(ids, id)
			} else {
				left++
			}
		}
		all = false
		if len(ids) == 0 {
			return s.flashAndRedirect(c, &Flash{Kind: "info", Message: "The messages you confirmed were requeued or deleted meanwhile: nothing to " + action + "."}, "/queues/repository")
		}
	}
	n, err := s.admin.MPAErrorAction(ctx, who(c), admin.ErrorActionRequest{Action: action, IDs: ids, All: all})
	if err != nil && n > 0 {
		// Stopped midway, or a requeue that left the entries it cannot
		// read: done in part. The list shows what is left, with what
		// was done, after a redirect as for a full success: the list
		// answered to the post itself was posted again by a reload,
		// which requeued or deleted again.
		_, body := errorStatus(err)
		return s.flashAndRedirect(c, &Flash{Kind: "error", Message: body.Error}, "/queues/repository")
	}
	if err != nil {
		code, body := errorStatus(err)
		if code >= 500 {
			return err
		}
		return s.repositoryError(c, code, body.Error+" Nothing was changed.")
	}
	verb := "Deleted"
	if action == admin.ErrorActionRequeue {
		verb = "Requeued"
	}
	msg := fmt.Sprintf("%s %d %s.", verb, n, repoPlural(n, "message", "messages"))
	if action == admin.ErrorActionRequeue && n > 0 {
		msg += repoPlural(n, " It is", " They are") + " back in the MPA queue and will be processed as new attempts."
	}
	if left > 0 {
		msg += fmt.Sprintf(" %d %s after the confirmation %s left in the repository.", left, repoPlural(left, "message that failed", "messages that failed"), repoPlural(left, "was", "were"))
	}
	return s.flashAndRedirect(c, &Flash{Kind: "success", Message: msg}, "/queues/repository")
}

// repositoryError shows the list again with an error and the given status
// (400 for bad input, 404 for an unknown id).
func (s *Server) repositoryError(c *fiber.Ctx, status int, msg string) error {
	d, err := s.repositoryPage(c, 0)
	if err != nil {
		return err
	}
	return s.renderStatus(c, status, "repository", "MPA Repository", d, &Flash{Kind: "error", Message: msg})
}

func repoPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
