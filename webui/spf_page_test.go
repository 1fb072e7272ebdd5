package webui

import (
	"context"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// txtServer is a miekg/dns server on 127.0.0.1 answering TXT questions
// from a table; records can change while it runs.
type txtServer struct {
	Addr string
	mu   sync.Mutex
	txt  map[string][]string
}

func newTXTServer(t *testing.T, txt map[string][]string) *txtServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &txtServer{Addr: pc.LocalAddr().String(), txt: txt}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve)}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return s
}

func (s *txtServer) set(name string, records ...string) {
	s.mu.Lock()
	s.txt[name] = records
	s.mu.Unlock()
}

func (s *txtServer) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	q := r.Question[0]
	s.mu.Lock()
	records, ok := s.txt[strings.TrimSuffix(strings.ToLower(q.Name), ".")]
	s.mu.Unlock()
	if !ok {
		m.Rcode = dns.RcodeNameError
	} else if q.Qtype == dns.TypeTXT {
		for _, rec := range records {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300}, Txt: []string{rec}})
		}
	}
	_ = w.WriteMsg(m)
}

// TestSPFPageRefreshNow: the SPF sources page lists both built-in sources;
// Refresh now fills the map that Postfix then answers from; a DNS failure
// keeps the live map and the page says why; an auditor sees no buttons.
func TestSPFPageRefreshNow(t *testing.T) {
	dnsSrv := newTXTServer(t, map[string][]string{
		"spf.protection.outlook.com": {"v=spf1 ip4:40.92.0.0/15 ip4:52.100.0.0/14 ip6:2a01:111:f400::/48 -all"},
		"gmail.com":                  {"v=spf1 redirect=_spf.google.com"},
		"_spf.google.com":            {"v=spf1 ip4:209.85.128.0/17 ~all"},
	})
	st := newStackWith(t, stackOptions{Resolver: dnsSrv.Addr})
	admin := st.login(t, "admin")
	page := admin.get("/mta/spf")
	if page.Status != 200 || !strings.Contains(string(page.Body), "spf.protection.outlook.com") || !strings.Contains(string(page.Body), "shared by every tenant") {
		t.Fatalf("SPF page: %d %s", page.Status, page.Body)
	}
	// Before any refresh filled the map, a failure says it stays empty,
	// not that a good map stays live.
	records := dnsSrv.txt["spf.protection.outlook.com"]
	dnsSrv.set("spf.protection.outlook.com")
	if r := admin.postForm("/mta/spf/spf.protection.outlook.com/refresh", url.Values{}, true); r.Status != 303 {
		t.Fatalf("refresh now: %d %s", r.Status, r.Body)
	}
	if page := string(admin.get("/mta/spf").Body); !strings.Contains(page, "no refresh has filled its map yet, so it stays empty") || strings.Contains(page, "the last good map stays live") {
		t.Fatalf("first refresh failed: %s", page)
	}
	dnsSrv.set("spf.protection.outlook.com", records...)
	r := admin.postForm("/mta/spf/spf.protection.outlook.com/refresh", url.Values{}, true)
	if r.Status != 303 {
		t.Fatalf("refresh now: %d %s", r.Status, r.Body)
	}
	page = admin.get("/mta/spf")
	if !strings.Contains(string(page.Body), "Refreshed spf.protection.outlook.com: updated.") {
		t.Fatalf("no success message: %s", page.Body)
	}
	lookup := func(ip string) string {
		out, _, _ := st.mgr.Postfix().Run(context.Background(), nil, "postmap", "-q", ip, "cidr:"+st.inst.MapsDir()+"/cidr.spf.protection.outlook.com.map")
		return strings.TrimSpace(string(out))
	}
	if got := lookup("40.93.1.2"); got != "OK" {
		t.Fatalf("postmap -q inside the range: %q", got)
	}
	if got := lookup("8.8.8.8"); got != "" {
		t.Fatalf("postmap -q outside: %q", got)
	}
	// The provider's DNS breaks: the live map stays, and the page says why.
	dnsSrv.set("spf.protection.outlook.com")
	r = admin.postForm("/mta/spf/spf.protection.outlook.com/refresh", url.Values{}, true)
	if r.Status != 303 {
		t.Fatalf("refresh now: %d", r.Status)
	}
	page = admin.get("/mta/spf")
	if !strings.Contains(string(page.Body), "the last good map stays live") {
		t.Fatalf("no failure message: %s", page.Body)
	}
	if got := lookup("40.93.1.2"); got != "OK" {
		t.Fatalf("live map lost after a failed refresh: %q", got)
	}
	// Failures in a row are counted, on the page and in the API.
	if r := admin.postForm("/mta/spf/spf.protection.outlook.com/refresh", url.Values{}, true); r.Status != 303 {
		t.Fatalf("refresh now: %d", r.Status)
	}
	if page := string(admin.get("/mta/spf").Body); !strings.Contains(page, "2 failed refreshes in a row since the last success") {
		t.Fatalf("no count of failures: %s", page)
	}
	var list struct {
		Items []struct {
			Map                 string `json:"map"`
			ConsecutiveFailures *int   `json:"consecutive_failures"`
		} `json:"items"`
	}
	st.socketDo(t, "GET", "/api/v1/jobs/spf", nil).decode(t, &list)
	for _, it := range list.Items {
		if it.ConsecutiveFailures == nil || it.Map == "spf.protection.outlook.com" && *it.ConsecutiveFailures != 2 {
			t.Fatalf("API %+v", list.Items)
		}
	}
	// The auditor reads but gets no Refresh button, and the server refuses.
	auditor := st.login(t, "audit")
	page = auditor.get("/mta/spf")
	if page.Status != 200 || strings.Contains(string(page.Body), "Refresh now") {
		t.Fatalf("auditor page: %d", page.Status)
	}
	if r := auditor.postForm("/mta/spf/gmail.com/refresh", url.Values{}, true); r.Status != 403 {
		t.Fatalf("auditor refresh: %d", r.Status)
	}
	// Adding a source with a bad domain shows the error next to the field.
	r = admin.postForm("/mta/spf", url.Values{"domain": {"not a domain"}, "map": {"partner"}}, true)
	if r.Status != 400 || !strings.Contains(string(r.Body), "field-error") {
		t.Fatalf("bad source: %d %s", r.Status, r.Body)
	}
}
