package webui

import (
	"net/http"
	"strings"
	"testing"
)

// TestRepositoryUnreadableRecordOpenedByID: a record of the MPA
// Repository that does not decode, opened by its id (a bookmark, an id
// from the daemon's log; its row has no View link), was a 500 "Internal
// error" on the console and the API. It is a 409 sentence that says what
// it is and how to delete it, with none of the record's bytes.
func TestRepositoryUnreadableRecordOpenedByID(t *testing.T) {
	st := newFormStack(t)
	bad := unreadableIDs(2, 1)[0]
	putUnreadableMPA(t, st, nil, []string{bad})
	c := st.login(t, "admin")
	want := "Message " + bad + " could not be read (written by another postdeck version, or damaged); the daemon&#39;s log says why. It cannot be shown or requeued"
	for path, want := range map[string]string{
		"/queues/repository/" + bad: want,
		"/api/v1/mpa/errors/" + bad: strings.ReplaceAll(want, "&#39;", "'"),
	} {
		r := c.get(path)
		body := string(r.Body)
		if r.Status != http.StatusConflict || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d %.500s, want 409 with %q", path, r.Status, body, want)
		}
		for _, no := range []string{"Internal error", "invalid character", "a@exa", "decode"} {
			if strings.Contains(body, no) {
				t.Errorf("GET %s shows %q", path, no)
			}
		}
	}
	// The readable one still opens.
	if r := c.get("/queues/repository/00000000000000aaaa0002"); r.Status != http.StatusOK {
		t.Errorf("the readable record: %d", r.Status)
	}
}
