package mta

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

func testMapContext() *mapContext {
	master, err := renderMaster(Instance{SMTPListen: "127.0.0.1:2525", MPAListen: "127.0.0.1:10025", ReinjectListen: "127.0.0.1:10026"}, "")
	if err != nil {
		panic(err)
	}
	return newMapContext(master, []Param{{Name: "smtpd_restriction_classes", Value: "partners"}})
}

// badMaps are inputs every map save must refuse, with the line the error
// must name (0: the whole content). Shared with the API acceptance test.
var badMapCases = []struct {
	name, typ, content string
	line               int
}{
	// A carriage return inside a line (CRLF line ends are normalised
	// before this) or a NUL: refused on their line.
	{"t-hash", "hash", "a.example OK\nb.ex\rample OK\n", 2},
	{"t-cidr", "cidr", "10.0.0.0/8 OK\n\n192.0.2.0/24 RE\x00JECT\n", 3},
	// Duplicate keys, folded as Postfix folds hash and btree keys.
	{"t-hash", "hash", "a.example OK\nb.example OK\nA.Example REJECT\n", 3},
	{"t-btree", "btree", "x y\n# c\n\nz w\nx  v\n", 5},
	{"t-hash", "hash", "\u00c4.example OK\n\u00e4.example OK\n", 2},
	{"t-cidr", "cidr", "10.0.0.0/8 OK\n10.1.2.3/8 REJECT\n", 2},
	{"t-cidr", "cidr", "192.168.1.0/16 OK\n", 1},
	{"t-cidr", "cidr", "1.2.3.4/33 OK\n", 1},
	{"t-cidr", "cidr", "2001:db8::1/32 OK\n", 1},
	{"t-cidr", "cidr", "# ok\n300.1.2.3 OK\n", 2},
	{"t-cidr", "cidr", "10.0.0.0/8\n", 1},
	{"t-cidr", "cidr", "example.com OK\n", 1},
	{"t-cidr", "cidr", "IF 10.0.0.0/8\n10.1.0.0/16 OK\n", 1},
	{"t-cidr", "cidr", "10.0.0.0/8 OK\nENDIF\n", 2},
	{"t-cidr", "cidr", "10.0.0.0/x OK\n", 1},
	{"t-pcre", "pcre", "/abc(/ REJECT\n", 1},
	{"t-pcre", "pcre", "/ok/ OK\n/a[b/ REJECT\n", 2},
	{"t-pcre", "pcre", "/ok/ OK\nIF /^a/\n/b/ OK\n", 2},
	{"t-pcre", "pcre", "ENDIF\n", 1},
	{"t-pcre", "pcre", "/missing-value/\n", 1},
	{"t-pcre", "pcre", "/x/q OK\n", 1},
	{"t-pcre", "pcre", "/unterminated OK\n", 1},
	{"t-pcre", "pcre", "abc def\n", 1},
	{"t-pcre", "pcre", "/(a)/ $2\n", 1},
	{"t-regexp", "regexp", "/a(/ OK\n", 1},
	{"t-regexp", "regexp", "/ok/ OK\n/x/s OK\n", 2},
	{"t-regexp", "regexp", "IF /a/\nIF /b/\n/c/ OK\nENDIF\n", 1},
	{"t-regexp", "regexp", "/a{2,1}/ OK\n", 1},
	// Postfix's macro parser names no line; the table reader's next
	// warning does.
	{"t-pcre", "pcre", "/ok/ OK\n/a/ ${1\n", 2},
	{"t-regexp", "regexp", "/ok/ OK\n\n/a/ $\n", 3},
	{"t-hash", "hash", "a b\nnovalue\n", 2},
	{"t-hash", "hash", "a b\nc d\nA e\n", 3},
	{"t-hash", "hash", "  leading continuation\n", 1},
	{"t-hash", "hash", "a b\nx\x00 y\n", 2},
	{"t-btree", "btree", "k v\nk w\n", 2},
	{"t-btree", "btree", "k " + strings.Repeat("x", 5000) + "\n", 1},
	{"tls-policy", "hash", "example.test:25 verify\nexample.org sure\n", 2},
	{"tls-policy", "hash", "example.test verify match=\n", 1},
	{"tls-policy", "hash", "example.test may match=example.test\n", 1},
	{"tls-policy", "hash", "example.test fingerprint\n", 1},
	{"tls-policy", "hash", "example.test secure ciphers=extreme\n", 1},
	{"tls-policy", "hash", "example.test encrypt protocols=TLSv9\n", 1},
	{"tls-policy", "hash", "[mx.example.test]:99999 verify\n", 1},
	{"tls-policy", "hash", "example.test verify colour=blue\n", 1},
	{"transport-maps", "hash", "example.test smtp:[relay.example.test]:25\npartner.example.com [tls.smtp.example.com]:1234\n", 2},
	{"transport-maps", "hash", "example.test nosuch:[relay.example.test]\n", 1},
	{"transport-maps", "hash", "example.test smtp:[relay.example.test]:0\n", 1},
	{"transport-maps", "hash", "example.test smtp:[relay.example.test\n", 1},
	{"transport-maps", "hash", "example.test smtp:bad_host!name\n", 1},
	{"transport-maps", "hash", "bad!key smtp:\n", 1},
	{"transport-maps", "hash", "example.test mail.example.test\n", 1},
	{"check-recipient-access", "hash", "user@example.test ACCEPT\n", 1},
	{"check-recipient-access", "hash", "user@example.test BCC\n", 1},
	{"check-recipient-access", "hash", "user@example.test BCC not an address\n", 1},
	{"check-recipient-access", "hash", "user@example.test PREPEND no header\n", 1},
	{"check-recipient-access", "hash", "user@example.test OK please\n", 1},
	{"check-recipient-access", "hash", "user@example.test 600 odd\n", 1},
	{"check-recipient-access", "hash", "user@example.test FILTER nosuch:[127.0.0.1]:10025\n", 1},
	{"smtp-sasl-password_maps", "hash", "[smtp.example.test] user-without-password\n", 1},
	{"smtp-sasl-password_maps", "hash", "[smtp.example.test] :secret\n", 1},
	{"smtp-sasl-password_maps", "hash", "[smtp.example.test] user:\n", 1},
	{"virtual-alias-maps", "hash", "root tech@exa_mple..com\n", 1},
	{"virtual-alias-maps", "hash", "root <tech@example.test>\n", 1},
	{"virtual-alias-maps", "hash", "a@example.test b@@example.test\n", 1},
	{"virtual-alias-maps", "hash", "@bad..domain x@example.test\n", 1},
}

// postfixOnly are cases only Postfix's own parser finds (regex compile
// errors): the unit test cannot see them.
func postfixOnly(content string) bool {
	return strings.Contains(content, "/abc(/") || strings.Contains(content, "/a[b/") ||
		strings.Contains(content, "/a(/") || strings.Contains(content, "$2") || strings.Contains(content, "{2,1}") ||
		strings.Contains(content, "${1") || strings.Contains(content, " $\n")
}

func TestValidateMapContentRefuses(t *testing.T) {
	mc := testMapContext()
	for i, tc := range badMapCases {
		if postfixOnly(tc.content) {
			continue
		}
		err := validateMapContent(store.Map{Name: tc.name, Type: tc.typ, Content: tc.content}, mc)
		var fe *store.UserError
		if !errors.As(err, &fe) {
			t.Errorf("case %d (%s %q): err = %v, want a field error", i, tc.name, tc.content, err)
			continue
		}
		if fe.Line != tc.line {
			t.Errorf("case %d (%s %q): line %d, want %d: %s", i, tc.name, tc.content, fe.Line, tc.line, fe.Msg)
		}
		t.Logf("case %d: %s", i, fe.Msg)
	}
}

func TestValidateMapContentAccepts(t *testing.T) {
	mc := testMapContext()
	good := []store.Map{
		{Name: "x", Type: "cidr", Content: "# comment\n10.0.0.0/8 OK\n!192.0.2.0/24 REJECT\nIF 172.16.0.0/12\n172.16.1.0/24 DUNNO\nENDIF\n[2001:db8::]/32 OK\n192.0.2.1 OK\n"},
		{Name: "x", Type: "pcre", Content: "/^user@example\\.com$/ OK\n!/x/i REJECT no\nIF /a/\n/b\\/c/ $1\nENDIF\n#/x/\n"},
		{Name: "x", Type: "regexp", Content: "/^(.*)@example\\.com$/ $1@example.org\n"},
		{Name: "x", Type: "hash", Content: "a b\n  continued value\nc d\n"},
		{Name: "tls-policy", Type: "hash", Content: "example.test:25 verify\n[tls.example.com] verify match=alternative.com\n.example.org secure match=nexthop:dot-nexthop ciphers=high protocols=>=TLSv1.2\nexample.net encrypt protocols=!SSLv2,!SSLv3\n[mx.example.net]:587 fingerprint match=3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1|EC:3B:2D:B0:5B:B1:E9:CE:F3:E5:A9:7F:C0:E9:C8:B2\nexample.com none\nexample.info dane-only\n"},
		{Name: "transport-maps", Type: "hash", Content: "abuse@partner.example.com smtp:[abuse.smtp.example.com]:1234\npartner.example.com smtp:[tls.smtp.example.com]\n.example.org relay:mail.example.org:2525\nold.example error:5.1.1 mailbox gone\nexample.net :[10.0.0.1]\n* smtp:[127.0.0.1]:2526\nv6.example smtp:[ipv6:2001:db8::1]:25\n"},
		{Name: "check-recipient-access", Type: "hash", Content: "user@example.test REJECT no such user\nother@example.test 550 5.1.1 gone\nbcc@example.test BCC archive@example.test\np@example.test PREPEND X-Tag: yes\nexample.com OK\nx@example.test permit_mynetworks, reject\ny@example.test partners\nz@example.test FILTER mpa:[127.0.0.1]:10025\nn@example.test 12345\nd@example.test defer_if_permit\n"},
		{Name: "smtp-sasl-password_maps", Type: "hash", Content: "[smpt.example.com]    test:notsosecretpassword\nexample.org:587 u:p w\nsender@example.test u2:p2\n"},
		{Name: "virtual-alias-maps", Type: "hash", Content: "root tech@example.com\n@example.test catch@example.org, other@example.org\nexample.net anything\nuser@example.test localuser\n"},
	}
	for _, mp := range good {
		if err := validateMapContent(mp, mc); err != nil {
			t.Errorf("%s (%s): %v", mp.Name, mp.Type, err)
		}
	}
}

func TestMaskSecrets(t *testing.T) {
	mp := store.Map{Name: MapSASLPasswords, Content: "# c\n[a.example]  u:secret1\nb.example u2:sec ret2\n"}
	got := MaskSecrets(mp).Content
	want := "# c\n[a.example]  u:********\nb.example u2:********\n"
	if got != want {
		t.Fatalf("masked %q, want %q", got, want)
	}
	back, err := keepMaskedPasswords(mp.Name, got+"c.example u3:new\n", mp.Content)
	if err != nil {
		t.Fatal(err)
	}
	if back != mp.Content+"c.example u3:new\n" {
		t.Fatalf("unmasked %q", back)
	}
	if _, err := keepMaskedPasswords(mp.Name, "d.example u:********\n", mp.Content); err == nil {
		t.Fatal("a masked password with no stored one was accepted")
	}
}

func TestRefersTo(t *testing.T) {
	f := MapFile("hash", "x")
	for text, want := range map[string]bool{
		"hash:$config_directory/maps.d/hash.x.map":       true,
		"hash:/etc/postfix/maps.d/hash.x.map, hash:/y":   true,
		"hash:$config_directory/maps.d/hash.x.map2":      false,
		"hash:$config_directory/maps.d/hash.xx.map":      false,
		"hash:$config_directory/other-maps.d/hash.x.map": false,
	} {
		if got := refersTo(text, f); got != want {
			t.Errorf("refersTo(%q) = %v", text, got)
		}
	}
}

// TestTextBounds holds the size bounds of what an administrator pastes at
// their edges: a map of 200,000 lines is taken and one more line is
// refused (line 0: the whole content), and a main config of 256 KiB is
// parsed while one byte more is refused with a sentence that names the
// field and both sizes.
func TestTextBounds(t *testing.T) {
	var b strings.Builder
	for i := range maxMapLines {
		fmt.Fprintf(&b, "k%d v\n", i)
	}
	lines := b.String()
	if _, lerr := parseMapContent("hash", lines); lerr != nil {
		t.Fatalf("%d lines: %+v", maxMapLines, lerr)
	}
	_, lerr := parseMapContent("hash", lines+"one more\n")
	if lerr == nil || lerr.line != 0 || lerr.msg != "the content has 200001 lines; at most 200000 are allowed" {
		t.Fatalf("%d lines: %+v", maxMapLines+1, lerr)
	}

	head := "myhostname = mx.example.test\n"
	text := head + "#" + strings.Repeat("x", maxMainConfig-len(head)-2) + "\n"
	if params, err := ParseMainConfig(text); err != nil || len(params) != 1 {
		t.Fatalf("a main config of %d bytes: %v", len(text), err)
	}
	_, err := ParseMainConfig(text + "\n")
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Field != FieldMainConfig || err.Error() != "The main config is 262145 bytes; at most 262144 are allowed." {
		t.Fatalf("a main config of %d bytes: %v", len(text)+1, err)
	}
}

// TestSecretMapVersion: the SASL password map's version depends on what
// every role sees (the masked content) and when it was saved, never on
// the passwords; other maps' versions are digests of their content.
func TestSecretMapVersion(t *testing.T) {
	at := time.Date(2026, 12, 5, 4, 0, 0, 123456789, time.UTC)
	a := store.Map{Name: MapSASLPasswords, Type: "hash", Content: "[relay.example] user:guess-me\n", Updated: at}
	b := a
	b.Content = "[relay.example] user:other\n"
	if MapVersion(a) != MapVersion(b) {
		t.Error("two passwords behind the same masked content give different versions")
	}
	c := a
	c.Updated = at.Add(time.Nanosecond)
	if MapVersion(a) == MapVersion(c) {
		t.Error("a save a nanosecond later kept the version")
	}
	d := a
	d.Content = "[relay.example] user2:guess-me\n"
	if MapVersion(a) == MapVersion(d) {
		t.Error("a changed user name kept the version")
	}
	plain := store.Map{Name: "transport", Type: "hash", Content: "x.example smtp:[a]\n", Updated: at}
	later := plain
	later.Updated = at.Add(time.Hour)
	if MapVersion(plain) != MapVersion(later) || MapVersion(plain) != store.DocVersion([]byte("hash"), []byte(plain.Content)) {
		t.Error("another map's version is not the digest of its type and content")
	}
}

// TestSecretMapRefusalsQuoteNothing: a refusal of a line of a map that
// holds passwords quotes none of its text, whatever the table type (a
// pattern map's refusals quote what follows the pattern); another map's
// refusal keeps the text, which helps.
func TestSecretMapRefusalsQuoteNothing(t *testing.T) {
	mc := testMapContext()
	const secret = "Pcre-s3cret-pw"
	for _, content := range []string{
		"/relay\\.example\\.test user:" + secret + "\n",
		"relay.example.test/ user:" + secret + "\n",
		"[relay.example.test]:587user:" + secret + "\n",
	} {
		for _, typ := range []string{"pcre", "regexp", "hash"} {
			err := validateMapContent(store.Map{Name: MapSASLPasswords, Type: typ, Content: content}, mc)
			var fe *store.UserError
			if !errors.As(err, &fe) || fe.Line != 1 || strings.Contains(fe.Msg, secret) {
				t.Errorf("%s %q: %v", typ, content, err)
			}
		}
	}
	err := validateMapContent(store.Map{Name: "x", Type: "pcre", Content: "/relay\\.example\\.test user:pw\n"}, mc)
	if err == nil || !strings.Contains(err.Error(), "relay") {
		t.Errorf("another map's refusal: %v", err)
	}
}
