package webui

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
	"time"

	"postdeck/store"
)

// fakeClock is a settable time source.
type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time { return f.t }

func TestSessionExpiry(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	ss := newSessionStore(30*time.Minute, 12*time.Hour, clk.now)
	se, err := ss.create(store.User{Username: "admin", PasswordHash: []byte("hash"), Role: store.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	// Busy: every request within the idle time keeps it, up to the absolute limit.
	for i := 0; i < 24; i++ { // 24 * 29 min = 11 h 36 min
		clk.t = clk.t.Add(29 * time.Minute)
		if _, ok := ss.get([]byte(se.id)); !ok {
			t.Fatalf("session ended after %v of use", time.Duration(i+1)*29*time.Minute)
		}
	}
	clk.t = clk.t.Add(29 * time.Minute) // 12 h 5 min
	if _, ok := ss.get([]byte(se.id)); ok {
		t.Errorf("session outlived the absolute limit")
	}
	// Idle.
	se2, _ := ss.create(store.User{Username: "admin", PasswordHash: []byte("hash"), Role: store.RoleAdmin})
	clk.t = clk.t.Add(31 * time.Minute)
	if _, ok := ss.get([]byte(se2.id)); ok {
		t.Errorf("session outlived the idle limit")
	}
	if _, ok := ss.get(nil); ok {
		t.Errorf("empty id found a session")
	}
	// Ids and tokens are random and distinct.
	a, _ := ss.create(store.User{Username: "x"})
	b, _ := ss.create(store.User{Username: "x"})
	if a.id == b.id || a.csrf == b.csrf || a.id == a.csrf || len(a.id) < 40 {
		t.Errorf("weak ids: %q %q", a.id, b.id)
	}
}

// TestSessionsPerUserBounded logs one user in far more often than
// maxSessionsPerUser: the store keeps at most that many of the user's
// sessions, ends the least recently used first (a browser in use
// survives a script that logs in again and again), and leaves other
// users' sessions alone.
func TestSessionsPerUserBounded(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	ss := newSessionStore(30*time.Minute, 12*time.Hour, clk.now)
	u := store.User{Username: "admin", PasswordHash: []byte("hash"), Role: store.RoleAdmin}
	other, err := ss.create(store.User{Username: "op1", Role: store.RoleOperator})
	if err != nil {
		t.Fatal(err)
	}
	browser, err := ss.create(u)
	if err != nil {
		t.Fatal(err)
	}
	var last *session
	for i := 0; i < 10*maxSessionsPerUser; i++ {
		clk.t = clk.t.Add(time.Second)
		if _, ok := ss.get([]byte(browser.id)); !ok {
			t.Fatalf("login %d ended the session in use", i+1)
		}
		if last, err = ss.create(u); err != nil {
			t.Fatal(err)
		}
	}
	ss.mu.Lock()
	n := 0
	for _, se := range ss.byID {
		if se.user == u.Username {
			n++
		}
	}
	total, listed := len(ss.byID), len(ss.byUser[u.Username])
	ss.mu.Unlock()
	if n != maxSessionsPerUser || listed != maxSessionsPerUser {
		t.Errorf("%s has %d live sessions (%d listed) after %d logins; want at most %d", u.Username, n, listed, 10*maxSessionsPerUser+1, maxSessionsPerUser)
	}
	if total != maxSessionsPerUser+1 {
		t.Errorf("%d sessions in memory, want %d", total, maxSessionsPerUser+1)
	}
	for _, se := range []*session{browser, last, other} {
		if _, ok := ss.get([]byte(se.id)); !ok {
			t.Errorf("session of %s (created %v) ended", se.user, se.created)
		}
	}
}

func TestNavFor(t *testing.T) {
	has := func(es []navEntry, path string) (found, current bool) {
		var walk func([]navEntry)
		walk = func(es []navEntry) {
			for _, e := range es {
				if e.Path == path {
					found, current = true, e.Current
				}
				walk(e.Children)
			}
		}
		walk(es)
		return
	}
	if f, cur := has(navFor("admin", "/mta/settings/mainconfig"), "/mta/settings"); !f || !cur {
		t.Errorf("Edit Main Config does not mark Settings current")
	}
	if f, _ := has(navFor("auditor", "/"), "/sendmail"); f {
		t.Errorf("auditor sees Send Mail")
	}
	if f, _ := has(navFor("operator", "/"), "/audit"); f {
		t.Errorf("operator sees the audit log")
	}
	if _, cur := has(navFor("admin", "/mta/settings"), "/"); cur {
		t.Errorf("Dashboard marked current on another page")
	}
}

func TestTLSConfigSelfSigned(t *testing.T) {
	dir := t.TempDir()
	if c, err := TLSConfig("", "", false, dir); c != nil || err != nil {
		t.Fatalf("plain HTTP: %v %v", c, err)
	}
	if _, err := TLSConfig("cert.pem", "", false, dir); err == nil {
		t.Errorf("a certificate without its key was accepted")
	}
	c1, err := TLSConfig("", "", true, dir)
	if err != nil || c1 == nil || c1.MinVersion != tls.VersionTLS12 {
		t.Fatalf("self-signed: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, SelfSignedKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", fi.Mode(), err)
	}
	c2, err := TLSConfig("", "", true, dir)
	if err != nil || string(c2.Certificates[0].Certificate[0]) != string(c1.Certificates[0].Certificate[0]) {
		t.Errorf("the self-signed certificate was not reused: %v", err)
	}
	// The files work as --tls-cert/--tls-key too.
	if _, err := TLSConfig(filepath.Join(dir, SelfSignedCertFile), filepath.Join(dir, SelfSignedKeyFile), false, ""); err != nil {
		t.Errorf("load as files: %v", err)
	}
}
