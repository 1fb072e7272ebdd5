package webui

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"postdeck/admin"
	"postdeck/store"
)

// tokenPeer is onePeer with the other node's real API and a token of it.
type tokenPeer struct {
	onePeer
	token string
}

func (p tokenPeer) Peer(string) (string, string, error) { return p.api, p.token, nil }

// TestPeerPageSaysWhichRecordsAreUnreadable: another node's error
// repository records that do not decode there are named on its page and
// in GET /api/v1/cluster/nodes/{node}/mpa/errors as that node names them
// (unreadable), with the line of this node's own repository page. They
// were dropped on the way: the page counted them in its total with no
// word of them, and a repository holding only such records showed as
// empty. The node here is a real one (its console and API, its database
// holding the records, an operator token of it).
func TestPeerPageSaysWhichRecordsAreUnreadable(t *testing.T) {
	n2 := newFormStack(t)
	bad := unreadableIDs(3, 7)
	putUnreadableMPA(t, n2, nil, bad)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := n2.admin.CreateToken(ctx, admin.Root, admin.TokenRequest{Name: "cluster-peers", Role: store.RoleOperator})
	if err != nil {
		t.Fatal(err)
	}
	n1 := newFormStack(t)
	n1.admin.SetCluster(tokenPeer{onePeer: onePeer{api: n2.base}, token: tok.Token})
	c := n1.login(t, "admin")

	r := c.get("/api/v1/cluster/nodes/n2/mpa/errors")
	var ans struct {
		Total      int               `json:"total"`
		Items      []json.RawMessage `json:"items"`
		Unreadable []string          `json:"unreadable"`
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &ans) != nil || ans.Total != 8 || len(ans.Items) != 1 || !reflect.DeepEqual(ans.Unreadable, bad) {
		t.Errorf("GET /api/v1/cluster/nodes/n2/mpa/errors: %d %.500s, want total 8, one item and unreadable %v", r.Status, r.Body, bad)
	}

	page := func() string {
		t.Helper()
		r := c.get("/cluster/nodes/n2")
		if r.Status != 200 {
			t.Fatalf("GET /cluster/nodes/n2: %d %.500s", r.Status, r.Body)
		}
		return string(r.Body)
	}
	body := page()
	want := []string{
		`id="peer-errors-unreadable"`,
		"7 messages on this page could not be read: " + strings.Join(bad[:5], ", ") + " and 2 more. " +
			"They are kept untouched with their message files on that node; its daemon&#39;s log says why. Delete them on that node&#39;s MPA Repository page (select their rows), or with postdeck mpa error delete ID there.",
		`id="peer-error-00000000000000aaaa0002"`,
		"8 messages.",
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("the peer page: %q missing", w)
		}
	}
	for _, no := range []string{bad[5], "The oldest 1 of 8", `id="peer-errors-empty"`, "invalid character", "unexpected end"} {
		if strings.Contains(body, no) {
			t.Errorf("the peer page shows %q", no)
		}
	}

	// A repository of unreadable records alone is not empty.
	if err := n2.db.Bolt().Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("mpa_errors")).Delete([]byte("00000000000000aaaa0002"))
	}); err != nil {
		t.Fatal(err)
	}
	body = page()
	if strings.Contains(body, `id="peer-errors-empty"`) || !strings.Contains(body, `id="peer-errors-unreadable"`) || !strings.Contains(body, "7 messages.") {
		t.Errorf("the peer page of a repository of unreadable records alone says it is empty, or not that they could not be read")
	}
}
