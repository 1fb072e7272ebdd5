package jobs

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	for _, c := range []struct {
		in, want, err string
	}{
		{in: "v=spf1", want: "v=spf1"},
		{in: "V=SPF1  IP4:192.0.2.1  -ALL", want: "v=spf1 ip4:192.0.2.1/32 -all"},
		{in: "v=spf1 ip4:192.0.2.77/24 ~all", want: "v=spf1 ip4:192.0.2.0/24 ~all"},
		{in: "v=spf1 ip6:2001:DB8::1 ?all", want: "v=spf1 ip6:2001:db8::1/128 ?all"},
		{in: "v=spf1 a mx/24 a:mail.example.test/24//64 mx//48 ptr -all", want: "v=spf1 a mx/24 a:mail.example.test/24//64 mx//48 ptr -all"},
		{in: "v=spf1 include:_spf.google.com exists:%{i}._spf.example.test redirect=_spf.example.test", want: "v=spf1 include:_spf.google.com exists:%{i}._spf.example.test redirect=_spf.example.test"},
		{in: "v=spf1 -all foo=bar exp=explain.example.test", want: "v=spf1 -all exp=explain.example.test"},
		{in: "v=spf10 -all", err: "not an SPF record"},
		{in: "spf1 -all", err: "not an SPF record"},
		{in: "v=spf1 ip4:192.0.2.0/33", err: "longer than 32"},
		{in: "v=spf1 ip4:192.0.2.0/024", err: "bad prefix length"},
		{in: "v=spf1 ip4:2001:db8::1", err: "not an IPv4"},
		{in: "v=spf1 ip6:192.0.2.1", err: "not an IPv6"},
		{in: "v=spf1 ip4", err: "needs an address"},
		{in: "v=spf1 include", err: "needs a domain"},
		{in: "v=spf1 include:localhost", err: "does not end in a top-level domain"},
		{in: "v=spf1 include:example.123", err: "valid top-level domain"},
		{in: "v=spf1 include:%{z}.example.test", err: "unknown macro letter"},
		{in: "v=spf1 all:x", err: "no argument"},
		{in: "v=spf1 redirect=a.test redirect=b.test", err: "twice"},
		{in: "v=spf1 a:x.test/24/25", err: "valid top-level domain"},
		// RFC 7208 section 12: a domain-spec is everything after the
		// first ':' up to the dual-cidr-length, ':' and '/' included.
		{in: "v=spf1 a:foo:bar/baz.example.com mx:foo:bar/baz.example.com/24//64", want: "v=spf1 a:foo:bar/baz.example.com mx:foo:bar/baz.example.com/24//64"},
		{in: "v=spf1 a:foo.example.xn--zckzah a:x.example.com. a:%{d}.%{o}", want: "v=spf1 a:foo.example.xn--zckzah a:x.example.com. a:%{d}.%{o}"},
		{in: "v=spf1 exists:%{i}.%{l1r-}.%{D2} ptr:%{d} include:_spf.%{o}", want: "v=spf1 exists:%{i}.%{l1r-}.%{D2} ptr:%{d} include:_spf.%{o}"},
		{in: "v=spf1 a:macro%%percent%_space%-x.example.com foo=%{c}%{r}%{t} -all", want: "v=spf1 a:macro%%percent%_space%-x.example.com -all"},
		{in: "v=spf1 a:example.com:8080", err: "valid top-level domain"},
		{in: "v=spf1 a:example.-com", err: "valid top-level domain"},
		{in: "v=spf1 a:museum.", err: "does not end in a top-level domain"},
		{in: "v=spf1 a:111.222.33.44", err: "valid top-level domain"},
		{in: "v=spf1 a:", err: "empty domain"},
		{in: "v=spf1 a/24/64", err: "longer than 32"},
		{in: "v=spf1 a//129", err: "longer than 128"},
		{in: "v=spf1 mx/032", err: "bad prefix length"},
		{in: "v=spf1 ptr/0", err: "expected"},
		{in: "v=spf1 ptr:", err: "empty domain"},
		{in: "v=spf1 include:ip5.example.com/24", err: "valid top-level domain"},
		{in: "v=spf1 exp=%{r}.example.com", err: "allowed only in explanation text"},
		{in: "v=spf1 a:%{d0}.example.com", err: "must not be 0"},
		{in: "v=spf1 a:%{d2x}.example.com", err: "bad delimiter"},
		{in: "v=spf1 exists:%(ir).example.com", err: "must be followed by"},
		{in: "v=spf1 exists:foo%", err: "at the end"},
		{in: "v=spf1 -all foo=%abc", err: "must be followed by"},
		{in: "v=spf1 redirect=-all", err: "top-level domain"},
		{in: "v=spf1 +foo", err: "unknown mechanism"},
		{in: "v=spf1 ip4:192.0.2.0/24\t-all", err: "not visible ASCII"},
	} {
		r, err := ParseRecord(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := r.String(); got != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
	if _, err := ParseRecord("v=spf2.0/pra"); !errors.Is(err, ErrNotSPF) {
		t.Errorf("spf2: %v", err)
	}
	r, _ := ParseRecord("v=spf1 include:x.test -include:y.test a:%{d}.test")
	if !r.Mechanisms[0].Pass() || r.Mechanisms[1].Pass() || !r.Mechanisms[2].Macro || r.HasAll() {
		t.Errorf("mechanisms %+v", r.Mechanisms)
	}
}

// FuzzParseRecord: the parser never panics, and whatever it accepts it
// renders in a canonical form that parses back to the same form.
func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"v=spf1 ip4:40.92.0.0/15 ip6:2a01:111:f400::/48 include:spfd.protection.outlook.com -all",
		"v=spf1 redirect=_spf.google.com",
		"v=spf1 a:host.test/24//64 mx ptr exists:%{i}.x.test ~all",
		"v=spf1 -ip4:192.0.2.5 +ip4:192.0.2.0/24 ?all exp=%{d}.exp.test foo=bar",
		"v=spf1 include:%{l1r-}.%{d2}.x.test %% %_ %-",
		"V=SPF1 A//0 MX/0",
		"v=spf1 a:foo:bar/baz.example.com/24//64 mx:x.%{d}/0 exists:%{ir}.%{v}.arpa.%{o}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err != nil {
			return
		}
		canon := r.String()
		r2, err := ParseRecord(canon)
		if err != nil {
			t.Fatalf("%q parsed, its canonical form %q does not: %v", s, canon, err)
		}
		if got := r2.String(); got != canon {
			t.Fatalf("canonical form not stable: %q -> %q -> %q", s, canon, got)
		}
		for _, m := range r.Mechanisms {
			if (m.Kind == MechIP4 || m.Kind == MechIP6) && m.Prefix.Masked() != m.Prefix {
				t.Fatalf("%q: %s keeps host bits", s, m.Prefix)
			}
		}
	})
}
