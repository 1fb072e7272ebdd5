package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"postdeck/store"
)

// TestErrorActionsRaceOnOneEntry: two administrators act on the same
// error-repository entry at the same moment through the API (requeue and
// requeue, requeue and delete, delete and delete). One of them wins; the
// other gets a 404 whose sentence names the entry, says why it may be
// gone and that nothing was done (not that it never was); a requeued message is
// delivered exactly once and a deleted one never; nothing is left behind.
func TestErrorActionsRaceOnOneEntry(t *testing.T) {
	st := newStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := st.mpa.PutPipeline(ctx, store.MPAPipeline{Processors: []string{"trace", "rules"}, Rules: "recipient * footer legal\n",
		Templates: []store.MPATemplate{{Name: "legal", Text: "{{if eq .Subject \"boom\"}}{{.Department}}{{end}}-- sent via postdeck"}}})
	if err != nil {
		t.Fatal(err)
	}
	pairs := [][2]string{{"requeue", "requeue"}, {"requeue", "delete"}, {"delete", "requeue"}, {"delete", "delete"}}
	const rounds = 3
	for i := range rounds * len(pairs) {
		r := st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{"subject": "boom", "from": "e@example.org",
			"recipients": "r@remote.example.net", "body": fmt.Sprintf("race body %d\n", i)})
		if r.Status != 200 {
			t.Fatalf("sendmail: %d %s", r.Status, r.Body)
		}
	}
	var items []string
	deadline := time.Now().Add(60 * time.Second)
	for len(items) < rounds*len(pairs) {
		if time.Now().After(deadline) {
			t.Fatalf("%d error-repository entries after 60 s", len(items))
		}
		time.Sleep(200 * time.Millisecond)
		list, err := st.mpa.ListErrors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		items = items[:0]
		for _, it := range list {
			items = append(items, it.ID)
		}
	}
	// Mended, so that a requeued message goes through.
	if err := st.mpa.PutPipeline(ctx, store.MPAPipeline{Processors: []string{"trace"}}); err != nil {
		t.Fatal(err)
	}
	sink := st.openRelay(t)

	admins := [2]*consoleClient{st.login(t, "admin"), st.login(t, "oper")}
	requeued := 0
	for i, id := range items {
		pair := pairs[i%len(pairs)]
		var got [2]httpResult
		var wg sync.WaitGroup
		start := make(chan struct{})
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body, _ := json.Marshal(map[string]any{"action": pair[k], "ids": []string{id}})
				<-start
				got[k] = admins[k].send("POST", "/api/v1/mpa/errors/actions", string(body), "application/json",
					map[string]string{"X-CSRF-Token": admins[k].csrf})
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for k, r := range got {
			switch {
			case r.Status == 200 && strings.Contains(string(r.Body), `"affected":1`):
				if winner >= 0 {
					t.Errorf("%s: both %v affected the entry", id, pair)
				}
				winner = k
			case r.Status == 404 && strings.Contains(string(r.Body), id) && strings.Contains(string(r.Body), "requeued or deleted") &&
				strings.Contains(string(r.Body), "nothing was done"):
			default:
				t.Errorf("%s: %s answered %d %s", id, pair[k], r.Status, r.Body)
			}
		}
		if winner < 0 {
			t.Errorf("%s: neither of %v affected the entry: %+v", id, pair, got)
			continue
		}
		if pair[winner] == "requeue" {
			requeued++
		}
	}
	deadline = time.Now().Add(90 * time.Second)
	for {
		c, err := st.mpa.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Spool == 0 && c.Errors == 0 && sink.Count() >= requeued {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s: %+v, %d delivered of %d requeued", c, sink.Count(), requeued)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Give a second copy the time to arrive.
	time.Sleep(3 * time.Second)
	bodies := map[string]int{}
	for _, m := range sink.Messages() {
		_, b, ok := strings.Cut(string(m.Data), "race body")
		if !ok {
			t.Errorf("a message that is none of the test's: %q", m.Data)
		}
		bodies[strings.TrimSpace(b)]++
	}
	if len(bodies) != requeued {
		t.Errorf("%d messages delivered, %d requeued: %v", len(bodies), requeued, bodies)
	}
	for b, n := range bodies {
		if n != 1 {
			t.Errorf("%q delivered %d times", b, n)
		}
	}
}
