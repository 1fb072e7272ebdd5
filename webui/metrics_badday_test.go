package webui

import (
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"postdeck/store"
)

// TestMetricsSayWhichPartCouldNotBeRead: when the SPF sources' state
// cannot be read (here the job status of one map does not decode), a
// scrape left every postdeck_spf_* series out, and said nothing else: an
// alert on postdeck_spf_last_refresh_failed == 1 then had no data and
// stayed silent while the maps could be failing for days. The scrape now
// has postdeck_source_up{source} for every part it reads, 0 for the one
// it could not, and the reason goes to postdeck's log.
func TestMetricsSayWhichPartCouldNotBeRead(t *testing.T) {
	st := newStack(t)
	r := st.socketDo(t, "POST", "/api/v1/tokens", map[string]string{"name": "prom", "role": "auditor"})
	var tok struct {
		Token string `json:"token"`
	}
	r.decode(t, &tok)
	up := []string{"queue", "mpa", "spf", "disk_postfix_queue", "disk_postdeck_data"}
	before := scrape(t, st, tok.Token)
	for _, src := range up {
		if v, ok := before[`postdeck_source_up{source="`+src+`"}`]; !ok || v != 1 {
			t.Errorf("before: postdeck_source_up{source=%q} = %v (present %v), want 1", src, v, ok)
		}
	}

	if err := st.db.Bolt().Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("jobs")).Put([]byte(store.SPFJobName("gmail.com")), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	after := scrape(t, st, tok.Token)
	if v, ok := after[`postdeck_source_up{source="spf"}`]; !ok || v != 0 {
		t.Errorf(`after: postdeck_source_up{source="spf"} = %v (present %v), want 0`, v, ok)
	}
	for _, src := range up[:2] {
		if v := after[`postdeck_source_up{source="`+src+`"}`]; v != 1 {
			t.Errorf("after: postdeck_source_up{source=%q} = %v, want 1", src, v)
		}
	}
	for series := range after {
		if strings.HasPrefix(series, "postdeck_spf_") {
			t.Errorf("after: %s is shown although the SPF sources could not be read", series)
		}
	}
	if _, ok := after[`postdeck_postfix_up`]; !ok {
		t.Error("after: postdeck_postfix_up is missing: one part took the others with it")
	}
}
