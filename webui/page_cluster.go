package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

// clusterPageData is the Data of views/cluster.html.
type clusterPageData struct {
	Clustered bool
	View      admin.ClusterView
	// Standalone is the sentence a standalone node shows instead.
	Standalone string
}

// pageCluster is GET /cluster: every node of the cluster with its applied
// revision, lag, last result (Postfix's words when it refused), Postfix's
// state, queue and MPA counts and last heartbeat. A standalone node says
// that it is in no cluster.
func (s *Server) pageCluster(c *fiber.Ctx) error {
	v, err := s.admin.ClusterStatus(c.UserContext(), who(c))
	d := clusterPageData{Clustered: err == nil, View: v}
	if err != nil {
		code, body := errorStatus(err)
		if code != fiber.StatusNotFound {
			return err
		}
		d.Standalone = body.Error
	}
	return s.render(c, "cluster", "Cluster", d)
}
