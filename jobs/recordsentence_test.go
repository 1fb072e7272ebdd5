package jobs

import (
	"context"
	"strconv"
	"strings"
	"testing"
)

// TestRecordFaultsReadAsSentences: a record the parser refuses keeps the
// live map (the stored map and the file Postfix reads stay as they
// were), and what the administrator reads (the refresh's answer, the
// status's last_error behind the SPF page and the dashboard) is a
// sentence naming the domain, the include chain that reached it, the
// fault and what it means, not the parser's words. The record too long
// is a published one of 5,000 bytes in several strings, as a DNS server
// on 127.0.0.1 serves it.
func TestRecordFaultsReadAsSentences(t *testing.T) {
	t.Parallel() // a private Postfix of its own
	env := startMTA(t)
	const until = "; this source is not refreshed until the domain's owner corrects that record or the source is removed"
	long := "v=spf1"
	for i := 0; len(long) < 4950; i++ {
		long += " ip4:198.51." + strconv.Itoa(i%256) + ".0/24"
	}
	long += strings.Repeat(" ", 5000-len(long)-len(" -all")) + " -all"
	if len(long) != 5000 {
		t.Fatalf("record of %d bytes", len(long))
	}
	cases := []struct {
		name  string
		setup func(d *testDNS)
		want  string
	}{
		{name: "too long", want: "the SPF record of long.test (include chain root.test -> long.test) is 5000 bytes long, " +
			"more than the 4096 bytes postdeck accepts for an SPF record" + until, setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:long.test -all")
			d.txt("long.test", long) // split in strings of 255 bytes
		}},
		{name: "unknown mechanism", want: `the SPF record of root.test has an invalid term "ipv4:198.51.100.0/24": unknown mechanism "ipv4"` + until, setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 ipv4:198.51.100.0/24 -all")
		}},
		{name: "redirect twice", want: "the SPF record of mid.test (include chain root.test -> mid.test) is invalid: redirect= appears twice" + until, setup: func(d *testDNS) {
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 include:mid.test -all")
			d.txt("mid.test", "v=spf1 redirect=a.test redirect=b.test")
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "sentence-" + strconv.Itoa(i)
			before, file := env.seedLive(t, name)
			d := newTestDNS(t)
			c.setup(d)
			ref := env.refresher(t, d, RefresherConfig{})
			res, err := ref.RefreshNow(context.Background(), "tester", name)
			env.assertKept(t, ref, name, c.want, before, file, res, err)
			if want := "kept the live map: " + c.want; res.Error != want {
				t.Fatalf("error\n%q\nwant\n%q", res.Error, want)
			}
			if strings.Contains(res.Error, "parse spf") {
				t.Fatalf("the parser's words reach the administrator: %q", res.Error)
			}
		})
	}
}
