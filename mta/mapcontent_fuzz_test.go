package mta

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"postdeck/store"
)

// fuzzMapNames are the names FuzzMapContent saves under: a map without
// meaning checks, and every default map whose rules postdeck checks.
var fuzzMapNames = []string{"x", MapVirtualAlias, MapTLSPolicy, MapSASLPasswords, MapRecipientAccess, MapTransport}

// fuzzMapContext is what the meaning checks see: the master.cf postdeck
// renders with the MPA wired, and one restriction class.
func fuzzMapContext(t testing.TB) *mapContext {
	master, err := renderMaster(Instance{SMTPListen: "127.0.0.1:2525", MPAListen: "127.0.0.1:10025", ReinjectListen: "127.0.0.1:10026"}, "")
	if err != nil {
		t.Fatal(err)
	}
	return newMapContext(master, []Param{{Name: "smtpd_restriction_classes", Value: "partners"}})
}

// FuzzMapContent checks validateMapContent, the check every map save runs
// (the syntax of its type, then the meaning of each rule of a default
// map), on any content: it never panics, and a refusal is a
// *store.UserError on field "content" that names a line of the content
// (line 0 only when the whole content is over a size limit) and starts
// with "Line N: ".
func FuzzMapContent(f *testing.F) {
	seeds := []struct {
		name, typ, content string
	}{
		{"x", "hash", ""},
		{"x", "hash", "a b\n  continued value\nc d\n"},
		{"x", "hash", "a b\nnovalue\n"},
		{"x", "hash", "a b\nA c\n"},
		{"x", "btree", "  leading continuation\n"},
		{"x", "hash", "a b\r\n"},
		{"x", "hash", "a\x00 b\n"},
		{"x", "hash", "k " + strings.Repeat("v", maxMapLineSize) + "\n"},
		{"x", "cidr", "# comment\n10.0.0.0/8 OK\n!192.0.2.0/24 REJECT\nIF 172.16.0.0/12\n172.16.1.0/24 DUNNO\nENDIF\n[2001:db8::]/32 OK\n192.0.2.1 OK\n"},
		{"x", "cidr", "10.1.2.3/8 OK\n"},
		{"x", "cidr", "1.2.3.4/33 OK\n"},
		{"x", "cidr", "fe80::1%eth0 OK\n"},
		{"x", "cidr", "IF 10.0.0.0/8\n10.1.0.0/16 OK\n"},
		{"x", "cidr", "ENDIF\n"},
		{"x", "pcre", "/^user@example\\.com$/ OK\n!/x/i REJECT no\nIF /a/\n/b\\/c/ $1\nENDIF\n#/x/\n"},
		{"x", "pcre", "/x/q OK\n"},
		{"x", "pcre", "/unterminated OK\n"},
		{"x", "pcre", "abc def\n"},
		{"x", "pcre", "!\n"},
		{"x", "regexp", "/^(.*)@example\\.com$/ $1@example.org\n"},
		{"x", "regexp", "IF /a/\nIF /b/\n/c/ OK\nENDIF\n"},
		{"x", "regexp", "|a\\|b| OK\n"},
		{MapTLSPolicy, "hash", "example.test:25 verify\n[tls.example.com] verify match=alternative.com\n.example.org secure match=nexthop:dot-nexthop ciphers=high protocols=>=TLSv1.2\n"},
		{MapTLSPolicy, "hash", "example.test fingerprint\n"},
		{MapTLSPolicy, "hash", "[mx.example.test]:99999 verify\n"},
		{MapTLSPolicy, "pcre", "/./ may\n"},
		// Found by this fuzzer: a value of white space other than blanks
		// and tabs made checkTLSPolicy index an empty field list (a panic).
		{MapTLSPolicy, "hash", "example.test \v\n"},
		{MapTLSPolicy, "regexp", "/x/ \u00a0\n"},
		{MapTransport, "hash", "abuse@partner.example.com smtp:[abuse.smtp.example.com]:1234\n.example.org relay:mail.example.org:2525\nold.example error:5.1.1 mailbox gone\n* smtp:[127.0.0.1]:2526\nv6.example smtp:[ipv6:2001:db8::1]:25\n"},
		{MapTransport, "hash", "example.test mail.example.test\n"},
		{MapTransport, "hash", "example.test [relay.example.test]\n"},
		{MapTransport, "hash", "example.test lmtp:unix:/run/lmtp\n"},
		{MapRecipientAccess, "hash", "user@example.test REJECT no such user\nother@example.test 550 5.1.1 gone\nbcc@example.test BCC archive@example.test\np@example.test PREPEND X-Tag: yes\nx@example.test permit_mynetworks, reject\ny@example.test partners\nz@example.test FILTER mpa:[127.0.0.1]:10025\n"},
		{MapRecipientAccess, "hash", "user@example.test 600 odd\n"},
		{MapRecipientAccess, "regexp", "/./ FILTER nosuch:x\n"},
		{MapSASLPasswords, "hash", "[smtp.example.com]    test:secret\nexample.org:587 u:p w\nsender@example.test u2:p2\n"},
		{MapSASLPasswords, "hash", "[smtp.example.test] :secret\n"},
		{MapVirtualAlias, "hash", "root tech@example.com\n@example.test catch@example.org, other@example.org\nexample.net anything\n"},
		{MapVirtualAlias, "hash", "a@example.test b@@example.test\n"},
		{MapVirtualAlias, "pcre", "/(.*)@old\\.example/ $1@new.example\n"},
	}
	for _, s := range seeds {
		f.Add(uint8(fuzzIndex(fuzzMapNames, s.name)), uint8(fuzzIndex(MapTypes, s.typ)), s.content)
	}
	mc := fuzzMapContext(f)
	f.Fuzz(func(t *testing.T, nameIdx, typIdx uint8, content string) {
		mp := store.Map{
			Name:    fuzzMapNames[int(nameIdx)%len(fuzzMapNames)],
			Type:    MapTypes[int(typIdx)%len(MapTypes)],
			Content: content,
		}
		err := validateMapContent(mp, mc)
		if err == nil {
			return
		}
		var ue *store.UserError
		if !errors.As(err, &ue) {
			t.Fatalf("map %s (%s) %q: error is %T (%v), not a *store.UserError", mp.Name, mp.Type, content, err, err)
		}
		if !errors.Is(err, store.ErrInvalid) || ue.Field != FieldMapContent || ue.Msg == "" {
			t.Fatalf("map %s (%s) %q: kind %v, field %q, sentence %q; want invalid input on %q", mp.Name, mp.Type, content, ue.Kind, ue.Field, ue.Msg, FieldMapContent)
		}
		n := lineCount(content)
		switch {
		case ue.Line == 0:
			if len(content) <= maxMapBytes && n <= maxMapLines {
				t.Fatalf("map %s (%s) %q: the error names no line: %s", mp.Name, mp.Type, content, ue.Msg)
			}
		case ue.Line < 0 || ue.Line > n:
			t.Fatalf("map %s (%s) %q: the error names line %d of %d: %s", mp.Name, mp.Type, content, ue.Line, n, ue.Msg)
		case !strings.HasPrefix(ue.Msg, "Line "+strconv.Itoa(ue.Line)+": "):
			t.Fatalf("map %s (%s): the error on line %d does not start with its line: %q", mp.Name, mp.Type, ue.Line, ue.Msg)
		}
	})
}

func fuzzIndex(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	panic("fuzzIndex: " + s + " is not listed")
}
