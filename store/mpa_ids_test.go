package store

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMPAErrorIDsBound: an error-repository action names at most
// MaxErrorIDs ids; more are refused before any is looked up, and nothing
// changes.
func TestMPAErrorIDsBound(t *testing.T) {
	db, _ := openTemp(t)
	env := MPAEnvelope{Sender: "a@example.test", Recipients: []MPARecipient{{Address: "b@example.org"}}}
	if err := db.MPASpoolCommit("0001", nil, []ErrorEntry{{ID: "0001", Envelope: env, Stage: StagePipeline, Reason: "boom"}}); err != nil {
		t.Fatal(err)
	}
	ids := func(n int) []string {
		out := []string{"0001"}
		for i := 1; i < n; i++ {
			out = append(out, "gone"+strconv.Itoa(i))
		}
		return out
	}
	// At the bound the ids are looked up: one is unknown.
	if _, err := db.MPAErrorDelete(ids(MaxErrorIDs), false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("%d ids: %v, want not found", MaxErrorIDs, err)
	}
	for _, del := range []bool{true, false} {
		var err error
		if del {
			_, err = db.MPAErrorDelete(ids(MaxErrorIDs+1), false)
		} else {
			_, err = db.MPAErrorRequeue(ids(MaxErrorIDs+1), false, time.Now())
		}
		var ue *UserError
		if !errors.As(err, &ue) || ue.Kind != ErrInvalid || ue.Field != "ids" || !strings.Contains(ue.Msg, strconv.Itoa(MaxErrorIDs)) {
			t.Fatalf("%d ids (delete %v): %v, want invalid ids naming the limit", MaxErrorIDs+1, del, err)
		}
	}
	if _, er, err := db.MPACounts(); err != nil || er != 1 {
		t.Fatalf("after refused actions: %d entries, %v", er, err)
	}
}
