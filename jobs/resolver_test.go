package jobs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestResolverFromResolvConf(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ conf, want, err string }{
		{conf: "search example.test\nnameserver 192.0.2.53\nnameserver 198.51.100.53\n", want: "192.0.2.53:53"},
		{conf: "nameserver 2001:db8::53\n", want: "[2001:db8::53]:53"},
		{conf: "search example.test\n", err: "no nameserver"},
	} {
		p := filepath.Join(dir, "resolv.conf")
		if err := os.WriteFile(p, []byte(c.conf), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := resolverFromFile(p)
		if c.err != "" {
			if err == nil {
				t.Errorf("%q: no error", c.conf)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %q %v, want %q", c.conf, got, err, c.want)
		}
	}
	for in, want := range map[string]string{"192.0.2.1": "192.0.2.1:53", "192.0.2.1:5353": "192.0.2.1:5353", "2001:db8::1": "[2001:db8::1]:53", "[2001:db8::1]:54": "[2001:db8::1]:54"} {
		if got, err := NormalizeResolver(in); err != nil || got != want {
			t.Errorf("NormalizeResolver(%q) = %q %v, want %q", in, got, err, want)
		}
	}
}

func TestResolverErrors(t *testing.T) {
	d := newTestDNS(t)
	d.txt("ok.test", "v=spf1 -all")
	d.set(d.servfail, "bad.test")
	d.set(d.drop, "slow.test")
	r := &Resolver{Server: d.Addr, Timeout: 100 * time.Millisecond}
	ctx := context.Background()
	if rrs, err := r.Lookup(ctx, "ok.test", dns.TypeTXT); err != nil || len(rrs) != 1 {
		t.Fatalf("ok.test: %v %v", rrs, err)
	}
	if rrs, err := r.Lookup(ctx, "ok.test", dns.TypeA); err != nil || len(rrs) != 0 {
		t.Fatalf("ok.test A (NODATA): %v %v", rrs, err)
	}
	var de *DNSError
	if _, err := r.Lookup(ctx, "gone.test", dns.TypeTXT); !errors.As(err, &de) || !de.NotFound() {
		t.Fatalf("gone.test: %v", err)
	}
	if _, err := r.Lookup(ctx, "bad.test", dns.TypeTXT); !errors.As(err, &de) || de.Rcode != dns.RcodeServerFailure {
		t.Fatalf("bad.test: %v", err)
	}
	// A server that never answers is a timeout after udpAttempts tries.
	if _, err := r.Lookup(ctx, "slow.test", dns.TypeTXT); !errors.As(err, &de) || !de.Timeout() {
		t.Fatalf("slow.test: %v", err)
	}
	if n := d.count("slow.test", "TXT", "udp"); n != udpAttempts {
		t.Fatalf("slow.test asked %d times, want %d", n, udpAttempts)
	}
}
