package webui

import (
	"context"
	"encoding/json"
	"html"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postdeck/store"
)

// secretMapDoc is what GET /api/v1/maps/{name} says of a map's secrecy.
type secretMapDoc struct {
	Content string `json:"content"`
	Secret  bool   `json:"secret"`
	Version string `json:"version"`
}

// assertPrivateMap checks that the live file of the hash map name and its
// .db are readable by root only.
func assertPrivateMap(t *testing.T, st *stack, name string) {
	t.Helper()
	src := st.inst.MapPath("hash", name)
	for _, p := range []string{src, src + ".db"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s is mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

// TestMapMarkedSecretOnCreate: an administrator creates the map of SASL
// passwords before smtp_sasl_password_maps names it. Marked "secret" in
// that PUT, the map is secret from that save on: file and .db mode 0600,
// passwords masked for the administrator and the auditor, its lines
// checked as key user:password. A PUT without the mark, or with false,
// leaves it secret; the audit log says it was marked, and never holds
// the password.
func TestMapMarkedSecretOnCreate(t *testing.T) {
	st := newStack(t)
	const name, secret, key = "sasl_passwd", "Mark3d-s3cret-pw", "[relay.example.net]:587"
	var bodies []string
	keep := func(b []byte) { bodies = append(bodies, string(b)) }

	r := st.socketDo(t, "PUT", mapPath(name), map[string]any{"type": "hash", "content": key + " relayuser:" + secret + "\n", "secret": true})
	keep(r.Body)
	if r.Status != 200 {
		t.Fatalf("create marked secret: %d %s", r.Status, r.Body)
	}
	assertPrivateMap(t, st, name)
	if got, _ := st.postmapQuery(t, "hash", name, key); got != "relayuser:"+secret {
		t.Errorf("live value %q", got)
	}
	var doc secretMapDoc
	r = st.socketDo(t, "GET", mapPath(name), nil)
	keep(r.Body)
	r.decode(t, &doc)
	if !doc.Secret || doc.Content != key+" relayuser:********\n" {
		t.Errorf("admin's get: %s", r.Body)
	}
	aud := st.login(t, "audit")
	res := aud.get(mapPath(name))
	keep(res.Body)
	var audDoc secretMapDoc
	if err := json.Unmarshal(res.Body, &audDoc); err != nil || res.Status != 200 || !audDoc.Secret || audDoc.Content != key+" relayuser:********\n" {
		t.Errorf("auditor's get: %d %s", res.Status, res.Body)
	}

	// Sent back as GET gave it, without the mark, and then with false:
	// still secret, and the masked password is kept.
	r = st.socketDo(t, "PUT", mapPath(name), map[string]any{"type": "hash", "content": doc.Content + "[relay2.example.net] u2:pw2\n", "version": doc.Version})
	keep(r.Body)
	if r.Status != 200 {
		t.Fatalf("put without secret: %d %s", r.Status, r.Body)
	}
	r = st.socketDo(t, "GET", mapPath(name), nil)
	r.decode(t, &doc)
	r = st.socketDo(t, "PUT", mapPath(name), map[string]any{"type": "hash", "content": doc.Content, "version": doc.Version, "secret": false})
	keep(r.Body)
	if r.Status != 200 {
		t.Fatalf("put with secret false: %d %s", r.Status, r.Body)
	}
	r = st.socketDo(t, "GET", mapPath(name), nil)
	keep(r.Body)
	r.decode(t, &doc)
	if !doc.Secret || !strings.Contains(doc.Content, key+" relayuser:********\n") {
		t.Errorf("after saves without the mark: %s", r.Body)
	}
	assertPrivateMap(t, st, name)
	if got, _ := st.postmapQuery(t, "hash", name, key); got != "relayuser:"+secret {
		t.Errorf("the masked save lost the password: %q", got)
	}

	// The audit entry of the marking save says so; only that one does.
	res = aud.get("/api/v1/audit")
	keep(res.Body)
	if res.Status != 200 || strings.Count(string(res.Body), "marked as holding passwords") != 1 {
		t.Errorf("audit log: want one entry that says the map was marked: %d %s", res.Status, res.Body)
	}
	for _, b := range bodies {
		if strings.Contains(b, secret) {
			t.Fatalf("an answer shows the password: %s", b)
		}
	}
}

// TestMapMarkedSecretChecksLines: in a map created secret, a line that
// is not key user:password is refused with its line named and its text
// not shown, and Postfix's live files stay byte for byte as they were.
func TestMapMarkedSecretChecksLines(t *testing.T) {
	st := newStack(t)
	before := st.liveFiles(t)
	r := st.socketDo(t, "PUT", mapPath("relay-auth"), map[string]any{"type": "hash", "content": "[relay.example.net]:587 u:Ch3cked-pw\n[relay2.example.net]:587 only-a-user\n", "secret": true})
	var eb mapErrorBody
	r.decode(t, &eb)
	if r.Status != 400 || eb.Field != "content" || eb.Line != 2 || !strings.Contains(eb.Error, "must be user:password") {
		t.Errorf("a line without user:password: %d %s, want 400 on line 2", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "Ch3cked-pw") {
		t.Errorf("the refusal shows a password: %s", r.Body)
	}
	if where, same := sameFiles(before, st.liveFiles(t)); !same {
		t.Errorf("a refused map changed %s", where)
	}
	if r := st.socketDo(t, "GET", mapPath("relay-auth"), nil); r.Status != 404 {
		t.Errorf("the refused map exists: %d %s", r.Status, r.Body)
	}
}

// TestMapOfRefresherCannotBeMarkedSecret: a map the SPF refresher keeps
// up to date holds addresses; marking it secret is a 400 that names the
// field, and the map stays as it was.
func TestMapOfRefresherCannotBeMarkedSecret(t *testing.T) {
	st := newStack(t)
	if _, err := st.mgr.PutRefresherMap(context.Background(), "spf-refresher", store.Map{Name: "spf.example.net", Type: "cidr", Content: "192.0.2.0/24 permit\n", Owner: store.OwnerRefresher}); err != nil {
		t.Fatal(err)
	}
	r := st.socketDo(t, "PUT", mapPath("spf.example.net"), map[string]any{"type": "cidr", "content": "192.0.2.0/24 permit\n", "secret": true})
	var eb mapErrorBody
	r.decode(t, &eb)
	if r.Status != 400 || eb.Field != "secret" || !strings.Contains(eb.Error, "SPF refresher") {
		t.Errorf("marking the refresher's map: %d %s, want 400 naming secret", r.Status, r.Body)
	}
	var doc secretMapDoc
	st.socketDo(t, "GET", mapPath("spf.example.net"), nil).decode(t, &doc)
	if doc.Secret {
		t.Errorf("the refresher's map became secret")
	}
}

// TestMapConsoleMarksSecret: the console's create form has the "Holds
// passwords" box; ticked, it creates a secret map (0600, masked). The
// editor of a secret map shows the box ticked and disabled with why; the
// editor of another map shows it free, and ticking it there marks that
// map.
func TestMapConsoleMarksSecret(t *testing.T) {
	st := newStack(t)
	const secret = "C0nsole-s3cret-pw"
	adm := st.login(t, "admin")
	res := adm.get("/mta/maps")
	if b := string(res.Body); res.Status != 200 || !strings.Contains(b, `name="secret"`) || !strings.Contains(b, "Holds passwords (readable by root only, shown masked)") {
		t.Fatalf("create form lacks the box: %d", res.Status)
	}
	res = adm.postForm("/mta/maps", url.Values{"name": {"console-sasl"}, "type": {"hash"}, "content": {"[relay.example.net]:587 cu:" + secret + "\r\n"}, "secret": {"1"}}, true)
	if res.Status != 303 || res.Header.Get("Location") != "/mta/maps/console-sasl" {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	assertPrivateMap(t, st, "console-sasl")
	res = adm.get("/mta/maps/console-sasl?view=text")
	b := html.UnescapeString(string(res.Body))
	if res.Status != 200 || strings.Contains(b, secret) || !strings.Contains(b, "cu:********") {
		t.Errorf("editor of the new map: %d, want the password masked", res.Status)
	}
	if !strings.Contains(b, `id="secret" checked disabled`) || !strings.Contains(b, `id="secret-why"`) {
		t.Errorf("editor of a secret map: the box is not ticked and disabled with why")
	}

	// Another map: the box is free; ticked on save, it marks the map.
	res = adm.postForm("/mta/maps", url.Values{"name": {"console-later"}, "type": {"hash"}, "content": {"[relay3.example.net] lu:L4ter-pw\n"}}, true)
	if res.Status != 303 {
		t.Fatalf("create unmarked: %d %s", res.Status, res.Body)
	}
	res = adm.get("/mta/maps/console-later?view=text")
	if b := string(res.Body); !strings.Contains(b, `name="secret" value="1" id="secret">`) {
		t.Errorf("editor of a map without passwords: the box is not free")
	}
	res = adm.postForm("/mta/maps/console-later", url.Values{"type": {"hash"}, "content": {"[relay3.example.net] lu:L4ter-pw\n"}, "secret": {"1"}}, true)
	if res.Status != 303 {
		t.Fatalf("mark on save: %d %s", res.Status, res.Body)
	}
	assertPrivateMap(t, st, "console-later")
	var doc secretMapDoc
	st.socketDo(t, "GET", mapPath("console-later"), nil).decode(t, &doc)
	if !doc.Secret || strings.Contains(doc.Content, "L4ter-pw") {
		t.Errorf("marked on the editor: %+v", doc)
	}
}
