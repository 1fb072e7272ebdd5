package webui

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// peerPageData is the Data of views/peer.html.
type peerPageData struct {
	Node        string
	Queue       admin.QueuePage
	QueueError  string
	Errors      admin.PeerErrors
	ErrorsError string
	// ErrorsUnreadable is the line about the records of the node's page
	// of its error repository that do not decode ("" when none), as
	// this node's repository page says it: they are not rows, and the
	// page had a hole nobody was told of (or said an empty repository).
	ErrorsUnreadable string
}

// ErrorsShown is how many of the oldest entries of the node's error
// repository the page covers: its rows and the unreadable records among
// them.
func (d peerPageData) ErrorsShown() int { return len(d.Errors.Items) + len(d.Errors.Unreadable) }

// The end of the line about unreadable records of another node's error
// repository: they are that node's, and so is the log that says why.
const (
	peerUnreadableOne = "It is kept untouched with its message file on that node; its daemon's log says why. " +
		"Delete it on that node's MPA Repository page (select its row), or with postdeck mpa error delete ID there."
	peerUnreadableMany = "They are kept untouched with their message files on that node; its daemon's log says why. " +
		"Delete them on that node's MPA Repository page (select their rows), or with postdeck mpa error delete ID there."
)

// pagePeer is GET /cluster/nodes/{node}: another node's MTA queue (the
// first 100 messages) and MPA error repository (the oldest
// repositoryPageSize entries), read through its API.
func (s *Server) pagePeer(c *fiber.Ctx) error {
	ctx, id, node := c.UserContext(), who(c), strings.Clone(param(c, "node"))
	d := peerPageData{Node: node}
	page, err := s.admin.PeerQueue(ctx, id, node, url.Values{"limit": {"100"}})
	if err != nil {
		if _, body := errorStatus(err); body.Error != "" {
			d.QueueError = body.Error
		}
	}
	d.Queue = page
	errs, err := s.admin.PeerMPAErrors(ctx, id, node, url.Values{"limit": {strconv.Itoa(repositoryPageSize)}})
	if err != nil {
		if _, body := errorStatus(err); body.Error != "" {
			d.ErrorsError = body.Error
		}
	}
	// A page of the repository, as on this node's own page: asked for
	// one page, and cut to it in case a node of an older version answers
	// all of it (10,000 entries by default, a table of megabytes). Total
	// still counts every entry.
	errs.Items = errs.Items[:min(len(errs.Items), repositoryPageSize)]
	errs.Unreadable = errs.Unreadable[:min(len(errs.Unreadable), repositoryPageSize-len(errs.Items))]
	d.Errors = errs
	d.ErrorsUnreadable = unreadableLine(errs.Unreadable, "on this page", peerUnreadableOne, peerUnreadableMany)
	return s.render(c, "peer", "Node "+node, d)
}

// pagePeerActions is POST /cluster/nodes/{node}/actions: an action on the
// selected messages of another node's queue (target=queue: hold, release,
// requeue, delete) or error repository (target=repository: requeue,
// delete), then back to that node's page with what happened.
func (s *Server) pagePeerActions(c *fiber.Ctx) error {
	ctx, id, node := c.UserContext(), who(c), strings.Clone(param(c, "node"))
	back := "/cluster/nodes/" + url.PathEscape(node)
	// The other node applies the same limits; these keep the request to
	// it (and the copies here) bounded.
	limit := admin.QueueMaxActionIDs
	if c.FormValue("target") == "repository" {
		limit = store.MaxErrorIDs
	}
	ids, err := formValues(c, "id", limit)
	if err != nil {
		return s.flashAndRedirect(c, &Flash{Kind: "error", Message: "Nothing was done: " + publicText(err)}, back)
	}
	action := strings.Clone(c.FormValue("action"))
	if len(ids) == 0 {
		return s.flashAndRedirect(c, &Flash{Kind: "error", Message: "Select at least one message."}, back)
	}
	var msg string
	switch c.FormValue("target") {
	case "queue":
		var res admin.QueueActionResult
		res, err = s.admin.PeerQueueAction(ctx, id, node, admin.QueueActionRequest{Action: action, IDs: ids})
		msg = upperFirst(action) + " on node " + node + ": " + strconv.Itoa(res.Affected) + " affected."
	case "repository":
		var n int
		n, err = s.admin.PeerMPAErrorAction(ctx, id, node, admin.ErrorActionRequest{Action: action, IDs: ids})
		msg = upperFirst(action) + " on node " + node + ": " + strconv.Itoa(n) + " affected."
	default:
		return s.flashAndRedirect(c, &Flash{Kind: "error", Message: "Choose the MTA queue or the error repository."}, back)
	}
	if err != nil {
		flash, _, ferr := s.formError(err)
		if ferr != nil {
			return ferr
		}
		return s.flashAndRedirect(c, flash, back)
	}
	return s.flashAndRedirect(c, &Flash{Kind: "success", Message: msg}, back)
}
