package jobs

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testDNS is an authoritative-style miekg/dns server on 127.0.0.1 (UDP and
// TCP on one random port) that answers from an in-memory record set and
// counts every question it receives.
type testDNS struct {
	Addr string

	mu       sync.Mutex
	records  map[string][]dns.RR // fqdn (lower case) -> records of every type
	exists   map[string]bool     // names that exist without records
	servfail map[string]bool
	drop     map[string]bool // never answered: a timeout
	truncate map[string]bool // UDP answers carry TC and no records
	// failEmpty: SERVFAIL when the name has no record of the asked type,
	// as a recursive resolver answers when the authority times out (the
	// RFC 7208 suite's TIMEOUT after a name's records).
	failEmpty map[string]bool
	queries   map[string]int // "name TYPE net" -> count
	gate      *dnsGate       // nil: every answer goes out at once
}

// dnsGate holds every answer until each of its names has been asked (or
// gateLimit has passed): a test that needs several lookups to be in
// flight together makes that certain instead of likely.
type dnsGate struct {
	want map[string]bool // names not yet asked
	open chan struct{}   // closed when want is empty
}

// gateLimit bounds the wait of a held answer, so that a test whose
// lookups never all come fails on its assertions, not on a hang.
const gateLimit = 10 * time.Second

// holdUntilAsked makes the server hold its answers until every one of
// names (without the trailing dot) has been asked at least once.
func (d *testDNS) holdUntilAsked(names ...string) {
	g := &dnsGate{want: map[string]bool{}, open: make(chan struct{})}
	for _, n := range names {
		g.want[strings.ToLower(n)] = true
	}
	d.mu.Lock()
	d.gate = g
	d.mu.Unlock()
}

func newTestDNS(t testing.TB) *testDNS {
	t.Helper()
	d := &testDNS{
		records: map[string][]dns.RR{}, exists: map[string]bool{}, servfail: map[string]bool{},
		drop: map[string]bool{}, truncate: map[string]bool{}, failEmpty: map[string]bool{}, queries: map[string]int{},
	}
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	for range 20 { // the UDP port may be taken for TCP
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		_ = pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	d.Addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(d.serve("udp"))}
	tcp := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(d.serve("tcp"))}
	for _, s := range []*dns.Server{udp, tcp} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go func() { _ = s.ActivateAndServe() }()
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("dns server did not start")
		}
		t.Cleanup(func() { _ = s.Shutdown() })
	}
	return d
}

func (d *testDNS) serve(network string) func(w dns.ResponseWriter, req *dns.Msg) {
	return func(w dns.ResponseWriter, req *dns.Msg) {
		if len(req.Question) != 1 {
			return
		}
		q := req.Question[0]
		name := strings.ToLower(q.Name)
		bare := strings.TrimSuffix(name, ".")
		d.mu.Lock()
		d.queries[fmt.Sprintf("%s %s %s", bare, dns.TypeToString[q.Qtype], network)]++
		answer, rcode, drop := d.answerLocked(name, q.Qtype)
		trunc := d.truncate[name]
		g := d.gate
		if g != nil && g.want[bare] {
			delete(g.want, bare)
			if len(g.want) == 0 {
				close(g.open)
			}
		}
		d.mu.Unlock()
		if g != nil {
			select {
			case <-g.open:
			case <-time.After(gateLimit):
			}
		}
		if drop {
			return
		}
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		m.Rcode = rcode
		if trunc && network == "udp" && rcode == dns.RcodeSuccess {
			m.Truncated = true
		} else {
			m.Answer = answer
		}
		if network == "udp" {
			// As a real server does: an answer larger than the client's
			// buffer (512 bytes, or its EDNS0 size) goes out truncated.
			size := dns.MinMsgSize
			if opt := req.IsEdns0(); opt != nil {
				size = int(opt.UDPSize())
			}
			m.Truncate(size)
		}
		_ = w.WriteMsg(m)
	}
}

// maxCNAMEChain bounds the CNAMEs one answer follows; a longer chain (a
// loop) is SERVFAIL, as recursive resolvers answer.
const maxCNAMEChain = 8

// answerLocked answers name/qtype from the record set, following CNAMEs
// the way a recursive resolver does (the CNAMEs come first in the answer).
func (d *testDNS) answerLocked(name string, qtype uint16) (answer []dns.RR, rcode int, drop bool) {
	for range maxCNAMEChain {
		if d.drop[name] {
			return nil, 0, true
		}
		if d.servfail[name] {
			return nil, dns.RcodeServerFailure, false
		}
		rrs, known := d.records[name]
		if !known && !d.exists[name] {
			return answer, dns.RcodeNameError, false
		}
		var found []dns.RR
		var cname *dns.CNAME
		for _, rr := range rrs {
			if rr.Header().Rrtype == qtype {
				found = append(found, dns.Copy(rr))
			} else if c, ok := rr.(*dns.CNAME); ok && qtype != dns.TypeCNAME {
				cname = c
			}
		}
		switch {
		case len(found) > 0:
			return append(answer, found...), dns.RcodeSuccess, false
		case cname != nil:
			answer = append(answer, dns.Copy(cname))
			name = canonicalName(cname.Target)
		case d.failEmpty[name]:
			return nil, dns.RcodeServerFailure, false
		default:
			return answer, dns.RcodeSuccess, false
		}
	}
	return nil, dns.RcodeServerFailure, false
}

// canonicalName is the form a name has when the server reads it from a
// query: packed and unpacked by miekg/dns (special bytes escaped), lower
// case, fully qualified.
func canonicalName(presentation string) string {
	buf := make([]byte, 512)
	off, err := dns.PackDomainName(dns.Fqdn(presentation), buf, 0, nil, false)
	if err != nil {
		return strings.ToLower(dns.Fqdn(presentation))
	}
	s, _, err := dns.UnpackDomainName(buf[:off], 0)
	if err != nil {
		return strings.ToLower(dns.Fqdn(presentation))
	}
	return strings.ToLower(s)
}

func (d *testDNS) add(rr string) {
	r, err := dns.NewRR(rr)
	if err != nil {
		panic(err)
	}
	d.addRR(r)
}

// addRR adds a record built in Go, whose owner name may hold any bytes.
func (d *testDNS) addRR(r dns.RR) {
	name := canonicalName(r.Header().Name)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.records[name] = append(d.records[name], r)
}

// txt adds a TXT record made of the given character strings; one longer
// than a TXT string holds (255 bytes) becomes several, as publishers
// split a long SPF record (a checker joins them again).
func (d *testDNS) txt(name string, strs ...string) {
	var quoted []string
	for _, s := range strs {
		for len(s) > 255 {
			quoted, s = append(quoted, `"`+s[:255]+`"`), s[255:]
		}
		quoted = append(quoted, `"`+s+`"`)
	}
	d.add(fmt.Sprintf("%s. 300 IN TXT %s", name, strings.Join(quoted, " ")))
}

// retxt replaces name's TXT records with one made of strs (a domain
// that publishes a new SPF record).
func (d *testDNS) retxt(name string, strs ...string) {
	key := canonicalName(name)
	d.mu.Lock()
	kept := d.records[key][:0]
	for _, r := range d.records[key] {
		if r.Header().Rrtype != dns.TypeTXT {
			kept = append(kept, r)
		}
	}
	d.records[key] = kept
	d.mu.Unlock()
	d.txt(name, strs...)
}

func (d *testDNS) set(m map[string]bool, name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m[canonicalName(name)] = true
}

// count returns how often name/type was asked over network ("" = both).
func (d *testDNS) count(name, qtype, network string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for k, v := range d.queries {
		f := strings.Fields(k)
		if f[0] == name && f[1] == qtype && (network == "" || f[2] == network) {
			n += v
		}
	}
	return n
}

// snapshot returns the query counts so far and resets them.
func (d *testDNS) reset() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	q := d.queries
	d.queries = map[string]int{}
	return q
}

// Realistic record trees.

// microsoftTree serves spf.protection.outlook.com: ip4 and ip6 terms, a
// record long enough to be split into two strings, and an include chain.
func microsoftTree(d *testDNS) {
	d.txt("spf.protection.outlook.com",
		"v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 ip4:52.100.0.0/15 ip4:52.102.0.0/16 ip4:52.103.0.0/16 ip4:104.47.0.0/17 ip6:2a01:111:f400::/48 ip6:2a01:111:f403::/49 include:spfd.protec",
		"tion.outlook.com -all")
	d.txt("spf.protection.outlook.com", "google-site-verification=abcdefghijklmnop")
	d.txt("spfd.protection.outlook.com",
		"v=spf1 ip4:51.4.72.0/24 ip4:51.5.72.0/24 ip4:51.5.80.0/27 ip4:51.5.80.32/27 ip4:20.47.149.138/32 ip4:51.4.80.0/27 ip6:2a01:4180:4051:0800::/64 ip6:2a01:4180:4050:0800::/64 ip6:2a01:4180:4051:0400::/64 ip6:2a01:4180:4050:0400::/64 include:spfe.protection.outlook.com -all")
	d.txt("spfe.protection.outlook.com",
		"v=spf1 ip4:40.92.0.0/16 ip6:2a01:111:f403:8000::/51 ip6:2a01:111:f403:c000::/51 ip6:2a01:111:f403:f000::/52 -all")
}

const microsoftMap = `20.47.149.138/32 OK
40.92.0.0/15 OK
40.107.0.0/16 OK
51.4.72.0/24 OK
51.4.80.0/27 OK
51.5.72.0/24 OK
51.5.80.0/26 OK
52.100.0.0/14 OK
104.47.0.0/17 OK
2a01:111:f400::/48 OK
2a01:111:f403::/49 OK
2a01:111:f403:8000::/51 OK
2a01:111:f403:c000::/51 OK
2a01:111:f403:f000::/52 OK
2a01:4180:4050:400::/64 OK
2a01:4180:4050:800::/64 OK
2a01:4180:4051:400::/64 OK
2a01:4180:4051:800::/64 OK
`

// googleTree serves gmail.com -> redirect=_spf.google.com -> three
// netblock records, as Google publishes them.
func googleTree(d *testDNS) {
	d.txt("gmail.com", "v=spf1 redirect=_spf.google.com")
	d.txt("gmail.com", "globalsign-smime-dv=CDYX+XFHUw2wml6/Gb8+59BsH31KzUr6c1l2BPvqKX8=")
	d.txt("_spf.google.com", "v=spf1 include:_netblocks.google.com include:_netblocks2.google.com include:_netblocks3.google.com ~all")
	d.txt("_netblocks.google.com", "v=spf1 ip4:35.190.247.0/24 ip4:64.233.160.0/19 ip4:66.102.0.0/20 ip4:66.249.80.0/20 ip4:72.14.192.0/18 ip4:74.125.0.0/16 ip4:108.177.8.0/21 ip4:173.194.0.0/16 ip4:209.85.128.0/17 ip4:216.58.192.0/19 ip4:216.239.32.0/19 ~all")
	d.txt("_netblocks2.google.com", "v=spf1 ip6:2001:4860:4000::/36 ip6:2404:6800:4000::/36 ip6:2607:f8b0:4000::/36 ip6:2800:3f0:4000::/36 ip6:2a00:1450:4000::/36 ip6:2c0f:fb50:4000::/36 ~all")
	d.txt("_netblocks3.google.com", "v=spf1 ip4:172.217.0.0/19 ip4:172.217.32.0/20 ip4:172.217.128.0/19 ip4:172.217.160.0/20 ip4:172.217.192.0/19 ip4:172.253.56.0/21 ip4:172.253.112.0/20 ip4:108.177.96.0/19 ip4:35.191.0.0/16 ip4:130.211.0.0/22 ~all")
}

const googleMap = `35.190.247.0/24 OK
35.191.0.0/16 OK
64.233.160.0/19 OK
66.102.0.0/20 OK
66.249.80.0/20 OK
72.14.192.0/18 OK
74.125.0.0/16 OK
108.177.8.0/21 OK
108.177.96.0/19 OK
130.211.0.0/22 OK
172.217.0.0/19 OK
172.217.32.0/20 OK
172.217.128.0/19 OK
172.217.160.0/20 OK
172.217.192.0/19 OK
172.253.56.0/21 OK
172.253.112.0/20 OK
173.194.0.0/16 OK
209.85.128.0/17 OK
216.58.192.0/19 OK
216.239.32.0/19 OK
2001:4860:4000::/36 OK
2404:6800:4000::/36 OK
2607:f8b0:4000::/36 OK
2800:3f0:4000::/36 OK
2a00:1450:4000::/36 OK
2c0f:fb50:4000::/36 OK
`
