package webui

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"postdeck/store"
)

// putUnreadableMPA stores, next to one readable spool entry and one
// readable error entry, raw records that do not decode (another
// version's, an old backup's, damaged) straight into the stack's
// database with bbolt, as nothing in postdeck would: spool records
// under spoolIDs and error-repository records under errorIDs.
func putUnreadableMPA(t *testing.T, st *stack, spoolIDs, errorIDs []string) {
	t.Helper()
	env := store.MPAEnvelope{Sender: "alice@example.test", Recipients: []store.MPARecipient{{Address: "bob@example.org"}}}
	now := time.Now().UTC()
	if err := st.db.MPASpoolAdd(store.SpoolEntry{ID: "00000000000000aaaa0001", Envelope: env, Size: 10, Received: now,
		State: store.SpoolWaiting, NextAttempt: now.Add(time.Hour)}, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if err := st.db.MPASpoolCommit("00000000000000aaaa0002", nil, []store.ErrorEntry{{ID: "00000000000000aaaa0002", Envelope: env,
		Received: now, FailedAt: now, Stage: store.StagePipeline, Reason: "a bad rule"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.db.Bolt().Update(func(tx *bolt.Tx) error {
		for _, id := range spoolIDs {
			if err := tx.Bucket([]byte("mpa_spool")).Put([]byte(id), []byte(`{"id":"x","attempts":"three"}`)); err != nil {
				return err
			}
		}
		for _, id := range errorIDs {
			if err := tx.Bucket([]byte("mpa_errors")).Put([]byte(id), []byte(`{"id":"x","envelope":{"sender":"a@exa`)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// unreadableIDs are n ids that sort after the readable entries of
// putUnreadableMPA (kind tells spool and errors apart).
func unreadableIDs(kind, n int) []string {
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("0000000000000%dbadd%04d", kind, i))
	}
	return ids
}

// TestMPAAPINamesUnreadableRecords: GET /api/v1/mpa/queue and GET
// /api/v1/mpa/errors name the records that do not decode in
// "unreadable" (counted in total, not items). The queue's answer was a
// 500 for one such record; the errors page left it out without a word.
// Without any, "unreadable" is [] (not null, not absent).
func TestMPAAPINamesUnreadableRecords(t *testing.T) {
	st := newFormStack(t)
	c := st.login(t, "admin")
	type answer struct {
		Total int `json:"total"`
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		Unreadable []string `json:"unreadable"`
	}
	get := func(path string) (answer, string) {
		t.Helper()
		r := c.get(path)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %.300s", path, r.Status, r.Body)
		}
		var a answer
		if err := json.Unmarshal(r.Body, &a); err != nil {
			t.Fatal(err)
		}
		return a, string(r.Body)
	}
	for _, path := range []string{"/api/v1/mpa/queue", "/api/v1/mpa/errors"} {
		if _, body := get(path); !strings.Contains(body, `"unreadable":[]`) {
			t.Errorf("GET %s with nothing unreadable: %s, want \"unreadable\":[]", path, body)
		}
	}
	badSpool, badErrors := unreadableIDs(2, 1), unreadableIDs(3, 2)
	putUnreadableMPA(t, st, badSpool, badErrors)
	if a, body := get("/api/v1/mpa/queue"); a.Total != 2 || len(a.Items) != 1 || !reflect.DeepEqual(a.Unreadable, badSpool) {
		t.Errorf("GET /api/v1/mpa/queue: %s, want total 2, the readable item and unreadable %v", body, badSpool)
	}
	if a, body := get("/api/v1/mpa/errors"); a.Total != 3 || len(a.Items) != 1 || !reflect.DeepEqual(a.Unreadable, badErrors) {
		t.Errorf("GET /api/v1/mpa/errors: %s, want total 3, the readable item and unreadable %v", body, badErrors)
	}
	if a, body := get("/api/v1/mpa/errors?offset=2&limit=1"); a.Total != 3 || len(a.Items) != 0 || !reflect.DeepEqual(a.Unreadable, badErrors[1:]) {
		t.Errorf("GET /api/v1/mpa/errors?offset=2&limit=1: %s, want unreadable %v", body, badErrors[1:])
	}
}

// TestMPAPagesSayWhichRecordsAreUnreadable: the MPA Queue and MPA
// Repository pages say in one line how many records on the page could
// not be read, name the first five and count the rest, say they are kept
// untouched and that the daemon's log says why (the repository's: that
// they can be deleted), and show no decoding error. They showed a page
// with a hole and said nothing; a repository (or queue) holding only
// such records said it was empty.
func TestMPAPagesSayWhichRecordsAreUnreadable(t *testing.T) {
	st := newFormStack(t)
	c := st.login(t, "admin")
	badSpool, badErrors := unreadableIDs(2, 1), unreadableIDs(3, 7)
	putUnreadableMPA(t, st, badSpool, badErrors)
	for _, tc := range []struct {
		path, id string
		want     []string
	}{
		{"/queues/mpa", "mpa-unreadable", []string{
			"1 message on this page could not be read: " + badSpool[0] + ". It is kept untouched with its message file and is not delivered until it is repaired or removed; the daemon&#39;s log says why.",
			`id="spool-00000000000000aaaa0001"`,
		}},
		{"/queues/repository", "repository-unreadable", []string{
			"7 messages on this page could not be read: " + strings.Join(badErrors[:5], ", ") + " and 2 more. They are kept untouched with their message files; the daemon&#39;s log says why. They cannot be requeued",
			`id="error-00000000000000aaaa0002"`,
		}},
	} {
		r := c.get(tc.path)
		page := string(r.Body)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d", tc.path, r.Status)
		}
		for _, w := range append(tc.want, `id="`+tc.id+`"`) {
			if !strings.Contains(page, w) {
				t.Errorf("GET %s: %q missing", tc.path, w)
			}
		}
		for _, bad := range []string{"invalid character", "unexpected end", "decode"} {
			if strings.Contains(page, bad) {
				t.Errorf("GET %s shows %q", tc.path, bad)
			}
		}
		// The line names five; the sixth is only a row of its own.
		if _, line, _ := strings.Cut(page, `id="`+tc.id+`"`); strings.Contains(strings.SplitN(line, "</p>", 2)[0], badErrors[5]) {
			t.Errorf("GET %s: the line names %s, the sixth", tc.path, badErrors[5])
		}
	}

	// The confirmation of a delete names them too, apart from the rows
	// and from "And N more".
	for _, form := range []url.Values{
		{"action": {"delete-all"}},
		{"action": {"delete"}, "id": append([]string{"00000000000000aaaa0002"}, badErrors...)},
	} {
		page := string(c.postForm("/queues/repository/actions", form, true).Body)
		if w := "7 messages among them could not be read: " + strings.Join(badErrors[:5], ", ") + " and 2 more. The daemon&#39;s log says why."; !strings.Contains(page, w) || strings.Contains(page, `id="confirm-more"`) {
			t.Errorf("confirmation of %v: %q missing, or \"And N more\" counts them", form, w)
		}
	}

	// A repository and a queue of unreadable records alone are not empty.
	if err := st.db.Bolt().Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("mpa_spool")).Delete([]byte("00000000000000aaaa0001")); err != nil {
			return err
		}
		return tx.Bucket([]byte("mpa_errors")).Delete([]byte("00000000000000aaaa0002"))
	}); err != nil {
		t.Fatal(err)
	}
	for path, empty := range map[string]string{"/queues/mpa": `id="mpa-empty"`, "/queues/repository": `id="repository-empty"`} {
		page := string(c.get(path).Body)
		if strings.Contains(page, empty) || !strings.Contains(page, "could not be read") {
			t.Errorf("GET %s with unreadable records alone: says empty, or not that they could not be read", path)
		}
	}
	if page := string(c.get("/queues/repository").Body); !strings.Contains(page, `id="delete-all"`) {
		t.Errorf("the repository of unreadable records alone has no Delete all")
	}
}

// TestRequeueOverUnreadableRecordsSaysWhatItDid: a requeue of the whole
// error repository requeues every entry but one whose record cannot be
// read (it has no envelope), which it leaves. The answer said "The
// requeue stopped after 1 message ... the others are still in the error
// repository", as if it had broken off; it did every entry it could, and
// says so, names the one it left and says to delete it, which then
// works.
func TestRequeueOverUnreadableRecordsSaysWhatItDid(t *testing.T) {
	st := newFormStack(t)
	bad := unreadableIDs(2, 1)
	putUnreadableMPA(t, st, nil, bad)

	c := st.login(t, "admin")
	post := func(body string) httpResult {
		t.Helper()
		return c.send("POST", "/api/v1/mpa/errors/actions", body, "application/json", map[string]string{csrfHeader: c.csrf})
	}
	r := post(`{"action":"requeue","all":true}`)
	var ans struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &ans); err != nil {
		t.Fatalf("answer %d %s: %v", r.Status, r.Body, err)
	}
	want := "Requeued 1 message: it is back in the MPA queue. The error-repository entry " + bad[0] + " cannot be read"
	if r.Status != 409 || !strings.HasPrefix(ans.Error, want) || !strings.HasSuffix(ans.Error, "delete it.") || strings.Contains(ans.Error, "stopped") {
		t.Errorf("requeue all over an unreadable record: %d %q, want 409 %q... delete it.", r.Status, ans.Error, want)
	}
	entries, err := st.db.FindAudit(1, func(e store.AuditEntry) bool { return e.Action == "mpa errors requeue" })
	if err != nil || len(entries) != 1 || entries[0].Result != "done" || !strings.HasPrefix(entries[0].Detail, "1 affected; 1 left: ") {
		t.Errorf("the requeue's audit entry: %+v %v, want done, 1 affected and 1 left", entries, err)
	}
	if spool, errs, err := st.db.MPACounts(); err != nil || errs != 1 || spool < 1 {
		t.Fatalf("after the requeue: %d spool, %d error entries (%v), want the unreadable one left in the repository", spool, errs, err)
	}

	r = post(`{"action":"delete","ids":["` + bad[0] + `"]}`)
	if r.Status != 200 {
		t.Fatalf("delete of the unreadable entry: %d %s", r.Status, r.Body)
	}
	if _, errs, err := st.db.MPACounts(); err != nil || errs != 0 {
		t.Errorf("after the delete: %d error entries (%v), want none", errs, err)
	}
}
