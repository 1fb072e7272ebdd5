package jobs

import (
	"strings"
	"testing"
)

func TestExpandDomainSpec(t *testing.T) {
	const cur, top = "email.example.com", "top.example.org"
	long := "somewhat.long.exp.example.com"
	for _, c := range []struct {
		spec, current, want, err string
		client                   string // comma-separated client macros
		risky                    bool
	}{
		// RFC 7208 section 7.4, the examples of the domain's own macros.
		{spec: "%{d}", want: "email.example.com"},
		{spec: "%{d4}", want: "email.example.com"},
		{spec: "%{d3}", want: "email.example.com"},
		{spec: "%{d2}", want: "example.com"},
		{spec: "%{d1}", want: "com"},
		{spec: "%{dr}", want: "com.example.email"},
		{spec: "%{d2r}", want: "example.email"},
		{spec: "_spf.%{o}", want: "_spf.top.example.org"},
		{spec: "%{o2}.%{d1}.", want: "example.org.com"},
		{spec: "%{d-}", current: "a-b.c-d.example.com", want: "a.b.c.d.example.com"},
		{spec: "%{dr-.}", current: "a-b.example.com", want: "com.example.b.a"},
		{spec: "%{D}", current: "foo:bar/baz.example.com", want: "foo%3abar%2fbaz.example.com"},
		{spec: "macro%%percent%_%_space%-url-space.example.com", want: "macro%percent  space%20url-space.example.com"},
		{spec: "foo:bar/baz.example.com", want: "foo:bar/baz.example.com"},
		{spec: "MiXed.Example.COM.", want: "mixed.example.com"},
		// RFC 7208 section 7.3: a too long expansion loses labels on the left.
		{spec: "foobar.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.example.com", current: long,
			want: strings.Repeat(long+".", 8) + "example.com"}, // "foobar." is cut
		// The client's macros are not expanded but reported.
		{spec: "%{i}._spf.%{d}", client: "%{i}"},
		{spec: "%{ir}.%{v}.arpa", client: "%{ir},%{v}"},
		{spec: "%{l2r-}.user.%{d2}", client: "%{l2r-}", risky: true},
		{spec: "%{H}", client: "%{H}", risky: true},
		{spec: "%{p}.ok.example.com", client: "%{p}", risky: true},
		// Valid domain-specs that name no usable domain.
		{spec: "mail.example...com", err: "not a valid domain name"},
		{spec: strings.Repeat("a", 64) + ".example.com", err: "not a valid domain name"},
		{spec: "%{x}.example.com", err: "unknown macro letter"},
	} {
		current := c.current
		if current == "" {
			current = cur
		}
		o := top
		if c.current == long {
			o = long
		}
		got, err := expandDomainSpec(c.spec, current, o)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.spec, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if strings.Join(got.client, ",") != c.client || got.risky != c.risky {
			t.Errorf("%q: client %q risky %v, want %q %v", c.spec, got.client, got.risky, c.client, c.risky)
		}
		if c.client == "" && got.name != c.want {
			t.Errorf("%q: %q, want %q", c.spec, got.name, c.want)
		}
		if c.client != "" && got.name != "" {
			t.Errorf("%q: expanded to %q despite client macros", c.spec, got.name)
		}
	}
}

// FuzzExpandDomainSpec: expansion never panics, and what it returns
// without client macros is a name DNS can be asked.
func FuzzExpandDomainSpec(f *testing.F) {
	for _, s := range []string{"%{d}", "%{d2r-+,/_=}.%{O}", "%{i}.%{l}", "a.%%%_%-.com", "%{d999}", "%{", "%"} {
		f.Add(s, "email.example.com")
	}
	f.Fuzz(func(t *testing.T, spec, current string) {
		if len(spec) > 300 || len(current) > 300 {
			return
		}
		got, err := expandDomainSpec(spec, current, "top.example.org")
		if err != nil || got.client != nil {
			return
		}
		if err := checkDNSName(got.name); err != nil || len(got.name) > maxNameLen || got.name != asciiLower(got.name) {
			t.Fatalf("%q in %q gave %q (%v)", spec, current, got.name, err)
		}
	})
}
