package webui

import (
	"net/url"
	"postdeck/queue"

	"github.com/gofiber/fiber/v2"
)

// queueList is GET /api/v1/queue: a filtered, sorted page of the Postfix
// queue from a short-lived snapshot, with its "as of" time.
func (s *Server) queueList(c *fiber.Ctx) error {
	f, err := queueFilter(c)
	if err != nil {
		return err
	}
	page, err := s.deps.Queue.List(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// queueFilter reads the filter fields of API.md from the query string.
func queueFilter(c *fiber.Ctx) (queue.Filter, error) {
	v := url.Values{}
	for k, val := range c.Queries() {
		v.Set(k, val)
	}
	return queue.ParseFilter(v)
}
