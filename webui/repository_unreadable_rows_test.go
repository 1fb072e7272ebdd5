package webui

import (
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Around the readable error entry of putUnreadableMPA
// (00000000000000aaaa0002): an unreadable record before it and one after
// it, by id (the repository's order, oldest first).
const (
	unreadableBefore = "00000000000000aaaa0001"
	readableError    = "00000000000000aaaa0002"
	unreadableAfter  = "00000000000000aaaa0003"
)

// errorRecordIDs are the ids of the error repository's records, read
// from the database with bbolt (whether they decode or not).
func errorRecordIDs(t *testing.T, st *stack) []string {
	t.Helper()
	var ids []string
	if err := st.db.Bolt().View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("mpa_errors")).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestRepositoryUnreadableRecordsAreRows: on the MPA Repository page an
// error-repository record that does not decode is a row of its own, in
// its place by id, with a checkbox and a sentence saying it could not be
// read and cannot be requeued, and nothing of its bytes. Deleting the
// ticked one (the form the page posts, confirmed) deletes it alone; a
// requeue of it with a good message requeues the good one and says in a
// sentence why it left the other; a requeue of it alone says so and
// changes nothing. Such a record had no row: only Delete all (every
// message, the good ones too) or the CLI could remove it.
func TestRepositoryUnreadableRecordsAreRows(t *testing.T) {
	st := newFormStack(t)
	putUnreadableMPA(t, st, nil, []string{unreadableBefore, unreadableAfter})
	c := st.login(t, "admin")

	r := c.get("/queues/repository")
	page := string(r.Body)
	if r.Status != 200 {
		t.Fatalf("GET /queues/repository: %d", r.Status)
	}
	var rows []string
	for _, m := range regexp.MustCompile(`<tr id="error-([^"]+)"`).FindAllStringSubmatch(page, -1) {
		rows = append(rows, m[1])
	}
	if want := []string{unreadableBefore, readableError, unreadableAfter}; !reflect.DeepEqual(rows, want) {
		t.Fatalf("the page's rows are %v, want %v (each record in its place by id)", rows, want)
	}
	for _, id := range []string{unreadableBefore, unreadableAfter} {
		_, row, _ := strings.Cut(page, `<tr id="error-`+id+`"`)
		row, _, _ = strings.Cut(row, "</tr>")
		for _, w := range []string{`class="unreadable"`, `<input type="checkbox" name="id" value="` + id + `" id="select-` + id + `"`,
			"Message " + id + " could not be read", "It cannot be requeued: select it and choose Delete to delete it."} {
			if !strings.Contains(row, w) {
				t.Errorf("the row of the unreadable record %s lacks %q:\n%s", id, w, row)
			}
		}
		if strings.Contains(row, "view-link") {
			t.Errorf("the row of the unreadable record %s links to a message page it cannot show", id)
		}
	}
	for _, bad := range []string{"a@exa", "invalid character", "unexpected end", "decode"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page shows %q of the undecodable record or its error", bad)
		}
	}
	if w := "2 messages on this page could not be read: " + unreadableBefore + ", " + unreadableAfter + "."; !strings.Contains(page, w) {
		t.Errorf("the line that counts them is gone: %q missing", w)
	}

	// Delete, as the page posts it with the first unreadable row ticked:
	// the confirmation, then the delete of that one alone.
	r = c.postForm("/queues/repository/actions", url.Values{"action": {"delete"}, "id": {unreadableBefore}}, true)
	page = string(r.Body)
	if r.Status != 200 || !strings.Contains(page, "Delete 1 message?") ||
		!strings.Contains(page, `<input type="hidden" name="id" value="`+unreadableBefore+`">`) ||
		!strings.Contains(page, "1 message among them could not be read: "+unreadableBefore+".") {
		t.Fatalf("confirmation of the delete: %d\n%s", r.Status, page)
	}
	if r = c.postForm("/queues/repository/actions", url.Values{"action": {"delete"}, "id": {unreadableBefore}, "confirmed": {"1"}}, true); r.Status != 303 {
		t.Fatalf("confirmed delete: %d %s", r.Status, r.Body)
	}
	if f := st.takeFlash(t, c); f == nil || f.Kind != "success" || f.Message != "Deleted 1 message." {
		t.Errorf("flash after the delete: %+v", f)
	}
	if got := errorRecordIDs(t, st); !reflect.DeepEqual(got, []string{readableError, unreadableAfter}) {
		t.Errorf("after deleting %s the repository holds %v, want the others untouched", unreadableBefore, got)
	}

	// Requeue of a good message and an unreadable one: the confirmation
	// says it cannot requeue that one; the requeue does the good one
	// and says why it left the other.
	sel := url.Values{"action": {"requeue"}, "id": {readableError, unreadableAfter}}
	page = string(c.postForm("/queues/repository/actions", sel, true).Body)
	if w := "1 message among them could not be read: " + unreadableAfter + ". The daemon&#39;s log says why. It cannot be requeued (its envelope cannot be read): the requeue leaves it as it is; Delete deletes it."; !strings.Contains(page, w) {
		t.Errorf("confirmation of the requeue: %q missing", w)
	}
	sel.Set("confirmed", "1")
	if r = c.postForm("/queues/repository/actions", sel, true); r.Status != 303 {
		t.Fatalf("confirmed requeue of a good and an unreadable message: %d, want a 303 to the list", r.Status)
	}
	r = c.get(r.Header.Get("Location"))
	page = string(r.Body)
	if w := "Requeued 1 message: it is back in the MPA queue. The error-repository entry " + unreadableAfter + " cannot be read"; r.Status != 200 || !strings.Contains(page, w) || !strings.Contains(page, "delete it.") || strings.Contains(page, "Internal error") {
		t.Errorf("the list after the requeue of a good and an unreadable message: %d, want 200 and %q ... delete it.", r.Status, w)
	}
	if got := errorRecordIDs(t, st); !reflect.DeepEqual(got, []string{unreadableAfter}) {
		t.Errorf("after the requeue the repository holds %v, want the unreadable record alone", got)
	}
	if _, row, ok := strings.Cut(page, `<tr id="error-`+unreadableAfter+`" class="unreadable"`); !ok || !strings.Contains(row, "could not be read") {
		t.Errorf("the list after the requeue lacks the unreadable row")
	}

	// Requeue of it alone: the sentence, nothing changed.
	sel.Set("id", unreadableAfter)
	r = c.postForm("/queues/repository/actions", sel, true)
	if page = string(r.Body); r.Status != 409 || !strings.Contains(page, "cannot be requeued") || !strings.Contains(page, "Nothing was changed.") {
		t.Errorf("requeue of the unreadable record alone: %d, want 409 saying it cannot be requeued and nothing was changed", r.Status)
	}
	if got := errorRecordIDs(t, st); !reflect.DeepEqual(got, []string{unreadableAfter}) {
		t.Errorf("after the refused requeue the repository holds %v", got)
	}
}
