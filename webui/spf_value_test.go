package webui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSPFSourceValueIsAnAccessResult: a source's value is what
// check_client_access answers for the provider's servers. Postfix does
// not know "0K" or "ACCEPT" as access(5) results and answers every client
// such a line lists with 451 4.3.5 Server configuration error, so a typo
// would defer all mail from Office 365. The API refuses such a value,
// names the field, and adds no source and no map; a real result (REJECT
// with text, a restriction) is taken and its first refresh fills the map.
func TestSPFSourceValueIsAnAccessResult(t *testing.T) {
	dnsSrv := newTXTServer(t, map[string][]string{
		"partner.test": {"v=spf1 ip4:192.0.2.0/24 -all"},
	})
	st := newStackWith(t, stackOptions{Resolver: dnsSrv.Addr})
	for _, v := range []string{"0K", "ACCEPT", "OK please", "FILTER nowhere:host"} {
		r := st.socketDo(t, "POST", "/api/v1/jobs/spf", map[string]string{"domain": "partner.test", "map": "partner", "value": v})
		if r.Status != 400 || !strings.Contains(string(r.Body), `"field":"value"`) {
			t.Fatalf("value %q: %d %s", v, r.Status, r.Body)
		}
	}
	if list := st.socketDo(t, "GET", "/api/v1/jobs/spf", nil); strings.Contains(string(list.Body), "partner") {
		t.Fatalf("a refused source is listed: %s", list.Body)
	}
	if r := st.socketDo(t, "GET", "/api/v1/maps/partner", nil); r.Status != 404 {
		t.Fatalf("a refused source's map: %d %s", r.Status, r.Body)
	}
	r := st.socketDo(t, "POST", "/api/v1/jobs/spf", map[string]string{"domain": "partner.test", "map": "partner", "value": "REJECT Not from our partner"})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"outcome":"updated"`) {
		t.Fatalf("REJECT with text: %d %s", r.Status, r.Body)
	}
	raw, err := os.ReadFile(filepath.Join(st.inst.MapsDir(), "cidr.partner.map"))
	if err != nil || string(raw) != "192.0.2.0/24 REJECT Not from our partner\n" {
		t.Fatalf("map file %q %v", raw, err)
	}
}
