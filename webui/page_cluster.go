package webui

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

// clusterPageData is the Data of views/cluster.html.
type clusterPageData struct {
	Clustered bool
	View      admin.ClusterView
	// Standalone is the sentence a standalone node shows instead.
	Standalone string
	// Queues is each node's MTA queue in words, in the order of View.Nodes.
	Queues []string
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
	for _, n := range v.Nodes {
		d.Queues = append(d.Queues, queueText(n.Status))
	}
	return s.render(c, "cluster", "Cluster", d)
}

// queueText is a node's MTA queue in a few words: the total, and the
// queues that hold anything.
func queueText(st *admin.ClusterNodeStatus) string {
	if st == nil {
		return ""
	}
	total := 0
	var parts []string
	for _, q := range []string{"incoming", "active", "deferred", "hold", "maildrop"} {
		if n := st.Queue[q]; n > 0 {
			total += n
			parts = append(parts, q+" "+strconv.Itoa(n))
		}
	}
	if total == 0 {
		return "0"
	}
	return strconv.Itoa(total) + " (" + strings.Join(parts, ", ") + ")"
}
