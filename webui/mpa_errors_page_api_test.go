package webui

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// TestMPAErrorsAPIIsPaged: GET /api/v1/mpa/errors answers a page of the
// error repository (offset, limit; 100 entries without a limit, at most
// 1,000) and the count of all. It answered every entry at once: after a
// bad night of 20,000 entries with envelopes of up to 1,000 recipients,
// hundreds of megabytes decoded and written in one answer, more than
// another node's console takes (32 MiB). Paging through it yields every
// entry once; a bad offset or limit is a 400 naming it.
func TestMPAErrorsAPIIsPaged(t *testing.T) {
	st := newFormStack(t)
	c := st.login(t, "admin")
	const n = 1500
	var rcpts []store.MPARecipient
	for i := range 50 {
		rcpts = append(rcpts, store.MPARecipient{Address: fmt.Sprintf("user%02d@example.org", i)})
	}
	entries := make([]store.ErrorEntry, 0, n)
	for i := range n {
		entries = append(entries, store.ErrorEntry{ID: fmt.Sprintf("0000000000000%09d", i),
			Envelope: store.MPAEnvelope{Sender: "alice@example.test", Recipients: rcpts},
			Size:     100, Received: time.Now(), FailedAt: time.Now(), Stage: store.StagePipeline, Reason: "a bad rule"})
	}
	if err := st.db.MPASpoolCommit("", nil, entries); err != nil {
		t.Fatal(err)
	}
	type page struct {
		Total  int `json:"total"`
		Offset int `json:"offset"`
		Limit  int `json:"limit"`
		Items  []struct {
			ID         string   `json:"id"`
			Recipients []string `json:"recipients"`
		} `json:"items"`
	}
	get := func(query string) page {
		t.Helper()
		r := c.get("/api/v1/mpa/errors" + query)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %.300s", query, r.Status, r.Body)
		}
		var p page
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := get(""); p.Total != n || p.Offset != 0 || len(p.Items) != 100 || p.Items[0].ID != entries[0].ID || len(p.Items[0].Recipients) != 50 {
		t.Fatalf("without paging: total %d, offset %d, %d items, want %d, 0, 100 from the oldest with its recipients", p.Total, p.Offset, len(p.Items), n)
	}
	if p := get("?offset=1400&limit=1000"); p.Total != n || p.Offset != 1400 || len(p.Items) != 100 || p.Items[0].ID != entries[1400].ID {
		t.Fatalf("the last page: total %d, offset %d, %d items", p.Total, p.Offset, len(p.Items))
	}
	seen := map[string]bool{}
	for off := 0; off < n; {
		p := get(fmt.Sprintf("?offset=%d&limit=1000", off))
		if p.Offset != off || p.Limit != 1000 || len(p.Items) == 0 || len(p.Items) > 1000 {
			t.Fatalf("page at %d: offset %d, limit %d, %d items", off, p.Offset, p.Limit, len(p.Items))
		}
		for _, it := range p.Items {
			if seen[it.ID] {
				t.Fatalf("%s listed twice", it.ID)
			}
			seen[it.ID] = true
		}
		off += len(p.Items)
	}
	if len(seen) != n {
		t.Fatalf("paging listed %d entries, want %d", len(seen), n)
	}
	for _, tc := range []struct{ query, field string }{
		{"?limit=1001", "limit"}, {"?limit=-1", "limit"}, {"?limit=ten", "limit"}, {"?offset=-5", "offset"}, {"?offset=1e3", "offset"},
	} {
		r := c.get("/api/v1/mpa/errors" + tc.query)
		var e struct{ Error, Field string }
		_ = json.Unmarshal(r.Body, &e)
		if r.Status != 400 || e.Field != tc.field || !strings.Contains(e.Error, "whole number") {
			t.Errorf("GET %s: %d %s, want 400 naming %s", tc.query, r.Status, r.Body, tc.field)
		}
	}
}
