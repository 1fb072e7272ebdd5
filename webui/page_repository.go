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
	Items   []admin.ErrorItem // the list: one page of it
	Confirm *repositoryConfirm
	// Total is the size of the repository; Offset and Limit the page
	// of it that Items is.
	Total, Offset, Limit int
}

// repositoryPageSize bounds the list's page: the repository holds 10,000
// entries by default, and the whole of it was a page of megabytes.
const repositoryPageSize = 100

// repositoryConfirm is the question asked before a delete or requeue: the
// page works without JavaScript, so the server asks.
type repositoryConfirm struct {
	Action string            // admin.ErrorActionDelete or admin.ErrorActionRequeue
	All    bool              // the whole repository
	IDs    []string          // the selection, when not All
	Items  []admin.ErrorItem // what the action touches
	Back   string            // where Cancel goes
}

// Verb is the button and heading word of the confirmation.
func (c repositoryConfirm) Verb() string { return upperFirst(c.Action) }

// Shown is the part of Items the confirmation's table lists: "all" of a
// full repository was a table of megabytes. The form still carries every
// id; the heading says how many.
func (c repositoryConfirm) Shown() []admin.ErrorItem {
	return c.Items[:min(len(c.Items), repositoryPageSize)]
}

// NotShown counts the Items the table leaves out.
func (c repositoryConfirm) NotShown() int { return len(c.Items) - len(c.Shown()) }

// repositoryMessageData is the Data of views/repository_message.html.
type repositoryMessageData struct {
	admin.ErrorDetail
}

// pageRepository is GET /queues/repository: the MPA error repository.
func (s *Server) pageRepository(c *fiber.Ctx) error {
	items, err := s.admin.MPAErrors(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return s.render(c, "repository", "MPA Repository", repositoryPage(items, c.QueryInt("offset", 0)))
}

// repositoryPage is the list's page of items at offset; an offset past
// the end (entries deleted meanwhile) is the last page.
func repositoryPage(items []admin.ErrorItem, offset int) repositoryPageData {
	d := repositoryPageData{Total: len(items), Limit: repositoryPageSize}
	d.Offset = min(max(offset, 0), max((d.Total-1)/d.Limit*d.Limit, 0))
	d.Items = items[d.Offset:min(d.Offset+d.Limit, d.Total)]
	return d
}

// pageRepositoryMessage is GET /queues/repository/:id: one message with
// its envelope, reason, headers and the start of its body.
func (s *Server) pageRepositoryMessage(c *fiber.Ctx) error {
	d, err := s.admin.MPAError(c.UserContext(), who(c), c.Params("id"))
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
		items, err := s.admin.MPAErrors(ctx, who(c))
		if err != nil {
			return err
		}
		conf := &repositoryConfirm{Action: action, All: all, IDs: ids, Back: back}
		if all {
			// The form names what it lists: messages that fail after
			// this page was drawn were never shown, and stay. (Past the
			// bound of one action's ids, which only a quota raised past
			// it reaches, it says "all" alone.)
			conf.Items = items
			if len(items) <= store.MaxErrorIDs {
				for _, it := range items {
					conf.IDs = append(conf.IDs, it.ID)
				}
			}
		} else {
			byID := map[string]admin.ErrorItem{}
			for _, it := range items {
				byID[it.ID] = it
			}
			for _, id := range ids {
				it, ok := byID[id]
				if !ok {
					return s.repositoryError(c, fiber.StatusNotFound, fmt.Sprintf("The message %q is not in the error repository (requeued or deleted meanwhile?). Nothing was changed.", id))
				}
				conf.Items = append(conf.Items, it)
			}
		}
		if len(conf.Items) == 0 {
			return s.flashAndRedirect(c, &Flash{Kind: "info", Message: "The error repository is empty: nothing to " + action + "."}, "/queues/repository")
		}
		return s.render(c, "repository", "MPA Repository", repositoryPageData{Items: items, Confirm: conf})
	}
	left := 0 // entries of the repository the confirmation did not list
	if all && len(confirmedIDs) > 0 {
		// A confirmed "all" acts on the messages its confirmation listed
		// that are still there (another administrator may have requeued
		// or deleted some), not on those that failed since.
		items, err := s.admin.MPAErrors(ctx, who(c))
		if err != nil {
			return err
		}
		listed := map[string]bool{}
		for _, id := range confirmedIDs {
			listed[id] = true
		}
		for _, it := range items {
			if listed[it.ID] {
				ids = append(ids, it.ID)
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
	items, err := s.admin.MPAErrors(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return s.renderStatus(c, status, "repository", "MPA Repository", repositoryPage(items, 0), &Flash{Kind: "error", Message: msg})
}

func repoPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
