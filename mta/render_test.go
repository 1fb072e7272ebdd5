package mta

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"postdeck/postfix"
	"postdeck/store"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of TestRenderGolden")

// goldenCases are states whose rendering is pinned in testdata/golden.
func goldenCases() map[string]struct {
	inst Instance
	st   store.State
} {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	def := DefaultState(now)
	full := DefaultState(now)
	full.Settings = store.Settings{
		Hostname:                      "mx1.gw.example.com",
		RelayDomains:                  []string{"example.com", "example.org"},
		ExternalRelayHost:             "[smarthost.example.net]:587",
		InternalRelayHost:             "[10.0.0.25]:25",
		RejectUnverifiedRecipient:     true,
		UnverifiedRecipientRejectCode: 550,
		MyNetworks:                    []string{"127.0.0.0/8", "10.1.0.0/16", "2001:db8::/32"},
		MessageSizeLimit:              26214400,
		HeloName:                      "[IPv6:2001:db8::25]",
	}
	full.Maps = append(full.Maps, store.Map{Name: "spf.protection.outlook.com", Type: "cidr", Owner: store.OwnerRefresher, Content: "40.92.0.0/15 OK\n2a01:111:f400::/48 OK"})
	for i := range full.Maps {
		if full.Maps[i].Name == MapSASLPasswords {
			full.Maps[i].Content = "[smarthost.example.net]:587 gw:secret\n"
		}
	}
	imported := def
	imported.MasterConfig = "# Debian's, with submission\nsmtp      inet  n       -       y       -       -       smtpd\nsubmission inet n       -       y       -       -       smtpd\n  -o syslog_name=postfix/submission\n  -o smtpd_tls_security_level=encrypt\npickup    unix  n       -       y       60      1       pickup\n"
	noRestrictions := full
	noRestrictions.MainConfig = "# only a comment\ncompatibility_level = 3.6\n"
	// An import with an amavis filter, installation parameters, tables in
	// the settings and a filter's return listener in master.cf.
	chained := def
	chained.Settings.RelayDomains = []string{"example.org", "map:" + MapTransport, "proxy:pgsql:/etc/postfix/relay.cf", "$mydestination"}
	chained.Settings.MyNetworks = []string{"127.0.0.0/8", "::1/128", "cidr:/etc/postfix/trusted.cidr"}
	chained.Settings.RelayTransport = "smtp"
	chained.Settings.InternalRelayHost = "[10.0.0.1]:25"
	chained.Installation = "daemon_directory = /usr/lib/postfix/sbin\nmail_owner = postfix\nmailbox_command = procmail -a \"$EXTENSION\"\n"
	chained.MasterConfig = "smtp      inet  n       -       y       -       -       smtpd\n" + postfix.DebianServices +
		"smtp-amavis unix -      -       n       -       2       smtp\n" +
		"127.0.0.1:10025 inet n  -       n       -       -       smtpd\n    -o content_filter=\n    -o mynetworks=127.0.0.0/8\n"
	amavis := Instance{ConfigDir: "/etc/postfix", SMTPListen: ":25", MPAListen: "127.0.0.1:10035", ReinjectListen: "127.0.0.1:10036", ChainFilter: "smtp-amavis:[127.0.0.1]:10024", ChainOrder: ChainAfter}
	before := amavis
	before.ChainOrder = ChainBefore
	private := Instance{ConfigDir: "/var/lib/x/postfix/etc", Private: true, BaseDir: "/var/lib/x/postfix", SMTPListen: "127.0.0.1:2525", MPAListen: "127.0.0.1:10035", ReinjectListen: "127.0.0.1:10036"}
	return map[string]struct {
		inst Instance
		st   store.State
	}{
		"system-default": {Instance{ConfigDir: "/etc/postfix", SMTPListen: ":25"}, def},
		"private-mpa-full": {Instance{ConfigDir: "/var/lib/x/postfix/etc", Private: true, BaseDir: "/var/lib/x/postfix",
			SMTPListen: "127.0.0.1:2525", MPAListen: "127.0.0.1:10025", ReinjectListen: "127.0.0.1:10026"}, full},
		"system-imported-master":      {Instance{ConfigDir: "/etc/postfix", SMTPListen: ":25", MPAListen: "127.0.0.1:10025", ReinjectListen: "127.0.0.1:10026"}, imported},
		"verify-without-restrictions": {Instance{ConfigDir: "/etc/postfix", SMTPListen: "0.0.0.0:25", MPAListen: "127.0.0.1:10025", ReinjectListen: "127.0.0.1:10026"}, noRestrictions},
		"system-chain-after":          {amavis, chained},
		"system-chain-before":         {before, chained},
		"private-imported":            {private, chained},
	}
}

// TestRenderGolden pins what Render writes for representative states; run
// with -update after an intended change and review the diff.
func TestRenderGolden(t *testing.T) {
	for name, tc := range goldenCases() {
		out, err := Render(tc.inst, tc.st)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var b strings.Builder
		var paths []string
		for p := range out {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			b.WriteString("==> " + p + " (" + out[p].Mode.String() + ")\n")
			b.Write(out[p].Data)
		}
		golden := filepath.Join("testdata", "golden", name+".txt")
		if *updateGolden {
			if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%s: %v (run go test ./mta -run TestRenderGolden -update)", name, err)
		}
		if got := b.String(); got != string(want) {
			t.Errorf("%s: rendering differs from %s:\n%s", name, golden, UnifiedDiff(golden, string(want), got))
		}
	}
}

// TestRenderIsPure: the same state renders to the same bytes, and the
// SASL map is 0600.
func TestRenderIsPure(t *testing.T) {
	c := goldenCases()["private-mpa-full"]
	a, err := Render(c.inst, c.st)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Render(c.inst, c.st)
	for p := range a {
		if string(a[p].Data) != string(b[p].Data) {
			t.Fatalf("%s differs between two renders", p)
		}
	}
	if m := a[MapFile("hash", MapSASLPasswords)].Mode; m != 0o600 {
		t.Fatalf("SASL map mode %v", m)
	}
}

func TestWithVerify(t *testing.T) {
	for in, want := range map[string]string{
		"permit_mynetworks, reject_unauth_destination, check_recipient_access hash:/x": "permit_mynetworks, reject_unauth_destination, reject_unverified_recipient, check_recipient_access hash:/x",
		"permit_mynetworks defer_unauth_destination":                                   "permit_mynetworks defer_unauth_destination, reject_unverified_recipient",
		"permit_mynetworks, check_relay_domains_unauth_destination":                    "permit_mynetworks, check_relay_domains_unauth_destination, reject_unverified_recipient",
		"": "reject_unverified_recipient",
	} {
		if got := withVerify(in); got != want {
			t.Errorf("withVerify(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRenderVerifyToken: with the switch on, the document may not hold the
// token the switch adds; with it off, the document keeps it where it is.
func TestRenderVerifyToken(t *testing.T) {
	st := DefaultState(time.Now())
	st.MainConfig = "smtpd_recipient_restrictions = permit_mynetworks,\n    reject_unverified_recipient, reject_unauth_destination\n"
	in := Instance{ConfigDir: "/etc/postfix", SMTPListen: ":25"}
	r, err := Render(in, st)
	if err != nil || !strings.Contains(string(r["main.cf"].Data), "    reject_unverified_recipient, reject_unauth_destination\n") {
		t.Fatalf("switch off: %v", err)
	}
	st.Settings.RejectUnverifiedRecipient = true
	if _, err := Render(in, st); err == nil || !strings.Contains(err.Error(), "Line 1:") || !strings.Contains(err.Error(), "switch it off there") {
		t.Errorf("switch on: %v", err)
	}
}

// TestRenderRefusals: what Render refuses names the field (and line).
func TestRenderRefusals(t *testing.T) {
	in := Instance{ConfigDir: "/etc/postfix", SMTPListen: ":25", MPAListen: "127.0.0.1:10025", ReinjectListen: "127.0.0.1:10026", ChainFilter: "amavis:[127.0.0.1]:10024", ChainOrder: ChainAfter}
	for name, tc := range map[string]struct {
		mutate func(*store.State)
		want   string
	}{
		"missing map":             {func(s *store.State) { s.Settings.MyNetworks = []string{"map:nothing"} }, "there is no map named nothing"},
		"unknown relay transport": {func(s *store.State) { s.Settings.RelayTransport = "nothing" }, "not a unix service of master.cf"},
		"installation in doc": {func(s *store.State) {
			s.Installation = "mail_owner = postfix\n"
			s.MainConfig += "mail_owner = other\n"
		}, "fixed by the installation"},
		"content_filter in doc": {func(s *store.State) { s.MainConfig += "content_filter = x:[127.0.0.1]:1\n" }, "keeps the imported content filter"},
		"mpa service in master": {func(s *store.State) { s.MasterConfig = "mpa unix - - n - - smtp\n" }, "--mpa-listen"},
		"reinject in master":    {func(s *store.State) { s.MasterConfig = "127.0.0.1:10026 inet n - n - - smtpd\n" }, "--reinject-listen"},
	} {
		st := DefaultState(time.Now())
		tc.mutate(&st)
		if _, err := Render(in, st); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
