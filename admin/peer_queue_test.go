package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"postdeck/cluster/report"
	"postdeck/queue"
)

// peerOnly is a cluster node that knows one other node, at api.
type peerOnly struct{ api string }

func (peerOnly) Name() string { return "n1" }
func (peerOnly) ChangeShared(_ context.Context, _, _ string, change func() error) error {
	return change()
}
func (peerOnly) View(context.Context) report.View { return report.View{} }
func (peerOnly) Health() report.View              { return report.View{} }
func (p peerOnly) Peer(name string) (string, string, error) {
	return p.api, "peer-token", nil
}

// TestPeerQueueActionByFilter: an action by filter on another node's
// queue reaches that node's API with the filter it was given (a minimum
// age of 1.5s stayed 1.5s, not 1s: queue.Filter's JSON), and this
// node's audit entry says which messages it was for, as QueueAction's
// does; it said only "2 affected".
func TestPeerQueueActionByFilter(t *testing.T) {
	var got QueueActionRequest
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/api/v1/queue/actions" || json.Unmarshal(body, &got) != nil {
			http.Error(w, `{"error":"unexpected"}`, http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, `{"action":"delete","requested":2,"affected":2}`)
	}))
	defer peer.Close()
	s, db, _ := loggedService(t)
	s.SetCluster(peerOnly{api: peer.URL})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in := QueueActionRequest{Action: "delete", Filter: &queue.Filter{Queue: queue.Deferred, Recipient: "@partner.example.net", MinAge: 1500 * time.Millisecond}}
	res, err := s.PeerQueueAction(ctx, Root, "n2", in)
	if err != nil || res.Affected != 2 {
		t.Fatalf("peer action: %+v %v", res, err)
	}
	if got.Filter == nil || *got.Filter != *in.Filter {
		t.Errorf("the node got filter %+v, want %+v", got.Filter, in.Filter)
	}
	e := newest(t, db)
	for _, w := range []string{`queue "deferred"`, `recipient "@partner.example.net"`, "min_age 1.5s", "2 affected"} {
		if e.Action != "queue delete on node n2" || !strings.Contains(e.Detail, w) {
			t.Errorf("audit entry %q: %q does not say %q", e.Action, e.Detail, w)
		}
	}
}
