package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"postdeck/admin"
)

// breakQueueAndMPA makes the stack's queue summary and MPA counts fail
// for real: the queue index is stopped, so the summary lists the queue
// with postqueue, and main.cf sends postqueue to a queue directory that
// does not exist (the running Postfix keeps its own); postdeck's database
// is closed, where the MPA's counts are read. The session and the
// settings the dashboard reads are in memory by then (c made a request).
func breakQueueAndMPA(t *testing.T, st *stack, c *consoleClient) {
	t.Helper()
	if r := c.get("/api/v1/settings"); r.Status != 200 {
		t.Fatalf("GET /api/v1/settings: %d %.300s", r.Status, r.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.queue.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mainCF := filepath.Join(st.inst.ConfigDir, "main.cf")
	f, err := os.OpenFile(mainCF, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\nqueue_directory = " + filepath.Join(t.TempDir(), "no-such-queue") + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// A commit of the MPA's (forgetting no entry) moves the store's count
	// generation: the next counts are read from the database, not from
	// the store's cache of the last ones.
	if _, err := st.db.MPAErrorForget(nil); err != nil {
		t.Fatal(err)
	}
	if err := st.db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestStatusAnswersWhenQueueAndMPACannotBeRead: when the queue summary
// failed (postqueue could not list the queue) or the MPA's counts did
// (postdeck's database did not answer), GET /api/v1/status was a 500:
// monitoring that polls it saw nothing, not even that Postfix runs. It
// now answers 200 with every part it could read, leaves out the two it
// could not (null to a client reading mpa.spool, not 0), and names them
// in problems, one sentence each without the error's own words.
func TestStatusAnswersWhenQueueAndMPACannotBeRead(t *testing.T) {
	st := newStack(t)
	breakQueueAndMPA(t, st, st.login(t, "admin"))

	r := st.socketDo(t, "GET", "/api/v1/status", nil)
	if r.Status != 200 {
		t.Fatalf("GET /api/v1/status with the queue and the MPA's counts unreadable: %d %.500s", r.Status, r.Body)
	}
	var got map[string]json.RawMessage
	r.decode(t, &got)
	if string(got["postfix_running"]) != "true" {
		t.Errorf("postfix_running %s, want true: %s", got["postfix_running"], r.Body)
	}
	for _, part := range []string{"mpa", "queue"} {
		if v, ok := got[part]; ok && string(v) != "null" {
			t.Errorf("%s is %s although it could not be read", part, v)
		}
	}
	var problems []string
	if err := json.Unmarshal(got["problems"], &problems); err != nil {
		t.Fatalf("problems %s: %v", got["problems"], err)
	}
	if !slices.Contains(problems, admin.MPACountsProblem) {
		t.Errorf("problems %q lack the MPA's counts", problems)
	}
	if !slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, "The queue could not be read") }) {
		t.Errorf("problems %q lack the queue", problems)
	}
	if len(problems) != 2 {
		t.Errorf("problems %q, want the queue's and the MPA's", problems)
	}
	for _, no := range []string{"database not open", "chdir", "no-such-queue", "postqueue:", "fatal"} {
		if strings.Contains(string(r.Body), no) {
			t.Errorf("the status shows %q: %s", no, r.Body)
		}
	}
}

// TestDashboardCardsSayWhatCouldNotBeRead: when the MPA runs but its
// counts cannot be read, the MPA card said "The MPA is not running in
// this daemon.", which sent the administrator the wrong way, and the
// queue card said the queue is not available. Each card now says its
// part could not be read, why and what to do.
func TestDashboardCardsSayWhatCouldNotBeRead(t *testing.T) {
	st := newStack(t)
	c := st.login(t, "admin")
	breakQueueAndMPA(t, st, c)

	r := c.get("/")
	if r.Status != 200 {
		t.Fatalf("GET / with the queue and the MPA's counts unreadable: %d %.500s", r.Status, r.Body)
	}
	body := string(r.Body)
	for _, want := range []string{`id="postfix-state"`, `id="mpa-unreadable"`, html.EscapeString(admin.MPACountsProblem),
		`id="queue-unreadable"`, html.EscapeString("The queue could not be read: Postfix"),
		// The audit log is in the closed database too: the recent
		// changes say so, the rest of the page stands.
		`id="recent-unreadable"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the dashboard lacks %q", want)
		}
	}
	for _, no := range []string{"The MPA is not running in this daemon.", "The queue is not available.", "database not open"} {
		if strings.Contains(body, no) {
			t.Errorf("the dashboard shows %q", no)
		}
	}
}

// TestStatusAnswerKeptWithProblems: a status with problems has them in a
// new list at each poll; the same sentences are the same status, whose
// kept answer is served again, and other sentences are encoded anew.
func TestStatusAnswerKeptWithProblems(t *testing.T) {
	one := []string{admin.MPACountsProblem}
	base := admin.Status{PostfixRunning: true, PostfixVersion: "3.7.11", Problems: &one}
	var a statusAnswer
	first, err := a.encode(base)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := json.Marshal(base); !bytes.Equal(first, want) {
		t.Fatalf("answer %s, encoding/json %s", first, want)
	}
	again := []string{admin.MPACountsProblem}
	same := base
	same.Problems = &again
	if got, _ := a.encode(same); &got[0] != &first[0] {
		t.Error("the same problems in another list were encoded again")
	}
	other := []string{admin.MPACountsProblem, "The queue could not be read."}
	changed := base
	changed.Problems = &other
	got, _ := a.encode(changed)
	if want, _ := json.Marshal(changed); !bytes.Equal(got, want) {
		t.Errorf("answer %s, want %s", got, want)
	}
	none := base
	none.Problems = &[]string{}
	got, _ = a.encode(none)
	if want, _ := json.Marshal(none); !bytes.Equal(got, want) || !strings.Contains(string(got), `"problems":[]`) {
		t.Errorf("answer %s, want %s", got, want)
	}
}
