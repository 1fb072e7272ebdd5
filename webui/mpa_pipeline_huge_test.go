package webui

import (
	"strings"
	"testing"

	"postdeck/store"
)

// TestPipelineHugeNamesNotEchoed: a pipeline whose processor or template
// name is megabytes long (a file pasted into the wrong field of a script)
// is refused naming the field, with the start of the name only: the whole
// name was quoted in the answer and in the audit entry, which every
// auditor's page reads and the log keeps 10,000 of.
func TestPipelineHugeNamesNotEchoed(t *testing.T) {
	st := newStack(t)
	huge := strings.Repeat("x", 4<<20)
	for _, c := range []struct {
		field string
		doc   map[string]any
	}{
		{"processors", map[string]any{"processors": []string{"trace", huge}, "rules": "", "templates": []any{}}},
		{"templates", map[string]any{"rules": "", "templates": []map[string]string{{"name": huge, "text": "-- footer"}}}},
	} {
		r := st.socketDo(t, "PUT", "/api/v1/mpa/pipeline", c.doc)
		var ans struct {
			Error string `json:"error"`
			Field string `json:"field"`
		}
		r.decode(t, &ans)
		if r.Status != 400 || ans.Field != c.field || !strings.Contains(ans.Error, `"xxxxxxxx`) || len(r.Body) > 1024 {
			t.Errorf("%s: %d, field %q, %d bytes of answer starting %.200q; want 400 naming the field and the start of the name", c.field, r.Status, ans.Field, len(r.Body), r.Body)
		}
	}
	entries, err := st.db.FindAudit(2, func(e store.AuditEntry) bool { return e.Action == "mpa pipeline" })
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit: %d entries, %v", len(entries), err)
	}
	for _, e := range entries {
		if e.Result != "refused" || len(e.Detail) > 512 {
			t.Errorf("audit entry %q of %d bytes, starting %.200q", e.Result, len(e.Detail), e.Detail)
		}
	}
}
