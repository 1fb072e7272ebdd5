package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// TestWebUnitWithTLS is the packaged layout: `serve --web-unit` starts no
// web process, and `postdeck web`, started on its own as an unprivileged
// user (as postdeck-web.service does), serves the console over the TLS
// certificate the daemon made, handed over in web-tls.pem (0640, root and
// the web user's group; here, without postdeck-web, 0600 and nobody's:
// nogroup is not nobody's alone). As root, `postdeck web` refuses to run.
func TestWebUnitWithTLS(t *testing.T) {
	postfixtest.Require(t)
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv (util-linux) is missing: %v", err)
	}
	base := postfixtest.Dir(t)
	// The web user must be able to execute the binary: build it into
	// the traversable test directory.
	bin := buildBinaryIn(t, base)
	d := startDaemonWith(t, bin, base, postfixtest.FreePort(t), "--web-unit", "--tls-self-signed")
	if !strings.Contains(d.out.String(), "console=postdeck-web.service") {
		t.Fatalf("serve --web-unit did not say the console is the web unit's:\n%s", d.out)
	}
	webSock := filepath.Join(base, "run", "web.sock")
	pemFile := filepath.Join(base, "run", "web-tls.pem")
	for path, mode := range map[string]os.FileMode{webSock: 0o600 | os.ModeSocket, pemFile: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != mode || st.Uid != 65534 || st.Gid != 0 {
			t.Errorf("%s: mode %v uid %d gid %d, want %v 65534:root (the web user here, nobody)", path, fi.Mode(), st.Uid, st.Gid, mode)
		}
	}

	// As root, the web process refuses.
	out, err := exec.Command(bin, "web", "--listen", "127.0.0.1:0", "--web-socket", webSock).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refusing to run as root") {
		t.Errorf("postdeck web as root: %v %s", err, out)
	}

	port := strconv.Itoa(postfixtest.FreePort(t))
	web := exec.Command("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--",
		bin, "web", "--listen", "127.0.0.1:"+port, "--web-socket", webSock, "--log-format", "text")
	webOut := &postfixtest.SyncBuffer{}
	web.Stdout, web.Stderr = webOut, webOut
	if err := web.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = web.Process.Signal(syscall.SIGTERM)
		_ = web.Wait()
	})
	if err := postfixtest.WaitPort("127.0.0.1:"+port, 20*time.Second); err != nil {
		t.Fatalf("the web unit does not listen: %v\n%s", err, webOut)
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get("https://127.0.0.1:" + port + "/login")
	if err != nil {
		t.Fatalf("GET /login over TLS: %v\n%s", err, webOut)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `id="login-form"`) {
		t.Errorf("GET /login over TLS: %d", resp.StatusCode)
	}
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 || !strings.Contains(resp.TLS.PeerCertificates[0].Subject.Organization[0], "self-signed") {
		t.Errorf("the console's certificate is not the daemon's self-signed one: %+v", resp.TLS)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("no Strict-Transport-Security: the daemon does not know the console is on TLS")
	}
	// The session cookie of a login over TLS is Secure, HttpOnly and
	// SameSite=Strict: never sent over plain HTTP, never read by scripts.
	once := d.firstLogin(t)
	login, err := hc.Post("https://127.0.0.1:"+port+"/api/v1/login", "application/json", strings.NewReader(`{"username":"admin","password":"`+once+`"}`))
	if err != nil {
		t.Fatalf("login over TLS: %v", err)
	}
	_ = login.Body.Close()
	var session *http.Cookie
	for _, ck := range login.Cookies() {
		if ck.Name == "postdeck_session" {
			session = ck
		}
	}
	if login.StatusCode != 200 || session == nil || session.Value == "" || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
		t.Errorf("login over TLS: %d, session cookie %+v", login.StatusCode, session)
	}
	if resp, err := hc.Get("http://127.0.0.1:" + port + "/login"); err == nil && resp.StatusCode == 200 {
		_ = resp.Body.Close()
		t.Errorf("plain HTTP answered on the TLS console")
	}
}
