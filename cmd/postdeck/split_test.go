package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/smtp"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// TestConsoleThroughSplit is issue #20 against the real binary: the
// console's listener belongs to the web process, which runs as another
// user than root, without capabilities, and cannot open the database,
// the first login's file, main.cf or the SASL password map; logins,
// CSRF-protected forms, bearer tokens, stale-version refusals and the
// audit log's client address work through it; a forged peer header is
// not believed; and killing the web process with SIGKILL stops neither
// mail through Postfix and the MPA nor the console for more than 5
// seconds (the same session works after).
func TestConsoleThroughSplit(t *testing.T) {
	postfixtest.Require(t)
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: the daemon drops the web process to another user only as root")
	}
	for _, tool := range []string{"nsenter", "setpriv", "cat"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (util-linux, coreutils): %v", tool, err)
		}
	}
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	smtpPort := postfixtest.FreePort(t)
	d := startDaemon(t, bin, base, smtpPort)
	console := d.waitLog(t, readyRe)
	once := d.firstLogin(t)
	relay := postfixtest.NewSink(t, 0)
	if out, err := d.cli(t, bin, "settings", "set", "hostname=mx.split.example.test", "external_relay_host=[127.0.0.1]:"+strconv.Itoa(relay.Port)); err != nil {
		t.Fatalf("settings set: %v\n%s", err, out)
	}

	// The listener is the web process's, and it is not root's.
	port := strings.TrimPrefix(console, "http://127.0.0.1:")
	pids := listeningPIDs(t, port)
	if len(pids) != 1 {
		t.Fatalf("processes holding the console's listening socket: %v, want exactly the web process", pids)
	}
	web := pids[0]
	if web == d.cmd.Process.Pid {
		t.Fatal("the daemon itself holds the console's listening socket")
	}
	st := procStatus(t, web)
	uid, gid := firstField(st["Uid"]), firstField(st["Gid"])
	if uid == "0" || gid == "0" || st["CapEff"] != "0000000000000000" || st["CapBnd"] != "0000000000000000" || st["NoNewPrivs"] != "1" || st["Groups"] != "" {
		t.Fatalf("web process %d is not unprivileged: %v", web, st)
	}
	if ppid := firstField(st["PPid"]); ppid != strconv.Itoa(d.cmd.Process.Pid) {
		t.Errorf("web process's parent is %s, want the daemon %d", ppid, d.cmd.Process.Pid)
	}
	t.Logf("web process pid %d runs as uid %s gid %s, no capabilities, no_new_privs", web, uid, gid)

	// What the web process can open: a process with its credentials in
	// its mount namespace tries (the positive control proves the probe).
	etc := filepath.Join(base, "postfix", "etc")
	private := map[string]string{
		"database":           filepath.Join(base, "data", "postdeck.db"),
		"first login's file": d.firstLoginPath(),
		"main.cf":            filepath.Join(etc, "main.cf"),
		"SASL password map":  filepath.Join(etc, "maps.d", "hash.smtp-sasl-password_maps.map"),
		"master.cf":          filepath.Join(etc, "master.cf"),
		"CLI socket":         d.socket,
	}
	for what, path := range private {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%s %s: %v (the probe needs the file to exist)", what, path, err)
		}
		if out, err := asWeb(web, uid, gid, "cat", path); err == nil || !strings.Contains(out, "Permission denied") {
			t.Errorf("the web process's user opened the %s (%s): err %v, %q", what, path, err, out)
		}
	}
	if out, err := asWeb(web, uid, gid, "cat", "/proc/version"); err != nil {
		t.Fatalf("positive control: the probe cannot even read /proc/version: %v %s", err, out)
	}

	// Login through the split, from 127.0.0.2: the one-time password
	// first, then the administrator's own.
	c := splitClient(t, "127.0.0.2")
	csrf := c.login(t, console, "admin", once)
	if s, b := call(t, c.hc, "POST", console+"/api/v1/account/password", `{"current_password":"`+once+`","new_password":"split test password"}`, map[string]string{"X-CSRF-Token": csrf}); s != 200 {
		t.Fatalf("set the new password: %d %s", s, b)
	}
	csrf = c.login(t, console, "admin", "split test password")

	// A CSRF-protected form: refused without the token, done with it.
	form := url.Values{"username": {"op1"}, "password": {"op1 long password"}, "role": {"operator"}}
	if s := c.postForm(t, console+"/users", form); s != 403 {
		t.Errorf("form post without CSRF token: %d, want 403", s)
	}
	form.Set("csrf_token", csrf)
	if s := c.postForm(t, console+"/users", form); s != 303 {
		t.Errorf("form post with CSRF token: %d, want 303", s)
	}
	// A forged peer header from the network is dropped by the web process.
	if s, b := call(t, c.hc, "POST", console+"/api/v1/tokens", `{"name":"split","role":"auditor"}`,
		map[string]string{"X-CSRF-Token": csrf, "X-Postdeck-Peer": "203.0.113.9"}); s != 200 {
		t.Fatalf("create a token: %d %s", s, b)
	} else {
		var tok struct {
			Secret string `json:"token"`
		}
		if err := json.Unmarshal([]byte(b), &tok); err != nil || tok.Secret == "" {
			t.Fatalf("token answer: %v %s", err, b)
		}
		bearer := &http.Client{Timeout: time.Minute}
		if s, b := call(t, bearer, "GET", console+"/api/v1/status", "", map[string]string{"Authorization": "Bearer " + tok.Secret}); s != 200 {
			t.Errorf("API call with the token: %d %s", s, b)
		}
		if s, _ := call(t, bearer, "GET", console+"/api/v1/status", "", map[string]string{"Authorization": "Bearer " + tok.Secret + "x"}); s != 401 {
			t.Errorf("API call with a wrong token: %d, want 401", s)
		}
		if s, _ := call(t, bearer, "PUT", console+"/api/v1/mainconfig", `{"text":""}`, map[string]string{"Authorization": "Bearer " + tok.Secret}); s != 403 {
			t.Errorf("an auditor's token writing: %d, want 403", s)
		}
	}

	// A write based on an older version is refused (409).
	s, b := call(t, c.hc, "GET", console+"/api/v1/mainconfig", "", nil)
	var doc struct{ Text, Version string }
	if err := json.Unmarshal([]byte(b), &doc); s != 200 || err != nil || doc.Version == "" {
		t.Fatalf("get mainconfig: %d %v %s", s, err, b)
	}
	put := func(text string) (int, string) {
		raw, _ := json.Marshal(map[string]string{"text": text, "version": doc.Version})
		return call(t, c.hc, "PUT", console+"/api/v1/mainconfig", string(raw), map[string]string{"X-CSRF-Token": csrf})
	}
	if s, b := put(doc.Text + "# first\n"); s != 200 {
		t.Fatalf("first save: %d %s", s, b)
	}
	if s, b := put(doc.Text + "# second\n"); s != 409 || !strings.Contains(b, `"field":"version"`) {
		t.Errorf("stale save: %d %s, want 409 naming the version", s, b)
	}

	// Login limits count per client address through the split: five
	// failures from 127.0.0.3 stop that address's next try, while the
	// same user from 127.0.0.2 logs in.
	guesser := splitClient(t, "127.0.0.3")
	for i := 0; i < 5; i++ {
		if s, b := call(t, guesser.hc, "POST", console+"/api/v1/login", `{"username":"admin","password":"wrong"}`, nil); s != 401 {
			t.Fatalf("failure %d from 127.0.0.3: %d %s", i+1, s, b)
		}
	}
	if s, b := call(t, guesser.hc, "POST", console+"/api/v1/login", `{"username":"admin","password":"split test password"}`, nil); s != http.StatusTooManyRequests {
		t.Errorf("the guessing address after 5 failures: %d %s, want 429", s, b)
	}
	c.login(t, console, "admin", "split test password")

	// The audit log names the clients the web process saw, and the
	// session's user for what it did.
	s, b = call(t, c.hc, "GET", console+"/api/v1/audit?limit=100", "", nil)
	var audit struct {
		Items []struct{ Actor, Action, Result string }
	}
	if err := json.Unmarshal([]byte(b), &audit); s != 200 || err != nil {
		t.Fatalf("audit: %d %v %s", s, err, b)
	}
	seen := map[string]bool{}
	for _, e := range audit.Items {
		seen[e.Actor+" | "+e.Action+" | "+e.Result] = true
		if strings.Contains(e.Actor, "203.0.113.9") {
			t.Errorf("the audit log believed a forged X-Postdeck-Peer header: %+v", e)
		}
	}
	for _, want := range []string{
		"admin (from 127.0.0.2) | login | logged in",
		"admin (from 127.0.0.3) | login | login failed",
		"admin (from 127.0.0.3) | login | throttled",
		"admin (session) | user op1 | done",
		"admin (session) | token split | created",
		"admin (session) | mainconfig | refused",
	} {
		if !seen[want] {
			t.Errorf("the audit log lacks %q; it has:\n%s", want, strings.Join(mapKeys(seen), "\n"))
		}
	}

	// SIGKILL the web process: mail keeps flowing through Postfix and the
	// MPA, and the console is back within 5 seconds, same session.
	killed := time.Now()
	if err := syscall.Kill(web, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	msg := "From: a@example.test\r\nTo: b@example.org\r\nSubject: while the console is down\r\n\r\nbody\r\n"
	if err := smtp.SendMail("127.0.0.1:"+strconv.Itoa(smtpPort), nil, "a@example.test", []string{"b@example.org"}, []byte(msg)); err != nil {
		t.Fatalf("send mail to Postfix while the web process is down: %v", err)
	}
	back := time.Duration(0)
	for time.Since(killed) < 10*time.Second {
		if s, _ := callQuiet(c.hc, console+"/api/v1/status"); s == 200 {
			back = time.Since(killed)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if back == 0 || back > 5*time.Second {
		t.Fatalf("the console did not answer within 5 s of killing the web process (%v):\n%s", back, d.out)
	}
	t.Logf("console answered again %v after SIGKILL of the web process", back)
	got := relay.Wait(t, 1, 60*time.Second)
	if !strings.Contains(string(got[0].Data), "while the console is down") {
		t.Errorf("the relay got another message: %q", got[0].Data)
	}
	if !regexp.MustCompile(`(?m)^Received: from .*\n?.*by mx\.split\.example\.test`).Match(got[0].Data) {
		t.Logf("message as relayed:\n%s", got[0].Data)
	}
	if filter := postconfH(t, etc, "content_filter"); !strings.HasPrefix(filter, "mpa:") {
		t.Errorf("content_filter = %q: the mail did not go through the MPA", filter)
	}
	if pids := listeningPIDs(t, port); len(pids) != 1 || pids[0] == web || pids[0] == d.cmd.Process.Pid {
		t.Errorf("after the restart the listener belongs to %v", pids)
	} else if st := procStatus(t, pids[0]); firstField(st["Uid"]) == "0" {
		t.Errorf("the restarted web process runs as root: %v", st)
	}
	if d.cmd.ProcessState != nil {
		t.Fatal("the daemon exited")
	}
}

func mapKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// splitTestClient is a browser-like client bound to a loopback address.
type splitTestClient struct{ hc *http.Client }

func splitClient(t *testing.T, ip string) *splitTestClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &splitTestClient{hc: &http.Client{Jar: jar, Timeout: time.Minute,
		Transport:     &http.Transport{DialContext: dialer.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (c *splitTestClient) login(t *testing.T, console, user, password string) string {
	t.Helper()
	raw, _ := json.Marshal(map[string]string{"username": user, "password": password})
	s, b := call(t, c.hc, "POST", console+"/api/v1/login", string(raw), nil)
	var lr struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.Unmarshal([]byte(b), &lr); s != 200 || err != nil || lr.CSRF == "" {
		t.Fatalf("login as %s: %d %s", user, s, b)
	}
	return lr.CSRF
}

func (c *splitTestClient) postForm(t *testing.T, u string, form url.Values) int {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// callQuiet is a GET that reports failure as status 0.
func callQuiet(c *http.Client, u string) (int, error) {
	resp, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// listeningPIDs are the processes that hold the IPv4 TCP socket listening
// on port, found through its inode in /proc/net/tcp and /proc/PID/fd.
func listeningPIDs(t *testing.T, port string) []int {
	t.Helper()
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("port %q", port)
	}
	raw, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	var inode string
	for _, line := range strings.Split(string(raw), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
			continue
		}
		if strings.HasSuffix(f[1], fmt.Sprintf(":%04X", p)) {
			inode = f[9]
		}
	}
	if inode == "" {
		t.Fatalf("nothing listens on port %d", p)
	}
	want := "socket:[" + inode + "]"
	var pids []int
	procs, _ := os.ReadDir("/proc")
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", e.Name(), "fd"))
		for _, fd := range fds {
			if l, _ := os.Readlink(filepath.Join("/proc", e.Name(), "fd", fd.Name())); l == want {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// procStatus is /proc/PID/status as a map of trimmed values.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// asWeb runs a command with the web process's user and group, no other
// groups and no_new_privs, in the web process's mount namespace.
func asWeb(pid int, uid, gid string, args ...string) (string, error) {
	full := append([]string{"--mount=/proc/" + strconv.Itoa(pid) + "/ns/mnt", "setpriv", "--reuid", uid, "--regid", gid, "--clear-groups", "--no-new-privs", "--"}, args...)
	out, err := exec.Command("nsenter", full...).CombinedOutput()
	return string(out), err
}
