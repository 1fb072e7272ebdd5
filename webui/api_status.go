package webui

import (
	"encoding/json"
	"slices"
	"sync"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

func (s *Server) statusGet(c *fiber.Ctx) error {
	st, err := s.admin.Status(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	// The banners the pages show, from the same cache (computed at most
	// every bannerTTL however many poll).
	banners, _ := s.ui.banners.get(c.UserContext(), s.admin.Banners)
	st.Warnings = &banners
	if banners == nil {
		st.Warnings = &noWarnings
	}
	body, err := s.status.encode(st)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(body)
}

// noWarnings is the warnings of a status without banners (shared: read
// only).
var noWarnings = []admin.Banner{}

// statusAnswer keeps the last answer of GET /api/v1/status encoded. Every
// open dashboard polls it, and encoding/json walking the status (the queue
// summary most of all) was a quarter of what an answer cost the daemon
// (perf, BenchmarkConsole's status rounds) while the status is the same
// from one poll to the next. admin.Status holds only comparable values,
// and its queue summary and MPA counts are each one pointer while they
// stay the same (admin's queueCached and sharedCounts, never changed
// after), so == tells an unchanged status (its problems, made anew at each
// status that has some, by their sentences). Answers are the same for every
// caller with read permission, which admin.Status checks before.
type statusAnswer struct {
	mu   sync.Mutex
	st   admin.Status
	body []byte // never changed once kept: answers are sent from it
}

// encode returns st as JSON, the kept bytes when st is the status they
// were encoded from.
func (a *statusAnswer) encode(st admin.Status) ([]byte, error) {
	a.mu.Lock()
	// Problems are made anew at each status that has some, warnings at
	// each: the same sentences are the same status.
	if p, q := a.st.Problems, st.Problems; p != nil && q != nil && p != q && slices.Equal(*p, *q) {
		st.Problems = p
	}
	if p, q := a.st.Warnings, st.Warnings; p != nil && q != nil && p != q && slices.Equal(*p, *q) {
		st.Warnings = p
	}
	if a.body != nil && a.st == st {
		body := a.body
		a.mu.Unlock()
		return body, nil
	}
	a.mu.Unlock()
	body, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.st, a.body = st, body
	a.mu.Unlock()
	return body, nil
}

func (s *Server) auditList(c *fiber.Ctx) error {
	f, err := auditFilterOf(c)
	if err != nil {
		return err
	}
	entries, err := s.admin.FindAudit(c.UserContext(), who(c), f, c.QueryInt("limit", 100))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": entries})
}
