package webui

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

// clusterGet is GET /api/v1/cluster: the cluster's nodes and their state
// (404 on a standalone node).
func (s *Server) clusterGet(c *fiber.Ctx) error {
	v, err := s.admin.ClusterStatus(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(v)
}

// peerQueueList is GET /api/v1/cluster/nodes/{node}/queue: another node's
// MTA queue (the query of GET /api/v1/queue), through that node's API.
func (s *Server) peerQueueList(c *fiber.Ctx) error {
	v := url.Values{}
	for k, val := range c.Queries() {
		v.Set(k, val)
	}
	page, err := s.admin.PeerQueue(c.UserContext(), who(c), param(c, "node"), v)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// peerQueueActions is POST /api/v1/cluster/nodes/{node}/queue/actions.
func (s *Server) peerQueueActions(c *fiber.Ctx) error {
	var in admin.QueueActionRequest
	if err := decodeJSON(c, &in, "action"); err != nil {
		return err
	}
	res, err := s.admin.PeerQueueAction(c.UserContext(), who(c), param(c, "node"), in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// peerErrorsList is GET /api/v1/cluster/nodes/{node}/mpa/errors.
func (s *Server) peerErrorsList(c *fiber.Ctx) error {
	v := url.Values{}
	for _, k := range []string{"offset", "limit"} {
		if val := c.Query(k); val != "" {
			v.Set(k, strings.Clone(val)) // out of fiber's buffers
		}
	}
	res, err := s.admin.PeerMPAErrors(c.UserContext(), who(c), param(c, "node"), v)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// peerErrorsActions is POST /api/v1/cluster/nodes/{node}/mpa/errors/actions.
func (s *Server) peerErrorsActions(c *fiber.Ctx) error {
	var in admin.ErrorActionRequest
	if err := decodeJSON(c, &in, "action"); err != nil {
		return err
	}
	n, err := s.admin.PeerMPAErrorAction(c.UserContext(), who(c), param(c, "node"), in)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"affected": n})
}
