package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"postdeck/admin"
	clusterreport "postdeck/cluster/report"
	"postdeck/mpa"
	"postdeck/queue"
)

// onePeer is this node's cluster membership reduced to one other node,
// n2, whose API is at api.
type onePeer struct{ api string }

func (onePeer) Name() string { return "n1" }
func (onePeer) ChangeShared(_ context.Context, _, _ string, change func() error) error {
	return change()
}
func (onePeer) View(context.Context) clusterreport.View { return clusterreport.View{} }
func (onePeer) Health() clusterreport.View              { return clusterreport.View{} }
func (p onePeer) Peer(string) (string, string, error)   { return p.api, "peer-token", nil }

// TestPeerPageReadable: another node's page shows the mail-derived text
// its API answers (senders, recipients, reasons) as every other page
// does (Readable): a bidirectional override, a control character and
// the MPA's escape of a Latin-1 byte each become U+FFFD. It showed them
// as they came, so that "moc.elpmaxe@evil" read as another address.
func TestPeerPageReadable(t *testing.T) {
	const (
		hostile = "alice\u202egro.elpmaxe@evil.example"
		latin1  = "j\U0010FFF6rg@example.org"
		reason  = "template \x1b[2J failed"
	)
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var out any
		switch r.URL.Path {
		case "/api/v1/queue":
			out = queue.Page{Total: 1, Limit: 100, AsOf: time.Now(), Items: []queue.Message{{
				QueueID: "4BCDEF0123", QueueName: "deferred", Sender: hostile,
				Recipients: []queue.Recipient{{Address: latin1, DelayReason: reason}}, ArrivalTime: time.Now(),
			}}}
		case "/api/v1/mpa/errors":
			out = admin.PeerErrors{Total: 1, Items: []mpa.ErrorItem{{
				ID: "0123456789abcdef", Sender: latin1, Recipients: []string{hostile}, FailedAt: time.Now(), Stage: "rules", Reason: reason,
			}}}
		default:
			http.Error(w, `{"error":"unexpected"}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	defer peer.Close()
	st := newFormStack(t)
	st.admin.SetCluster(onePeer{api: peer.URL})
	c := st.login(t, "admin")
	res := c.get("/cluster/nodes/n2")
	body := string(res.Body)
	if res.Status != 200 || !strings.Contains(body, `id="peer-queue"`) || !strings.Contains(body, `id="peer-errors"`) {
		t.Fatalf("peer page: %d\n%.3000s", res.Status, body)
	}
	for _, bad := range []string{"\u202e", "\x1b", "\U0010FFF6"} {
		if strings.Contains(body, bad) {
			t.Errorf("the peer page shows %q as it came", bad)
		}
	}
	for _, want := range []string{"alice\ufffdgro.elpmaxe@evil.example", "j\ufffdrg@example.org", "template \ufffd[2J failed"} {
		if !strings.Contains(body, want) {
			t.Errorf("the peer page does not show %q", want)
		}
	}
}

// TestPeerPageErrorsArePaged: another node's error repository at 5,000
// entries is a table of repositoryPageSize rows on its page that says
// how many there are, as this node's own repository page is; it listed
// every entry (up to the quota of 10,000: a page of megabytes).
func TestPeerPageErrorsArePaged(t *testing.T) {
	const n = 5000
	errs := admin.PeerErrors{Total: n}
	for i := range n {
		errs.Items = append(errs.Items, mpa.ErrorItem{ID: fmt.Sprintf("0000000000000%09d", i), Sender: "alice@example.test",
			Recipients: []string{"bob@example.org"}, FailedAt: time.Now(), Stage: "pipeline", Reason: `template: missing key "x"`})
	}
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var out any = queue.Page{Limit: 100, AsOf: time.Now()}
		if r.URL.Path == "/api/v1/mpa/errors" {
			out = errs
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	defer peer.Close()
	st := newFormStack(t)
	st.admin.SetCluster(onePeer{api: peer.URL})
	res := st.login(t, "admin").get("/cluster/nodes/n2")
	body := string(res.Body)
	rows := strings.Count(body, `<tr id="peer-error-`)
	if res.Status != 200 || rows != repositoryPageSize || !strings.Contains(body, fmt.Sprintf("The oldest %d of %d messages.", repositoryPageSize, n)) {
		t.Fatalf("peer page: %d, %d rows in %d bytes", res.Status, rows, len(body))
	}
}
