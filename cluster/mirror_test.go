package cluster

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"postdeck/store"
)

// TestPerNodeSettings: a node's own values lie over the shared settings,
// and a save splits back into the shared document (per-node fields keep
// the shared values) and the node's values.
func TestPerNodeSettings(t *testing.T) {
	shared := store.DefaultSettings()
	shared.Hostname = "shared.example.test"
	shared.RelayDomains = []string{"a.example.test"}
	m := newMirror()
	raw, _ := json.Marshal(shared)
	m.kv[keySettings] = raw
	rec := map[string]any{"name": "n2", "per_node": []string{"hostname", "helo_name"},
		"values": map[string]any{"hostname": "n2.example.test", "helo_name": "helo2.example.test"}}
	raw, _ = json.Marshal(rec)
	m.kv[dirNodes+"n2"] = raw

	st, err := m.state("n2")
	if err != nil {
		t.Fatal(err)
	}
	if st.Settings.Hostname != "n2.example.test" || st.Settings.HeloName != "helo2.example.test" || !slices.Equal(st.Settings.RelayDomains, []string{"a.example.test"}) {
		t.Fatalf("n2 renders %+v", st.Settings)
	}
	if other, _ := m.state("n3"); other.Settings.Hostname != "shared.example.test" {
		t.Fatalf("a node without a record renders host name %q", other.Settings.Hostname)
	}

	next := st.Settings
	next.Hostname = "new-n2.example.test"
	next.RelayDomains = []string{"b.example.test"}
	sh, own, err := splitSettings(next, shared, []string{"hostname", "helo_name"})
	if err != nil {
		t.Fatal(err)
	}
	if sh.Hostname != "shared.example.test" || !slices.Equal(sh.RelayDomains, []string{"b.example.test"}) {
		t.Fatalf("shared part %+v", sh)
	}
	if string(own["hostname"]) != `"new-n2.example.test"` || string(own["helo_name"]) != `"helo2.example.test"` {
		t.Fatalf("own values %s %s", own["hostname"], own["helo_name"])
	}
}

// TestConfigCheck: the flags' mistakes are sentences that name the flag.
func TestConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Node: "n1"}, "--cluster-endpoints"},
		{Config{Endpoints: []string{"127.0.0.1:2379"}, Node: "n1"}, "--cluster-endpoints"},
		{Config{Endpoints: []string{"http://127.0.0.1:2379"}, Node: "N 1"}, "--node-name"},
		{Config{Endpoints: []string{"http://127.0.0.1:2379"}, Node: "n1", PerNode: []string{"myhostname"}}, "--cluster-per-node"},
		{Config{Endpoints: []string{"http://127.0.0.1:2379"}, Node: "n1", Cert: "x"}, "--cluster-cert"},
		{Config{Endpoints: []string{"http://127.0.0.1:2379"}, Node: "n1", Prefix: "/a b/"}, "--cluster-prefix"},
		{Config{Endpoints: []string{"http://127.0.0.1:2379"}, Node: "n1", API: "gw1.example.test:8080"}, "--cluster-api"},
		{Config{Endpoints: []string{"http://127.0.0.1:2379"}, Node: "n1", API: "https://gw1.example.test:8080/?x=1"}, "--cluster-api"},
	} {
		err := tc.cfg.check()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want a sentence about %s", tc.cfg, err, tc.want)
		}
	}
	c := Config{Endpoints: []string{"http://127.0.0.1:2379"}, Node: "n1", Prefix: "pd", API: "https://gw1.example.test:8080/"}
	if err := c.check(); err != nil || c.Prefix != "/pd/" || !slices.Equal(c.PerNode, DefaultPerNode) || c.API != "https://gw1.example.test:8080" {
		t.Fatalf("defaults: %v %+v", err, c)
	}
}
