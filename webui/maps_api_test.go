package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"postdeck/mta"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// postmapQuery asks Postfix directly what the live file of a map answers.
func (st *stack) postmapQuery(t *testing.T, typ, name, key string) (string, bool) {
	t.Helper()
	cmd := exec.Command(filepath.Join(postfixtest.SbinDir, "postmap"), "-c", st.inst.ConfigDir, "-q", key, typ+":"+st.inst.MapPath(typ, name))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if strings.Contains(stderr.String(), "warning:") || strings.Contains(stderr.String(), "fatal:") {
		t.Fatalf("postmap -q %s %s:%s: %s", key, typ, name, stderr.String())
	}
	return strings.TrimSpace(string(out)), err == nil
}

type mapErrorBody struct {
	Error string `json:"error"`
	Field string `json:"field"`
	Line  int    `json:"line"`
}

func mapPath(name string) string { return "/api/v1/maps/" + url.PathEscape(name) }

// TestMapsAPI is the Maps acceptance test: one daemon stack, with the real
// Postfix, for every part.
func TestMapsAPI(t *testing.T) {
	st := newStack(t)
	for _, part := range []struct {
		name string
		run  func(*testing.T, *stack)
	}{
		{"RefusesBadMaps", testMapsRefusesBadMaps},
		{"EveryTypeIsLive", testMapsEveryTypeIsLive},
		{"TransportRoutesMail", testMapsTransportRoutesMail},
		{"SASLPasswordsNeverShown", testMapsSASLPasswordsNeverShown},
		{"DeleteAndRetype", testMapsDeleteAndRetype},
		{"Pages", testMapsPages},
		{"Browser", testMapsBrowser},
	} {
		t.Run(part.name, func(t *testing.T) { part.run(t, st) })
	}
}

func testMapsEveryTypeIsLive(t *testing.T, st *stack) {
	var list struct {
		Items []mta.MapInfo `json:"items"`
	}
	r := st.socketDo(t, "GET", "/api/v1/maps", nil)
	if r.Status != 200 {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	r.decode(t, &list)
	defaults := map[string]bool{}
	for _, it := range list.Items {
		defaults[it.Name] = true
		if it.Name == mta.MapTLSPolicy && (it.Type != "hash" || it.File != st.inst.MapPath("hash", mta.MapTLSPolicy) || it.Owner != store.OwnerAdmin || it.Updated.IsZero()) {
			t.Errorf("list item %+v", it)
		}
	}
	for _, n := range mta.DefaultMapNames {
		if !defaults[n] {
			t.Errorf("default map %s not listed", n)
		}
	}
	cases := []struct{ name, typ, content, key, want string }{
		{"api-hash", "hash", "a.example.test one\nb.example.test two\n", "b.example.test", "two"},
		{"api-btree", "btree", "k1 v1\nk2 v2\n", "k1", "v1"},
		{"api-cidr", "cidr", "10.0.0.0/8 REJECT ten\n", "10.1.2.3", "REJECT ten"},
		{"api-pcre", "pcre", "/^(.+)@old\\.example$/ $1@new.example\n", "joe@old.example", "joe@new.example"},
		{"api-regexp", "regexp", "/^x-([a-z]+)$/ found-$1\n", "x-abc", "found-abc"},
		{mta.MapTLSPolicy, "hash", "example.test:25 verify\n[tls.example.com] verify match=alternative.com\n", "example.test:25", "verify"},
		{mta.MapRecipientAccess, "hash", "blocked@example.test REJECT no such user\n", "blocked@example.test", "REJECT no such user"},
		{mta.MapVirtualAlias, "hash", "root tech@example.com\n", "root", "tech@example.com"},
	}
	for _, tc := range cases {
		r := st.socketDo(t, "PUT", mapPath(tc.name), map[string]string{"type": tc.typ, "content": tc.content})
		if r.Status != 200 {
			t.Fatalf("put %s: %d %s", tc.name, r.Status, r.Body)
		}
		if got, ok := st.postmapQuery(t, tc.typ, tc.name, tc.key); !ok || got != tc.want {
			t.Errorf("%s: postmap -q %s = %q, want %q", tc.name, tc.key, got, tc.want)
		}
		var lk struct {
			Found bool   `json:"found"`
			Value string `json:"value"`
		}
		r = st.socketDo(t, "POST", mapPath(tc.name)+"/lookup", map[string]string{"key": tc.key})
		r.decode(t, &lk)
		if r.Status != 200 || !lk.Found || lk.Value != tc.want {
			t.Errorf("%s: lookup %d %s", tc.name, r.Status, r.Body)
		}
		r = st.socketDo(t, "POST", mapPath(tc.name)+"/lookup", map[string]string{"key": "-missing.example"})
		r.decode(t, &lk)
		if r.Status != 200 || lk.Found {
			t.Errorf("%s: lookup of a missing key: %d %s", tc.name, r.Status, r.Body)
		}
		var doc struct{ Type, Content string }
		r = st.socketDo(t, "GET", mapPath(tc.name), nil)
		r.decode(t, &doc)
		if doc.Type != tc.typ || doc.Content != tc.content {
			t.Errorf("%s: get %s", tc.name, r.Body)
		}
	}
	out, err := exec.Command(filepath.Join(postfixtest.SbinDir, "postconf"), "-c", st.inst.ConfigDir, "-x", "-h", "smtp_tls_policy_maps").Output()
	if err != nil || strings.TrimSpace(string(out)) != "hash:"+st.inst.MapPath("hash", mta.MapTLSPolicy) {
		t.Errorf("postconf -x -h smtp_tls_policy_maps = %q (%v)", out, err)
	}
	if r := st.socketDo(t, "GET", mapPath("no-such-map"), nil); r.Status != 404 {
		t.Errorf("get missing: %d", r.Status)
	}
	// A lookup key is one line: a newline (or CR, NUL) is refused, naming
	// the field, before postmap runs.
	for _, key := range []string{"a\nb", "a\rb", "a\x00b"} {
		var e mapErrorBody
		r := st.socketDo(t, "POST", mapPath(mta.MapTransport)+"/lookup", map[string]string{"key": key})
		r.decode(t, &e)
		if r.Status != 400 || e.Field != "key" {
			t.Errorf("lookup of %q: %d %s", key, r.Status, r.Body)
		}
	}
	if r := st.socketDo(t, "POST", mapPath("no-such-map")+"/lookup", map[string]string{"key": "x"}); r.Status != 404 {
		t.Errorf("lookup missing: %d", r.Status)
	}
}

func testMapsTransportRoutesMail(t *testing.T, st *stack) {
	sink := postfixtest.NewSink(t, 0)
	hop := "smtp:[127.0.0.1]:" + strconv.Itoa(sink.Port)
	r := st.socketDo(t, "PUT", mapPath(mta.MapTransport), map[string]string{"type": "hash", "content": "partner.example.test " + hop + "\n"})
	if r.Status != 200 {
		t.Fatalf("put: %d %s", r.Status, r.Body)
	}
	var lk struct {
		Found bool   `json:"found"`
		Value string `json:"value"`
	}
	st.socketDo(t, "POST", mapPath(mta.MapTransport)+"/lookup", map[string]string{"key": "partner.example.test"}).decode(t, &lk)
	if !lk.Found || lk.Value != hop {
		t.Fatalf("lookup: %+v", lk)
	}
	c, err := smtp.Dial(st.smtp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("sender@example.org", []string{"user@partner.example.test"}, strings.NewReader("Subject: routed\r\n\r\nby the transport map\r\n")); err != nil {
		t.Fatal(err)
	}
	msgs := sink.Wait(t, 1, 30*time.Second)
	if len(msgs[0].To) != 1 || msgs[0].To[0] != "user@partner.example.test" || !strings.Contains(string(msgs[0].Data), "by the transport map") {
		t.Errorf("sink got %+v", msgs[0])
	}
}

func testMapsSASLPasswordsNeverShown(t *testing.T, st *stack) {
	const secret = "Sup3r-s3cret-pw"
	var bodies []string
	do := func(method, path string, body any) apiResponse {
		r := st.socketDo(t, method, path, body)
		bodies = append(bodies, string(r.Body))
		return r
	}
	r := do("PUT", mapPath(mta.MapSASLPasswords), map[string]string{"type": "hash", "content": "[smtp.example.test]:587 relayuser:" + secret + "\n"})
	if r.Status != 200 {
		t.Fatalf("put: %d %s", r.Status, r.Body)
	}
	src := st.inst.MapPath("hash", mta.MapSASLPasswords)
	for _, p := range []string{src, src + ".db"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", p, fi.Mode(), err)
		}
	}
	if got, _ := st.postmapQuery(t, "hash", mta.MapSASLPasswords, "[smtp.example.test]:587"); got != "relayuser:"+secret {
		t.Errorf("live value %q", got)
	}
	var doc struct{ Content string }
	do("GET", mapPath(mta.MapSASLPasswords), nil).decode(t, &doc)
	if doc.Content != "[smtp.example.test]:587 relayuser:********\n" {
		t.Errorf("get: %q", doc.Content)
	}
	do("GET", "/api/v1/maps", nil)
	do("POST", mapPath(mta.MapSASLPasswords)+"/lookup", map[string]string{"key": "[smtp.example.test]:587"})
	// Sending the masked text back keeps the password; a bad new line is
	// refused without echoing anything stored.
	if r := do("PUT", mapPath(mta.MapSASLPasswords), map[string]string{"type": "hash", "content": doc.Content + "other.example.test nopassword\n"}); r.Status != 400 {
		t.Errorf("bad line: %d %s", r.Status, r.Body)
	}
	if r := do("PUT", mapPath(mta.MapSASLPasswords), map[string]string{"type": "hash", "content": doc.Content + "[other.example.test] u2:pw2\n"}); r.Status != 200 {
		t.Fatalf("masked put: %d %s", r.Status, r.Body)
	}
	if got, _ := st.postmapQuery(t, "hash", mta.MapSASLPasswords, "[smtp.example.test]:587"); got != "relayuser:"+secret {
		t.Errorf("masked save lost the password: %q", got)
	}
	do("GET", mapPath(mta.MapSASLPasswords), nil)
	do("GET", "/api/v1/audit", nil)
	for _, b := range bodies {
		if strings.Contains(b, secret) {
			t.Fatalf("an API response shows the stored password: %s", b)
		}
	}
	if got := postconfX(t, st, "smtp_sasl_password_maps"); got != "hash:"+src {
		t.Errorf("smtp_sasl_password_maps = %q", got)
	}
}

func postconfX(t *testing.T, st *stack, name string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(postfixtest.SbinDir, "postconf"), "-c", st.inst.ConfigDir, "-x", "-h", name).Output()
	if err != nil {
		t.Fatalf("postconf -x -h %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// badMaps are map saves the API must refuse with 400, naming the line (or
// the field when the problem is not on a line), leaving Postfix's files
// byte-identical.
var badMaps = []struct {
	name, typ, content string
	line               int    // 0: no line
	field              string // expected field
}{
	{"c1", "cidr", "10.0.0.0/8 OK\n10.1.2.3/8 REJECT\n", 2, "content"},
	{"c2", "cidr", "192.168.1.0/16 OK\n", 1, "content"},
	{"c3", "cidr", "1.2.3.4/33 OK\n", 1, "content"},
	{"c4", "cidr", "2001:db8::1/32 OK\n", 1, "content"},
	{"c5", "cidr", "# comment\n300.1.2.3 OK\n", 2, "content"},
	{"c6", "cidr", "10.0.0.0/8\n", 1, "content"},
	{"c7", "cidr", "example.com OK\n", 1, "content"},
	{"c8", "cidr", "IF 10.0.0.0/8\n10.1.0.0/16 OK\n", 1, "content"},
	{"c9", "cidr", "10.0.0.0/8 OK\nENDIF\n", 2, "content"},
	{"p1", "pcre", "/abc(/ REJECT\n", 1, "content"},
	{"p2", "pcre", "/ok/ OK\n/a[b/ REJECT\n", 2, "content"},
	{"p3", "pcre", "/ok/ OK\nIF /^a/\n/b/ OK\n", 2, "content"},
	{"p4", "pcre", "ENDIF\n", 1, "content"},
	{"p5", "pcre", "/missing-value/\n", 1, "content"},
	{"p6", "pcre", "/x/q OK\n", 1, "content"},
	{"p7", "pcre", "/unterminated OK\n", 1, "content"},
	{"p8", "pcre", "/(a)/ $2\n", 1, "content"},
	{"r1", "regexp", "/a(/ OK\n", 1, "content"},
	{"r2", "regexp", "/ok/ OK\n/x/s OK\n", 2, "content"},
	{"r3", "regexp", "IF /a/\nIF /b/\n/c/ OK\nENDIF\n", 1, "content"},
	{"r4", "regexp", "/a{2,1}/ OK\n", 1, "content"},
	{"h1", "hash", "a b\nnovalue\n", 2, "content"},
	{"h2", "hash", "a b\nc d\nA e\n", 3, "content"},
	{"h3", "hash", "  continues nothing\n", 1, "content"},
	{"h4", "hash", "a b\nx\x00 y\n", 2, "content"},
	{"b1", "btree", "k v\nk w\n", 2, "content"},
	{"b2", "btree", "k " + strings.Repeat("x", 5000) + "\n", 1, "content"},
	{mta.MapTLSPolicy, "hash", "example.test:25 verify\nexample.org sure\n", 2, "content"},
	{mta.MapTLSPolicy, "hash", "example.test may match=example.test\n", 1, "content"},
	{mta.MapTLSPolicy, "hash", "example.test fingerprint\n", 1, "content"},
	{mta.MapTLSPolicy, "hash", "example.test secure ciphers=extreme\n", 1, "content"},
	{mta.MapTLSPolicy, "hash", "[mx.example.test]:99999 verify\n", 1, "content"},
	{mta.MapTransport, "hash", "a.example smtp:[relay.example]:25\npartner.example.com [tls.smtp.example.com]:1234\n", 2, "content"},
	{mta.MapTransport, "hash", "example.test nosuch:[relay.example.test]\n", 1, "content"},
	{mta.MapTransport, "hash", "example.test smtp:[relay.example.test]:0\n", 1, "content"},
	{mta.MapTransport, "hash", "example.test smtp:bad_host!name\n", 1, "content"},
	{mta.MapRecipientAccess, "hash", "user@example.test ACCEPT\n", 1, "content"},
	{mta.MapRecipientAccess, "hash", "user@example.test BCC\n", 1, "content"},
	{mta.MapRecipientAccess, "hash", "user@example.test PREPEND no header\n", 1, "content"},
	{mta.MapSASLPasswords, "hash", "[smtp.example.test] no-password-here\n", 1, "content"},
	{mta.MapSASLPasswords, "hash", "[new.example.test] user:********\n", 1, "content"},
	{mta.MapVirtualAlias, "hash", "root <tech@example.test>\n", 1, "content"},
	{"../../etc/passwd", "hash", "a b\n", 0, "name"},
	{"..", "hash", "a b\n", 0, "name"},
	{".hidden", "hash", "a b\n", 0, "name"},
	{"bad name", "hash", "a b\n", 0, "name"},
	{strings.Repeat("n", 101), "hash", "a b\n", 0, "name"},
	{"t1", "dbm", "a b\n", 0, "type"},
	{"big", "hash", strings.Repeat("k"+strings.Repeat("v", 60)+" x\n", 17<<20/64), 0, "content"},
	{"long", "hash", strings.Repeat("a b\n", 200001), 0, "content"},
}

func testMapsRefusesBadMaps(t *testing.T, st *stack) {
	before := st.liveFiles(t)
	for i, tc := range badMaps {
		r := st.socketDo(t, "PUT", mapPath(tc.name), map[string]string{"type": tc.typ, "content": tc.content})
		var e mapErrorBody
		r.decode(t, &e)
		if r.Status != 400 || e.Line != tc.line || e.Field != tc.field || e.Error == "" {
			t.Errorf("case %d (%s %.40q): %d %s; want 400, field %s, line %d", i, truncateName(tc.name), tc.content, r.Status, truncateName(string(r.Body)), tc.field, tc.line)
		}
		checkSentence(t, fmt.Sprintf("maps case %d", i), apiError{Error: e.Error, Field: e.Field, Line: e.Line})
		if tc.line > 0 && !strings.Contains(e.Error, "Line "+strconv.Itoa(tc.line)) {
			t.Errorf("case %d: the message does not name line %d: %s", i, tc.line, e.Error)
		}
		if strings.Contains(e.Error, ".postdeck-staging") {
			t.Errorf("case %d: the message shows the staging path: %s", i, e.Error)
		}
		if where, same := sameFiles(before, st.liveFiles(t)); !same {
			t.Fatalf("case %d changed %s", i, where)
		}
	}
	if len(badMaps) < 40 {
		t.Fatalf("only %d bad inputs", len(badMaps))
	}
}

func truncateName(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func testMapsDeleteAndRetype(t *testing.T, st *stack) {
	before := st.liveFiles(t)
	r := st.socketDo(t, "DELETE", mapPath(mta.MapTLSPolicy), nil)
	if r.Status != 409 || !strings.Contains(string(r.Body), "smtp_tls_policy_maps") {
		t.Errorf("delete referenced: %d %s", r.Status, r.Body)
	}
	r = st.socketDo(t, "PUT", mapPath(mta.MapTransport), map[string]string{"type": "pcre", "content": "/x/ smtp:\n"})
	if r.Status != 409 || !strings.Contains(string(r.Body), "transport_maps") {
		t.Errorf("retype referenced: %d %s", r.Status, r.Body)
	}
	if where, same := sameFiles(before, st.liveFiles(t)); !same {
		t.Fatalf("a refused change touched %s", where)
	}
	// An unreferenced admin map: create, retype, delete.
	for _, typ := range []string{"hash", "cidr"} {
		content := "a b\n"
		if typ == "cidr" {
			content = "192.0.2.0/24 OK\n"
		}
		if r := st.socketDo(t, "PUT", mapPath("scratch"), map[string]string{"type": typ, "content": content}); r.Status != 200 {
			t.Fatalf("put %s: %d %s", typ, r.Status, r.Body)
		}
	}
	if _, err := os.Stat(st.inst.MapPath("hash", "scratch")); !os.IsNotExist(err) {
		t.Errorf("the hash file stays after the retype: %v", err)
	}
	// A delete made on an older version is refused and deletes nothing;
	// a save made on a map deleted meanwhile does not bring it back.
	var doc struct{ Version string }
	st.socketDo(t, "GET", mapPath("scratch"), nil).decode(t, &doc)
	if r := st.socketDo(t, "PUT", mapPath("scratch"), map[string]string{"type": "cidr", "content": "198.51.100.0/24 OK\n", "version": doc.Version}); r.Status != 200 {
		t.Fatalf("put on the current version: %d %s", r.Status, r.Body)
	}
	if r := doJSON(t, st.socketClient(), "DELETE", "http://postdeck"+mapPath("scratch"), nil, map[string]string{"If-Match": `"` + doc.Version + `"`}); r.Status != 409 {
		t.Fatalf("delete on an older version: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "GET", mapPath("scratch"), nil); r.Status != 200 {
		t.Fatalf("the map is gone after a refused delete: %d", r.Status)
	}
	st.socketDo(t, "GET", mapPath("scratch"), nil).decode(t, &doc)
	if r := st.socketDo(t, "DELETE", mapPath("scratch"), nil); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "PUT", mapPath("scratch"), map[string]string{"type": "cidr", "content": "192.0.2.0/24 REJECT\n", "version": doc.Version}); r.Status != 409 || !strings.Contains(string(r.Body), "the map was deleted") {
		t.Fatalf("save on a deleted map: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "GET", mapPath("scratch"), nil); r.Status != 404 {
		t.Errorf("get deleted: %d", r.Status)
	}
	if _, err := os.Stat(st.inst.MapPath("cidr", "scratch")); !os.IsNotExist(err) {
		t.Errorf("the deleted map's file stays: %v", err)
	}
	// A map the SPF refresher owns is not the administrators' to edit.
	if _, err := st.mgr.PutRefresherMap(context.Background(), "spf-test", store.Map{Name: "spf.example.test", Type: "cidr", Content: "198.51.100.0/24 permit\n", Owner: store.OwnerRefresher}); err != nil {
		t.Fatal(err)
	}
	r = st.socketDo(t, "PUT", mapPath("spf.example.test"), map[string]string{"type": "cidr", "content": "203.0.113.0/24 permit\n"})
	if r.Status != 403 || !strings.Contains(string(r.Body), "SPF refresher") {
		t.Errorf("admin edit of a refresher map: %d %s", r.Status, r.Body)
	}
	if r := st.socketDo(t, "DELETE", mapPath("spf.example.test"), nil); r.Status != 403 {
		t.Errorf("admin delete of a refresher map: %d %s", r.Status, r.Body)
	}
}

// TestSecondSASLMapMaskedForEveryRole: a map the Edit Main Config
// document names in smtp_sasl_password_maps holds passwords like
// smtp-sasl-password_maps: from that apply on its files are 0600 and an
// auditor's reads (the map, its rows, a lookup, the editor page, the
// audit log) show its passwords masked; saving the masked content back
// keeps them. A password written into the document itself (inline:) is
// refused with the line and leaves Postfix's files as they were.
func TestSecondSASLMapMaskedForEveryRole(t *testing.T) {
	st := newStack(t)
	const name, secret, key = "relay-passwords", "Sec0nd-s3cret-pw", "[relay2.example.test]:587"
	var bodies []string
	keep := func(b []byte) { bodies = append(bodies, string(b)) }
	if r := st.socketDo(t, "PUT", mapPath(name), map[string]string{"type": "hash", "content": key + " relayuser2:" + secret + "\n"}); r.Status != 200 {
		t.Fatalf("put: %d %s", r.Status, r.Body)
	}
	var doc struct {
		Text    string `json:"text"`
		Version string `json:"version"`
	}
	st.socketDo(t, "GET", "/api/v1/mainconfig", nil).decode(t, &doc)
	sasl := "smtp_sasl_password_maps = hash:$config_directory/maps.d/hash." + mta.MapSASLPasswords + ".map\n"
	text := strings.Replace(doc.Text, sasl, strings.TrimSuffix(sasl, "\n")+", hash:$config_directory/maps.d/hash."+name+".map\n", 1)
	if text == doc.Text {
		t.Fatalf("no smtp_sasl_password_maps line in %q", doc.Text)
	}
	r := st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]string{"text": text, "version": doc.Version})
	if r.Status != 200 {
		t.Fatalf("main config: %d %s", r.Status, r.Body)
	}
	keep(r.Body)
	src := st.inst.MapPath("hash", name)
	for _, p := range []string{src, src + ".db"} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", filepath.Base(p), fi.Mode(), err)
		}
	}
	if got, _ := st.postmapQuery(t, "hash", name, key); got != "relayuser2:"+secret {
		t.Errorf("live value %q", got)
	}

	aud := st.login(t, "audit")
	hdr := map[string]string{csrfHeader: aud.csrf}
	res := aud.get(mapPath(name))
	keep(res.Body)
	var mp struct {
		Content string `json:"content"`
		Secret  bool   `json:"secret"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(res.Body, &mp); err != nil || res.Status != 200 {
		t.Fatalf("auditor's get: %d %s", res.Status, res.Body)
	}
	if mp.Content != key+" relayuser2:********\n" || !mp.Secret {
		t.Errorf("auditor's get: %s", res.Body)
	}
	// The list says which maps hold passwords, and so does the maps page.
	res = aud.get("/api/v1/maps")
	keep(res.Body)
	var list struct {
		Items []struct {
			Name   string `json:"name"`
			Secret bool   `json:"secret"`
		} `json:"items"`
	}
	if err := json.Unmarshal(res.Body, &list); err != nil || res.Status != 200 {
		t.Fatalf("auditor's list: %d %s", res.Status, res.Body)
	}
	secrets := map[string]bool{}
	for _, it := range list.Items {
		secrets[it.Name] = it.Secret
	}
	if !secrets[name] || !secrets[mta.MapSASLPasswords] || secrets["tls-policy"] {
		t.Errorf("list's secret flags %v: %s", secrets, res.Body)
	}
	res = aud.get("/mta/maps")
	if b := string(res.Body); res.Status != 200 || !strings.Contains(b, `id="map-`+name+`"`) || strings.Count(b, `class="badge warn" title="Holds SASL passwords`) != 2 {
		t.Errorf("maps page: %d, want the passwords badge on two maps", res.Status)
	}
	res = aud.get(mapPath(name) + "/rows")
	keep(res.Body)
	if res.Status != 200 || !strings.Contains(string(res.Body), `"value":"relayuser2:********"`) {
		t.Errorf("auditor's rows: %d %s", res.Status, res.Body)
	}
	res = aud.send("POST", mapPath(name)+"/lookup", `{"key":"`+key+`"}`, "application/json", hdr)
	keep(res.Body)
	if res.Status != 200 || !strings.Contains(string(res.Body), `"value":"relayuser2:********"`) {
		t.Errorf("auditor's lookup: %d %s", res.Status, res.Body)
	}
	res = aud.get("/mta/maps/" + name + "?view=text&key=" + url.QueryEscape(key))
	keep(res.Body)
	// The editor page has the SASL map's help: how masked passwords are kept.
	if b := string(res.Body); res.Status != 200 || !strings.Contains(b, "relayuser2:********") || !strings.Contains(b, "Passwords are never shown") {
		t.Errorf("auditor's page: %d", res.Status)
	}

	// The masked content saved back keeps the password.
	r = st.socketDo(t, "PUT", mapPath(name), map[string]string{"type": "hash", "content": mp.Content + "[relay3.example.test] u3:pw3\n", "version": mp.Version})
	keep(r.Body)
	if r.Status != 200 {
		t.Fatalf("masked put: %d %s", r.Status, r.Body)
	}
	if got, _ := st.postmapQuery(t, "hash", name, key); got != "relayuser2:"+secret {
		t.Errorf("the masked save lost the password: %q", got)
	}

	// A password in the document itself is refused on its line.
	before := st.liveFiles(t)
	st.socketDo(t, "GET", "/api/v1/mainconfig", nil).decode(t, &doc)
	bad := doc.Text + "lmtp_sasl_password_maps = inline:{ [lmtp.example.test]=user:" + secret + " }\n"
	r = st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]string{"text": bad, "version": doc.Version})
	var eb mapErrorBody
	r.decode(t, &eb)
	if r.Status != 400 || eb.Field != "text" || eb.Line != strings.Count(doc.Text, "\n")+1 || !strings.Contains(eb.Error, "lmtp_sasl_password_maps has an inline: table") || strings.Contains(eb.Error, secret) {
		t.Errorf("inline table: %d %s", r.Status, r.Body)
	}
	if where, same := sameFiles(before, st.liveFiles(t)); !same {
		t.Errorf("a refused main config changed %s", where)
	}
	res = aud.get("/api/v1/audit")
	keep(res.Body)
	for _, b := range bodies {
		if strings.Contains(b, secret) {
			t.Fatalf("an answer shows the password: %s", b)
		}
	}
}

// TestStoredLiteralPasswordsMasked: a state stored before SASL passwords
// in main.cf and master.cf were refused still has them; what the API and
// the console show of both documents masks them for every role (the
// version stays the stored document's), and the masked document saved
// back is refused on the line to change, the live files untouched.
func TestStoredLiteralPasswordsMasked(t *testing.T) {
	st := newStack(t)
	const mainPW, masterPW = "0ld-st4tic-pw", "0ld-1nline-pw"
	s, err := st.db.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	mainDoc := s.MainConfig + "lmtp_sasl_password_maps = static:u:" + mainPW + "\n"
	s.MainConfig = mainDoc
	master, err := st.mgr.MasterConfig()
	if err != nil {
		t.Fatal(err)
	}
	s.MasterConfig = master.Text + "relay2    unix  -       -       y       -       -       smtp\n  -o smtp_sasl_password_maps=inline:{[r.example.test]=u:" + masterPW + "}\n"
	if err := st.db.SaveState(s); err != nil {
		t.Fatal(err)
	}
	aud := st.login(t, "audit")
	var bodies []string
	for _, path := range []string{"/api/v1/mainconfig", "/api/v1/mastercfg", "/mta/settings/mainconfig", "/mta/settings/mastercfg"} {
		res := aud.get(path)
		if res.Status != 200 {
			t.Fatalf("%s: %d", path, res.Status)
		}
		bodies = append(bodies, string(res.Body))
	}
	for i, b := range bodies {
		if strings.Contains(b, mainPW) || strings.Contains(b, masterPW) {
			t.Errorf("answer %d shows a password", i)
		}
	}
	var doc struct {
		Text    string `json:"text"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal([]byte(bodies[0]), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(doc.Text, "lmtp_sasl_password_maps = static:********\n") || doc.Version != mta.MainConfigVersion(mainDoc) {
		t.Errorf("main config %q version %s", doc.Text[max(0, len(doc.Text)-80):], doc.Version)
	}
	if !strings.Contains(bodies[1], `-o smtp_sasl_password_maps=inline:********`) {
		t.Errorf("master config: %s", bodies[1])
	}
	before := st.liveFiles(t)
	r := st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]string{"text": doc.Text, "version": doc.Version})
	var eb mapErrorBody
	r.decode(t, &eb)
	if r.Status != 400 || eb.Line != strings.Count(mainDoc, "\n") || !strings.Contains(eb.Error, "lmtp_sasl_password_maps has a static: table") {
		t.Errorf("the masked document saved back: %d %s", r.Status, r.Body)
	}
	if where, same := sameFiles(before, st.liveFiles(t)); !same {
		t.Errorf("a refused main config changed %s", where)
	}
	// A stale save's diff masks them too.
	r = st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]string{"text": doc.Text + "# more\n", "version": mta.MainConfigVersion("old")})
	if r.Status != 409 || strings.Contains(string(r.Body), mainPW) {
		t.Errorf("stale main config: %d %s", r.Status, r.Body)
	}
	var mdoc struct {
		Text    string `json:"text"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal([]byte(bodies[1]), &mdoc); err != nil {
		t.Fatal(err)
	}
	r = st.socketDo(t, "PUT", "/api/v1/mastercfg", map[string]string{"text": master.Text + "# more\n", "version": mta.MainConfigVersion("old")})
	if r.Status != 409 || strings.Contains(string(r.Body), masterPW) || !strings.Contains(string(r.Body), "inline:********") {
		t.Errorf("stale master config: %d %s", r.Status, r.Body)
	}
	// The fix, one document at a time: main.cf's line first, then
	// master.cf's service; the answers and the audit log never show them.
	fixed := strings.TrimSuffix(doc.Text, "lmtp_sasl_password_maps = static:********\n")
	r = st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]string{"text": fixed, "version": doc.Version})
	// Accepted while master.cf still has its own (stored before), which
	// the answer warns about.
	if r.Status != 200 || strings.Contains(string(r.Body), mainPW) || !strings.Contains(string(r.Body), "Service relay2: -o smtp_sasl_password_maps has an inline: table") {
		t.Fatalf("main config fixed: %d %s", r.Status, r.Body)
	}
	r = st.socketDo(t, "PUT", "/api/v1/mastercfg", map[string]string{"text": master.Text, "version": mdoc.Version})
	if r.Status != 200 || strings.Contains(string(r.Body), masterPW) {
		t.Fatalf("master config fixed: %d %s", r.Status, r.Body)
	}
	res := st.login(t, "audit").get("/api/v1/audit")
	if res.Status != 200 || strings.Contains(string(res.Body), mainPW) || strings.Contains(string(res.Body), masterPW) {
		t.Errorf("the audit log: %d", res.Status)
	}
}
