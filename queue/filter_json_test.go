package queue

import (
	"encoding/json"
	"testing"
	"time"
)

// TestFilterJSONKeepsMinAge: a filter sent on as JSON (an action on
// another node's queue: admin.PeerQueueAction marshals the request it
// was given) arrives with the minimum age it was given. Written as whole
// seconds, 1.5s became 1s there (acting on messages the filter left
// out) and 500ms became nothing: the node then refused the filter as
// one that selects every message.
func TestFilterJSONKeepsMinAge(t *testing.T) {
	for _, d := range []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond, 90 * time.Second, 2 * time.Hour} {
		sent := Filter{Queue: Deferred, MinAge: d}
		b, err := json.Marshal(struct {
			Filter *Filter `json:"filter"`
		}{&sent})
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Filter *Filter `json:"filter"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%v: %s: %v", d, b, err)
		}
		if err := got.Filter.Normalize(); err != nil {
			t.Fatalf("%v: %s: %v", d, b, err)
		}
		if got.Filter.MinAge != d {
			t.Errorf("min_age %v arrived as %v (%s)", d, got.Filter.MinAge, b)
		}
		if only := (Filter{MinAge: d}); !only.Empty() {
			b, _ := json.Marshal(only)
			var back Filter
			if err := json.Unmarshal(b, &back); err != nil || back.Empty() {
				t.Errorf("a filter of min_age %v only arrived as %+v (%s) %v", d, back, b, err)
			}
		}
	}
}
