package webui

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postdeck/mta"
	"postdeck/postfix/postfixtest"
)

// badInput is one request that must be refused with 400 naming field.
type badInput struct {
	name  string
	path  string // /api/v1/settings, /api/v1/mainconfig or /api/v1/mastercfg
	body  any
	field string
	line  int // for the main config document, the line the error names
}

func settingsWith(base map[string]any, key string, value any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	out[key] = value
	return out
}

func badInputs(base map[string]any) []badInput {
	var cases []badInput
	set := func(field string, values ...any) {
		for _, v := range values {
			cases = append(cases, badInput{name: fmt.Sprintf("%s=%.40v", field, v), path: "/api/v1/settings", body: settingsWith(base, field, v), field: field})
		}
	}
	set("hostname", "", "localhost", "mail.example.com.", "Mail.Example.com", "mail_1.example.com",
		"-mail.example.com", "mail-.example.com", "mail..example.com", "192.0.2.1",
		strings.Repeat("a", 64)+".example.com", "mail example.com", "mail.exa$mple.com",
		strings.Repeat("abcdefghi.", 30)+"com")
	set("relay_domains", []string{"exa mple.com"}, []string{"-bad.example.com"}, []string{"a..b"},
		[]string{"dup.example.com", "DUP.example.com"}, []string{"exam/ple.com"}, "example.com",
		make1001Domains(), []string{"hsah:/etc/postfix/relay_domains"}, []string{"hash:relay_domains"},
		[]string{"map:no such map"}, []string{"map:no-such-map"}, []string{"unionmap:{hash:/etc/postfix/a"},
		[]string{"proxy:/etc/postfix/relay.cf"}, []string{"/etc/postfix/../relay"}, []string{"$"})
	set("external_relay_host", "https://relay.example.com:25", "[relay.example.com", "[relay.example.com]x",
		"relay.example.com:0", "relay.example.com:65536", "relay.example.com:abc", "relay.example.com, relay2.example.com:0",
		"2001:db8::1:25", "[]:25", "relay.example.com:", "a.example.com,A.example.com", strings.Repeat("r.example.com:25 ", 9))
	set("internal_relay_host", "https://internal.example.com:25", "[internal.example.com]:99999", "[fe80::1%eth0]:25", "smtp://x")
	set("unverified_recipient_reject_code", 0, 399, 600, 250, 5500, "550")
	set("relay_transport", "bad transport", "relay:[10.0.0.1]", "no-such-service")
	set("my_networks", []string{"10.1.2.3/8"}, []string{"0.0.0.0/0"}, []string{"::/0"}, []string{"10.0.0.0/33"},
		[]string{"0.0.0.0/1", "128.0.0.0/1"}, // every address: the open-relay probe
		[]string{"not-a-net"}, []string{"10.0.0.0/8", "10.0.0.0/8"}, []string{"fe80::1%eth0/64"},
		[]string{"2001:db8::1/32"}, []string{"300.1.1.1/32"}, []string{"::ffff:10.0.0.0/80"},
		[]string{"nosuchtype:/etc/postfix/trusted"}, []string{"map:no-such-map"}, []string{"cidr:/a", "cidr:/a"},
		make1001Networks())
	// Networks that hold every address are risky first (409 until
	// confirmed); confirmed, the open-relay probe refuses them.
	for i := range cases {
		if cases[i].name == fmt.Sprintf("%s=%.40v", "my_networks", []string{"0.0.0.0/1", "128.0.0.0/1"}) {
			cases[i].body.(map[string]any)["confirm"] = true
		}
	}
	set("message_size_limit", 0, -1, int64(5)<<30, "abc", 1.5)
	set("helo_name", "mail", "[203.0.113.256]", "[IPv6:zz]", "203.0.113.25", "[IPv6:203.0.113.25]",
		"Helo.Example.com", "helo.example.com.", "[203.0.113.25")
	set("reject_unverified_recipient", "yes")
	cases = append(cases, badInput{name: "unknown field", path: "/api/v1/settings", body: settingsWith(base, "smtpd_banner", "x"), field: "smtpd_banner"})
	cases = append(cases, badInput{name: "not json", path: "/api/v1/settings", body: "{hostname:", field: "body"})

	doc := func(name, text string, line int) {
		cases = append(cases, badInput{name: "mainconfig " + name, path: "/api/v1/mainconfig", body: map[string]string{"text": text}, field: mta.FieldMainConfig, line: line})
	}
	base2 := mta.DefaultMainConfig
	n := strings.Count(base2, "\n")
	// Over the size bounds (256 KiB each): refused before anything is read.
	cases = append(cases, badInput{name: "mainconfig of 256 KiB + 1", path: "/api/v1/mainconfig", field: mta.FieldMainConfig,
		body: map[string]string{"text": base2 + "#" + strings.Repeat("x", 256<<10-len(base2)) + "\n"}})
	doc("managed myhostname", base2+"myhostname = mx.example.com\n", n+1)
	doc("managed relayhost", base2+"relayhost = [relay.example.com]\n", n+1)
	doc("managed mynetworks", base2+"mynetworks = 0.0.0.0/0\n", n+1)
	doc("managed message_size_limit", base2+"message_size_limit = 1\n", n+1)
	doc("managed queue_directory", base2+"queue_directory = /tmp\n", n+1)
	doc("no equals sign", base2+"this line has no equals sign\n", n+1)
	doc("leading continuation", "  continued = nothing\n"+base2, 1)
	doc("unknown parameter", base2+"foo_bar_baz = 1\n", n+1)
	doc("bad time", base2+"smtpd_timeout = abc\n", n+1)
	doc("bad boolean", base2+"smtpd_helo_required = maybe\n", n+1)
	doc("bad number", base2+"default_process_limit = lots\n", n+1)
	doc("duplicate", base2+"biff = yes\n", n+1)
	doc("missing map", base2+"canonical_maps = hash:/nonexistent/canonical\n", n+1)
	doc("unknown map type", base2+"sender_canonical_maps = nosuchtype:/etc/postfix/x\n", n+1)
	doc("bad name", base2+"bad-name = 1\n", n+1)
	doc("NUL byte", base2+"biff2\x00 = 1\n", n+1)
	doc("oversized", base2+"# "+strings.Repeat("x", 300<<10)+"\n", 0)
	doc("missing default map after edit", strings.Replace(base2, "hash.transport-maps.map", "hash.no-such-map.map", 1), 0)

	// Issue 13, finding 14 and its neighbours: the Edit Main Config guards.
	lineOf := func(text, prefix string) int {
		for i, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, prefix) {
				return i + 1
			}
		}
		return 0
	}
	openRelay := strings.Replace(strings.Replace(base2,
		"smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination", "smtpd_relay_restrictions = permit", 1),
		"smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,", "smtpd_recipient_restrictions = check_client_access static:OK, reject_unauth_destination,", 1)
	doc("open relay (the probe)", openRelay, lineOf(openRelay, "smtpd_relay_restrictions"))
	noRelayRestrictions := "compatibility_level = 3.6\nsmtpd_relay_restrictions =\n"
	doc("no working relay restriction: smtpd dies (finding 6)", noRelayRestrictions, 2)
	// Without reject_unauth_destination these are risky first (409 until
	// confirmed); confirmed, Postfix's smtpd refuses them.
	for i := range cases {
		if c := &cases[i]; c.name == "mainconfig open relay (the probe)" || strings.HasPrefix(c.name, "mainconfig no working relay restriction") {
			c.body = map[string]any{"text": c.body.(map[string]string)["text"], "confirm": true}
		}
	}
	doc("smtpd whose SASL cannot start", base2+"smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = bogus\n", 0)
	// The verify restriction in the document is refused only while the
	// settings switch is on (mta TestRestrictionNamesCompareWithoutCase).
	doc("managed name in other case", base2+"MyNetworks = 0.0.0.0/0\n", n+1)
	doc("table outside the config directory", base2+"header_checks = regexp:/etc/shadow\n", n+1)
	doc("table through ..", base2+"body_checks = regexp:$config_directory/../../../../../etc/shadow\n", n+1)
	doc("missing certificate", base2+"smtpd_tls_cert_file = /nonexistent/cert.pem\n", n+1)
	doc("relative CA file", base2+"smtpd_tls_CAfile = ca.pem\n", n+1)
	for _, inst := range []string{"daemon_directory = /some/dir", "DAEMON_DIRECTORY = /some/dir", "command_directory = /tmp",
		"shlib_directory = /tmp", "meta_directory = /tmp", "import_environment = LD_PRELOAD=/tmp/x.so",
		"export_environment = LD_PRELOAD=/tmp/x.so", "mailbox_command = /usr/bin/id", "allow_mail_to_commands = alias, forward, include",
		"allow_mail_to_files = alias, forward, include", "default_privs = root", "mail_owner = root", "setgid_group = root",
		"sendmail_path = /tmp/sendmail", "forward_path = /tmp/forward", "local_command_shell = /bin/bash", "debugger_command = /bin/sh",
		"master_service_disable = inet"} {
		doc("installation "+inst, base2+inst+"\n", n+1)
	}
	return cases
}

func make1001Domains() []string {
	out := make([]string, 1001)
	for i := range out {
		out[i] = fmt.Sprintf("d%d.example.com", i)
	}
	return out
}

func make1001Networks() []string {
	out := make([]string, 1001)
	for i := range out {
		out[i] = fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)
	}
	return out
}

// TestBadInputsLeaveEverythingAsItWas is the Core issue's corpus: every bad
// settings field or main config document gets 400 with a sentence naming
// the field (and the line), and Postfix's live files stay byte-identical.
func TestBadInputsLeaveEverythingAsItWas(t *testing.T) {
	st := newStack(t)
	resp := st.socketDo(t, "GET", "/api/v1/settings", nil)
	var base map[string]any
	resp.decode(t, &base)
	delete(base, "version") // every bad input is checked on its own, unconditionally
	base["hostname"] = "mx.gw.example.test"
	if r := st.socketDo(t, "PUT", "/api/v1/settings", base); r.Status != 200 {
		t.Fatalf("valid settings refused: %d %s", r.Status, r.Body)
	}
	before := st.liveFiles(t)
	cases := badInputs(base)
	// A private key every user of the machine may read.
	keyFile := filepath.Join(postfixtest.Dir(t), "key.pem")
	if err := os.WriteFile(keyFile, []byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	n := strings.Count(mta.DefaultMainConfig, "\n")
	cases = append(cases, badInput{name: "mainconfig world-readable key", path: "/api/v1/mainconfig", field: mta.FieldMainConfig, line: n + 1,
		body: map[string]string{"text": mta.DefaultMainConfig + "smtpd_tls_key_file = " + keyFile + "\n"}})
	// The live master config, valid, padded past 256 KiB: refused for its
	// size alone.
	var master struct{ Text string }
	st.socketDo(t, "GET", "/api/v1/mastercfg", nil).decode(t, &master)
	if !strings.Contains(master.Text, "smtpd") {
		t.Fatalf("the master config: %q", master.Text)
	}
	cases = append(cases, badInput{name: "mastercfg of 256 KiB + 1", path: "/api/v1/mastercfg", field: mta.FieldMasterConfig,
		body: map[string]string{"text": master.Text + "#" + strings.Repeat("x", 256<<10-len(master.Text)) + "\n"}})
	if len(cases) < 60 {
		t.Fatalf("only %d bad inputs", len(cases))
	}
	for _, tc := range cases {
		r := st.socketDo(t, "PUT", tc.path, tc.body)
		var e apiError
		if err := json.Unmarshal(r.Body, &e); err != nil {
			t.Errorf("%s: answer is not JSON: %s", tc.name, r.Body)
			continue
		}
		if r.Status != 400 {
			t.Errorf("%s: status %d (%s), want 400", tc.name, r.Status, e.Error)
			continue
		}
		if e.Field != tc.field || e.Error == "" {
			t.Errorf("%s: field %q error %q, want field %q", tc.name, e.Field, e.Error, tc.field)
		}
		checkSentence(t, tc.name, e)
		if tc.line > 0 && (e.Line != tc.line || !strings.Contains(e.Error, fmt.Sprintf("Line %d", tc.line))) {
			t.Errorf("%s: line %d, error %q; want line %d", tc.name, e.Line, e.Error, tc.line)
		}
		if strings.Contains(e.Error, st.inst.ConfigDir+"/.postdeck") {
			t.Errorf("%s: error leaks the staging path: %q", tc.name, e.Error)
		}
		if which, ok := sameFiles(before, st.liveFiles(t)); !ok {
			t.Fatalf("%s: live files changed (%s)", tc.name, which)
		}
	}
	t.Logf("%d bad inputs refused, live files byte-identical", len(cases))
	if r := st.socketDo(t, "GET", "/api/v1/settings", nil); !strings.Contains(string(r.Body), "mx.gw.example.test") {
		t.Fatalf("stored settings changed: %s", r.Body)
	}
}
