package mta

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"postdeck/store"
)

// openRelayDoc is the shipped document with restrictions that let anyone
// relay, written so that Postfix still starts smtpd: reject_unauth_destination
// is there, but check_client_access static:OK permits every client first.
var openRelayDoc = strings.Replace(strings.Replace(DefaultMainConfig,
	"smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination",
	"smtpd_relay_restrictions = permit", 1),
	"smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,",
	"smtpd_recipient_restrictions = check_client_access static:OK, reject_unauth_destination,", 1)

func lineOf(t *testing.T, doc, name string) int {
	t.Helper()
	params, err := ParseMainConfig(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range params {
		if p.Name == name {
			return p.Line
		}
	}
	t.Fatalf("%s not in the document", name)
	return 0
}

func TestRelayProbeRefusesAnOpenRelay(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	if env.m.liveRelay != relayClosed {
		t.Fatalf("the shipped defaults were not probed closed at start: %v", env.m.liveRelay)
	}
	before := env.liveFiles(t)
	beforeN := env.postconfN(t)
	_, err := env.m.SaveMainConfig(ctx, "tester", openRelayDoc, "", ApplyOptions{})
	var ue *store.UserError
	if !errors.Is(err, ErrOpenRelay) || !errors.Is(err, store.ErrInvalid) || !errors.As(err, &ue) {
		t.Fatalf("want an open-relay refusal, got %v", err)
	}
	if want := lineOf(t, openRelayDoc, "smtpd_relay_restrictions"); ue.Field != FieldMainConfig || ue.Line != want {
		t.Errorf("field %q line %d, want %q line %d", ue.Field, ue.Line, FieldMainConfig, want)
	}
	for _, want := range []string{"open relay", `"250 2.1.5 Ok" to RCPT TO:<relay-probe@relay-test.invalid> from a client at 192.0.2.1`, "reject_unauth_destination", "allow_open_relay"} {
		if !strings.Contains(ue.Msg, want) {
			t.Errorf("refusal %q lacks %q", ue.Msg, want)
		}
	}
	assertSameFiles(t, before, env.liveFiles(t))
	if got := env.postconfN(t); got != beforeN {
		t.Fatalf("postconf -n changed:\n%s", got)
	}

	// Allowed explicitly, it is applied, and the message (the audit
	// entry's detail) says so.
	res, err := env.m.SaveMainConfig(ctx, "tester", openRelayDoc, "", ApplyOptions{AllowOpenRelay: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reloaded || !strings.Contains(res.Message, "as the request allowed (allow_open_relay)") || len(res.Warnings) == 0 {
		t.Fatalf("allowed open relay: %+v", res)
	}
	// A later change that keeps it relaying needs no new permission (a map
	// save, the SPF refresher, SIGHUP).
	s := validSettings()
	s.Hostname = "still-open.example.test"
	res, err = env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{})
	if err != nil {
		t.Fatalf("a change of an allowed open relay: %v", err)
	}
	if !strings.Contains(res.Message, "as the running configuration did") {
		t.Fatalf("message %q", res.Message)
	}
	// Closed again, it must be allowed again.
	if _, err := env.m.SaveMainConfig(ctx, "tester", DefaultMainConfig, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.SaveMainConfig(ctx, "tester", openRelayDoc, "", ApplyOptions{}); !errors.Is(err, ErrOpenRelay) {
		t.Fatalf("open relay after closing: %v", err)
	}
}

// TestRelayProbeAsksPostfix: the verdict is Postfix's, not a reading of
// the parameters. smtpd_relay_restrictions = permit with the shipped
// smtpd_recipient_restrictions is no open relay (reject_unauth_destination
// there still refuses), and is applied; with a recipient list that permits
// too, smtpd cannot even start, which is refused with Postfix's words.
func TestRelayProbeAsksPostfix(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	permit := strings.Replace(DefaultMainConfig, "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination", "smtpd_relay_restrictions = permit", 1)
	if _, err := env.m.SaveMainConfig(ctx, "tester", permit, "", ApplyOptions{}); err != nil {
		t.Fatalf("relay restrictions permit, recipient restrictions reject: %v", err)
	}
	before := env.liveFiles(t)
	dead := strings.Replace(permit, "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,\n    check_recipient_access", "smtpd_recipient_restrictions = permit_mynetworks,\n    check_recipient_access", 1)
	_, err := env.m.SaveMainConfig(ctx, "tester", dead, "", ApplyOptions{AllowOpenRelay: true})
	var ue *store.UserError
	var ae *ApplyError
	if !errors.As(err, &ue) || errors.As(err, &ae) || !strings.Contains(ue.Msg, "specify at least one working instance of: reject_unauth_destination") {
		t.Fatalf("want a refusal before the swap with Postfix's words, got %v", err)
	}
	if want := lineOf(t, dead, "smtpd_relay_restrictions"); ue.Line != want {
		t.Errorf("line %d, want %d: %s", ue.Line, want, ue.Msg)
	}
	assertSameFiles(t, before, env.liveFiles(t))
}

func TestRelayProbeTemporaryAnswerIsAWarning(t *testing.T) {
	env := newTestEnv(t)
	doc := strings.Replace(DefaultMainConfig, "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination", "smtpd_relay_restrictions = permit_mynetworks, defer_unauth_destination", 1)
	doc = strings.Replace(doc, "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,", "smtpd_recipient_restrictions = permit_mynetworks, defer_unauth_destination,", 1)
	res, err := env.m.SaveMainConfig(context.Background(), "tester", doc, "", ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool {
		return strings.Contains(w, "temporary answer") && strings.Contains(w, "454 4.7.1")
	}) {
		t.Fatalf("warnings %q lack the temporary answer", res.Warnings)
	}
}

func TestRelayProbeMyNetworks(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	before := env.liveFiles(t)
	s := validSettings()
	s.MyNetworks = []string{"0.0.0.0/1", "128.0.0.0/1"}
	_, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{})
	var ue *store.UserError
	if !errors.Is(err, ErrOpenRelay) || !errors.As(err, &ue) || ue.Field != FieldMyNetworks || !strings.Contains(ue.Msg, "every IPv4 address") {
		t.Fatalf("want an open-relay refusal on my_networks, got %v", err)
	}
	assertSameFiles(t, before, env.liveFiles(t))
	// Every IPv6 address: the probe plays an IPv6 client, which this
	// instance (inet_protocols = ipv4) cannot have ("501 5.5.4 Bad ADDR
	// syntax"), so no stranger is in My Networks and the probe plays an
	// IPv4 one.
	s.MyNetworks = []string{"::/1", "8000::/1", "127.0.0.0/8"}
	if _, err = env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{}); err != nil {
		t.Fatalf("every IPv6 address on an IPv4-only instance: %v", err)
	}
	// A network that holds the first probe address is no open relay: the
	// probe plays a client from another one.
	s.MyNetworks = []string{"127.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24"}
	if _, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestProbeAddress(t *testing.T) {
	pfx := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	for _, tc := range []struct {
		nets  []netip.Prefix
		addr  string
		every string
	}{
		{nil, "192.0.2.1", ""},
		{pfx("127.0.0.0/8", "::1/128"), "192.0.2.1", ""},
		{pfx("192.0.2.0/24"), "198.51.100.1", ""},
		{pfx("192.0.0.0/8", "198.51.100.0/24", "203.0.113.0/24"), "0.0.0.1", ""},
		{pfx("0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/2"), "", "IPv4"},
		{pfx("0.0.0.0/0"), "", "IPv4"},
		{pfx("0.0.0.0/32", "0.0.0.1/32", "0.0.0.2/31", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"), "0.0.0.4", ""},
		{pfx("::/1", "8000::/1"), "2001:db8::1", "IPv6"},
	} {
		addr, every := probeAddress(tc.nets)
		if every != tc.every || (tc.addr != "" && addr.String() != tc.addr) || covered(tc.nets, addr) != (every != "") {
			t.Errorf("probeAddress(%v) = %v %q, want %s %q", tc.nets, addr, every, tc.addr, tc.every)
		}
	}
	if got := parseNetworks(" 127.0.0.0/8, [::1]/128 10.0.0.1,$x, cidr:/etc/x"); len(got) != 3 || got[1].String() != "::1/128" || got[2].String() != "10.0.0.1/32" {
		t.Errorf("parseNetworks = %v", got)
	}
}

func TestParseMaster(t *testing.T) {
	master := "# c\nsmtp inet n - y - 1 postscreen\nsmtpd pass - - y - - smtpd\n  -o smtpd_relay_restrictions=permit_mynetworks,reject\n" +
		"  -o { smtpd_client_restrictions = permit_mynetworks, reject }\n\t-osyslog_name=x\nsubmission inet n - y - - smtpd -o mynetworks=10.0.0.0/8\n"
	svcs := parseMasterCF(master)
	if len(svcs) != 3 {
		t.Fatalf("%d services: %+v", len(svcs), svcs)
	}
	want := []string{"smtpd_relay_restrictions=permit_mynetworks,reject", "smtpd_client_restrictions=permit_mynetworks, reject", "syslog_name=x"}
	var got []string
	for _, o := range svcs[1].Opts {
		got = append(got, o.Name+"="+o.Value)
	}
	if svcs[1].Name != "smtpd" || svcs[1].Type != "pass" || !slices.Equal(got, want) {
		t.Errorf("pass service %+v", svcs[1])
	}
	m := &Manager{inst: Instance{SMTPListen: ":25"}}
	svc, err := m.publicSMTPD(master)
	if err != nil || svc.Name != "smtpd" {
		t.Errorf("public smtpd behind postscreen = %+v, %v", svc, err)
	}
	if v, ok := svcs[2].Opt("mynetworks"); !ok || v != "10.0.0.0/8" {
		t.Errorf("option mynetworks = %q %v", v, ok)
	}
}

func (e *testEnv) postconfN(t *testing.T) string {
	t.Helper()
	out, _, err := e.m.Postfix().Run(context.Background(), nil, "postconf", "-n")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
