package webui

import (
	"encoding/binary"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"postdeck/store"
)

// TestAuditLogListsAroundADamagedEntry: one audit entry that does not
// decode (a damaged database, a format of another version) made the audit
// page and GET /api/v1/audit a 500 for as long as it was among the newest
// 10,000, on the very day the administrator reads the log. Both now list
// every readable entry and, in the damaged one's place, a row saying that
// entry N could not be read; its bytes reach neither; a filter does not
// match it.
func TestAuditLogListsAroundADamagedEntry(t *testing.T) {
	st := newStack(t)
	if err := st.db.AppendAudit(store.AuditEntry{Actor: "alice (session)", Action: "settings", Result: "applied"}); err != nil {
		t.Fatal(err)
	}
	var bad uint64
	if err := st.db.Bolt().Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		var err error
		if bad, err = b.NextSequence(); err != nil {
			return err
		}
		k := make([]byte, 8)
		binary.BigEndian.PutUint64(k, bad)
		return b.Put(k, []byte("{not json DAMAGED-BYTES <script>"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.db.AppendAudit(store.AuditEntry{Actor: "bob (token)", Action: "map transport-maps", Result: "refused"}); err != nil {
		t.Fatal(err)
	}
	n := strconv.FormatUint(bad, 10)
	sentence := "Audit entry " + n + " could not be read"
	leaks := []string{"DAMAGED", "not json", "invalid character", "decode"}

	adm := st.login(t, "admin")
	res := adm.get("/audit")
	page := string(res.Body)
	if res.Status != 200 {
		t.Fatalf("GET /audit with a damaged entry: %d %.500s", res.Status, page)
	}
	for _, want := range []string{"<td>settings</td>", "<td>map transport-maps</td>", `id="audit-unreadable-` + n + `"`, sentence} {
		if !strings.Contains(page, want) {
			t.Errorf("the audit page lacks %q", want)
		}
	}
	// In its place: between the entries written before and after it.
	if i, j, k := strings.Index(page, "<td>map transport-maps</td>"), strings.Index(page, sentence), strings.Index(page, "<td>settings</td>"); !(i < j && j < k) {
		t.Errorf("the damaged entry's row is not in its place (%d %d %d)", i, j, k)
	}
	for _, no := range leaks {
		if strings.Contains(page, no) {
			t.Errorf("the audit page shows %q", no)
		}
	}
	// A filter does not match it.
	if body := string(adm.get("/audit?who=o").Body); strings.Contains(body, sentence) || !strings.Contains(body, "<td>settings</td>") {
		t.Errorf("/audit?who=o: the damaged entry listed, or the readable ones missing")
	}

	r := st.socketDo(t, "GET", "/api/v1/audit", nil)
	if r.Status != 200 {
		t.Fatalf("GET /api/v1/audit with a damaged entry: %d %s", r.Status, r.Body)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	r.decode(t, &list)
	var found bool
	for _, e := range list.Items {
		if e["unreadable"] == true {
			found = true
			if e["seq"] != float64(bad) || e["action"] != store.ActionUnreadable || !strings.Contains(e["detail"].(string), sentence) {
				t.Errorf("the damaged entry in the API: %v", e)
			}
		}
	}
	if !found || len(list.Items) < 3 {
		t.Errorf("GET /api/v1/audit: %d items, damaged one listed %v: %s", len(list.Items), found, r.Body)
	}
	for _, no := range leaks {
		if strings.Contains(string(r.Body), no) {
			t.Errorf("the API answer carries %q", no)
		}
	}
	if r := st.socketDo(t, "GET", "/api/v1/audit?what=map", nil); strings.Contains(string(r.Body), `"unreadable"`) || !strings.Contains(string(r.Body), "transport-maps") {
		t.Errorf("GET /api/v1/audit?what=map: %s", r.Body)
	}
}
