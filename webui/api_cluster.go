package webui

import "github.com/gofiber/fiber/v2"

// clusterGet is GET /api/v1/cluster: the cluster's nodes and their state
// (404 on a standalone node).
func (s *Server) clusterGet(c *fiber.Ctx) error {
	v, err := s.admin.ClusterStatus(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(v)
}
