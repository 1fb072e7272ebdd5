package webui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"postdeck/mta"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// daemon is a running `postdeck serve` built from this tree, with a
// private Postfix. It can be stopped (SIGTERM, timed) and started again
// on the same directories and ports.
type daemon struct {
	bin       string
	args      []string
	inst      mta.Instance
	base      string // http://LISTEN: the web process
	webSocket string // the daemon's socket for the web process
	ctlSocket string // the CLI's root-only socket
	reinject  string // Postfix's reinjection listener (no content filter)
	data      string // --data
	password  string // the first administrator's password
	readyRSS  float64

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan error // cmd.Wait's answer
}

// startDaemon builds cmd/postdeck into a temp dir, writes auditEntries
// audit entries into a new database (meanwhile) and starts the daemon
// with a private Postfix on free loopback ports; it stops on cleanup.
func startDaemon(b *testing.B, auditEntries int) *daemon {
	b.Helper()
	postfixtest.Require(b)
	dir := postfixtest.Dir(b)
	bin := filepath.Join(b.TempDir(), "postdeck")
	gobin, err := exec.LookPath("go")
	if err != nil {
		b.Fatalf("go command: %v", err)
	}
	prefill := make(chan error, 1)
	go func() { prefill <- writeAudit(filepath.Join(dir, "data", "postdeck.db"), auditEntries) }()
	build := exec.Command(gobin, "build", "-o", bin, "postdeck/cmd/postdeck")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	if err := <-prefill; err != nil {
		b.Fatalf("audit entries: %v", err)
	}
	port := func() string { return "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(b)) }
	listen := port()
	inst := mta.Instance{Private: true, BaseDir: filepath.Join(dir, "postfix"), ConfigDir: filepath.Join(dir, "postfix", "etc")}
	d := &daemon{bin: bin, inst: inst, base: "http://" + listen, data: filepath.Join(dir, "data"),
		webSocket: filepath.Join(dir, "web.sock"), ctlSocket: filepath.Join(dir, "ctl.sock"), reinject: port()}
	d.args = []string{"serve", "--private-postfix",
		"--data", d.data, "--postfix-config", inst.ConfigDir,
		"--listen", listen, "--socket", d.ctlSocket, "--web-socket", d.webSocket,
		"--smtp-listen", port(), "--mpa-listen", port(), "--reinject-listen", d.reinject,
		"--resolver", port(), "--log-format", "json", "--log-level", "info"}
	b.Cleanup(func() {
		d.stop(b)
		postfixtest.StopByPidFile(b, inst.QueueDir())
	})
	d.start(b)
	d.readyRSS = d.rssMB(b)
	d.replaceOneTimePassword(b)
	return d
}

// writeAudit fills a new database's audit log with n entries of the
// kinds an administrator's day writes (some with a main.cf diff).
func writeAudit(path string, n int) error {
	if n == 0 {
		return nil
	}
	db, err := store.Open(path)
	if err != nil {
		return err
	}
	diff := "--- main.cf\n+++ main.cf\n@@ -12,3 +12,3 @@\n mydestination =\n-relay_domains = example.com\n+relay_domains = example.com, example.net\n smtpd_banner = $myhostname ESMTP\n"
	for i := range n {
		e := store.AuditEntry{Actor: "admin (from 192.0.2.10)", Action: "settings", Result: "applied", Detail: "Postfix reloaded.", Diff: diff}
		switch i % 4 {
		case 1:
			e = store.AuditEntry{Actor: "oper (from 192.0.2.11)", Action: "queue hold", Result: "done", Detail: fmt.Sprintf("%d messages held", i%50+1)}
		case 2:
			e = store.AuditEntry{Actor: "admin (from 192.0.2.10)", Action: "login", Result: "logged in"}
		case 3:
			e = store.AuditEntry{Actor: "system", Action: "map spf.protection.outlook.com", Result: "unchanged", Detail: "No change."}
		}
		if err := db.AppendAudit(e); err != nil {
			_ = db.Close()
			return err
		}
	}
	return db.Close()
}

// start runs the daemon and waits for it to be ready.
func (d *daemon) start(b *testing.B) {
	b.Helper()
	cmd := exec.Command(d.bin, d.args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	ready := make(chan struct{})
	var logMu sync.Mutex
	var logBuf bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		closed := false
		for sc.Scan() {
			line := sc.Bytes()
			logMu.Lock()
			logBuf.Write(line)
			logBuf.WriteByte('\n')
			logMu.Unlock()
			var rec struct {
				Msg string `json:"msg"`
			}
			if json.Unmarshal(line, &rec) == nil {
				if rec.Msg == "postdeck is ready" && !closed {
					closed = true
					close(ready)
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		done <- cmd.Wait()
	}()
	d.mu.Lock()
	d.cmd, d.done = cmd, done
	d.mu.Unlock()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		logMu.Lock()
		defer logMu.Unlock()
		b.Fatalf("daemon not ready after 60s; log:\n%s", logBuf.String())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.password != "" {
		return // a restart: the password is the one set after the first start
	}
	// The first start: the one-time password is in the data directory's
	// initial-admin-password ("user: admin\npassword: PASSWORD\n").
	raw, err := os.ReadFile(filepath.Join(d.data, "initial-admin-password"))
	if err != nil {
		b.Fatalf("the first login's file: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if pw, ok := strings.CutPrefix(line, "password: "); ok {
			d.password = pw
		}
	}
	if d.password == "" {
		b.Fatalf("no one-time admin password in the first login's file: %q", raw)
	}
}

// stop sends SIGTERM and returns how long the daemon took to exit (it is
// killed after 60 s). Stopping a stopped daemon returns 0.
func (d *daemon) stop(b *testing.B) time.Duration {
	d.mu.Lock()
	cmd, done := d.cmd, d.done
	d.cmd = nil
	d.mu.Unlock()
	if cmd == nil {
		return 0
	}
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		b.Errorf("the daemon did not stop within 60 s of SIGTERM")
	}
	return time.Since(start)
}

// replaceOneTimePassword does what the first administrator must do before
// anything else: log in with the one-time password and set a new one.
func (d *daemon) replaceOneTimePassword(b *testing.B) {
	b.Helper()
	c := d.loginClient(b)
	if c == nil {
		b.FailNow()
	}
	body, _ := json.Marshal(map[string]string{"current_password": d.password, "new_password": "bench password " + d.password})
	req, _ := http.NewRequest("POST", d.base+"/api/v1/account/password", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(csrfHeader, c.csrf)
	resp, err := c.hc.Do(req)
	if err != nil {
		b.Fatalf("set the first password: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(resp.Body)
		b.Fatalf("set the first password: %d %s", resp.StatusCode, msg)
	}
	d.password = "bench password " + d.password
}

// rssMB is the daemon's VmRSS from /proc; peakMB its VmHWM.
func (d *daemon) rssMB(b *testing.B) float64 { return d.procStatus(b, "VmRSS:") }

func (d *daemon) peakMB(b *testing.B) float64 { return d.procStatus(b, "VmHWM:") }

func (d *daemon) procStatus(b *testing.B, field string) float64 {
	b.Helper()
	d.mu.Lock()
	cmd := d.cmd
	d.mu.Unlock()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			kb, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc status", field)
	return 0
}

// api calls the API over the root-only CLI socket and decodes the answer
// into out (when not nil).
func (d *daemon) api(b *testing.B, method, path string, in, out any) {
	b.Helper()
	hc := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", d.ctlSocket)
		}}}
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			b.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, "http://postdeck"+path, body)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		b.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			b.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// benchMainCF keeps mail for remote domains deferred without a delivery
// attempt (defer_transports: Postfix's "deferred transport") and without
// a retry for a day, so that a filled queue sits still through reloads.
const benchMainCF = "\n# bench: remote mail stays deferred\ndefer_transports = smtp\nminimal_backoff_time = 1d\nmaximal_backoff_time = 1d\nqueue_run_delay = 1d\n"

// deferMail makes remote mail stay deferred (benchMainCF).
func (d *daemon) deferMail(b *testing.B) {
	b.Helper()
	var doc struct {
		Text    string `json:"text"`
		Version string `json:"version"`
	}
	d.api(b, "GET", "/api/v1/mainconfig", nil, &doc)
	d.api(b, "PUT", "/api/v1/mainconfig", map[string]string{"text": doc.Text + benchMainCF, "version": doc.Version}, nil)
}

// queueCounts is the queue part of /api/v1/status.
func (d *daemon) queueCounts(b *testing.B) map[string]int {
	b.Helper()
	var st struct {
		Queue struct {
			Queues []struct {
				Name  string `json:"name"`
				Count int    `json:"count"`
			} `json:"queues"`
		} `json:"queue"`
	}
	d.api(b, "GET", "/api/v1/status", nil, &st)
	out := map[string]int{}
	for _, q := range st.Queue.Queues {
		out[q.Name] = q.Count
	}
	return out
}

// fillDeferred adds n deferred messages (600 bytes, one recipient each,
// spread over ten domains) through Postfix's reinjection listener, which
// has no content filter: Postfix's own smtpd and cleanup write them, its
// queue manager defers them (deferred transport, with that reason). It
// returns when the queue holds total messages, all deferred.
func (d *daemon) fillDeferred(b *testing.B, n, total int) {
	b.Helper()
	start := time.Now()
	const domains = 10
	for i := range domains {
		cmd := exec.Command(filepath.Join(postfixtest.SbinDir, "smtp-source"), "-d", "-s", "20", "-l", "600",
			"-m", strconv.Itoa(n/domains), "-f", "sender@bench.test", "-t", fmt.Sprintf("rcpt@d%d.bench.test", i), d.reinject)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("smtp-source: %v: %s", err, out)
		}
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		c := d.queueCounts(b)
		if c["deferred"] == total {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("queue after filling %d: %v, want %d deferred", n, c, total)
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.Logf("queued %d deferred messages in %v", n, time.Since(start).Round(time.Millisecond))
}

// change saves the MTA settings with another host name (an apply and a
// reload): the next request is the first after a change, with whatever
// the daemon caches cold.
func (d *daemon) change(b *testing.B) {
	b.Helper()
	var st map[string]any
	d.api(b, "GET", "/api/v1/settings", nil, &st)
	if st["hostname"] == "bench-a.example.test" {
		st["hostname"] = "bench-b.example.test"
	} else {
		st["hostname"] = "bench-a.example.test"
	}
	d.api(b, "PUT", "/api/v1/settings", st, nil)
}

// benchClient is one logged-in console user with its own connection.
type benchClient struct {
	base string
	hc   *http.Client
	csrf string
}

// benchReadBuffer is the clients' read buffer. The load runs on the
// machine it measures, and with Go's default of 4 KB a client read a
// 10 KB page in three or four system calls where it reads /healthz in
// one: a cost of the load generator (a browser reads 64 KB or more at
// once) that counted against the page.
const benchReadBuffer = 64 << 10

func (d *daemon) loginClient(b *testing.B) *benchClient {
	return d.loginClientAt(b, d.base, &http.Transport{MaxIdleConnsPerHost: 4, ReadBufferSize: benchReadBuffer})
}

// loginClientDirect is a logged-in client of the daemon's web socket
// itself, past the web process: the baseline of the split's cost.
func (d *daemon) loginClientDirect(b *testing.B) *benchClient {
	return d.loginClientAt(b, "http://postdeck", &http.Transport{MaxIdleConnsPerHost: 4, ReadBufferSize: benchReadBuffer,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", d.webSocket)
		}})
}

func (d *daemon) loginClientAt(b *testing.B, base string, tr *http.Transport) *benchClient {
	jar, _ := cookiejar.New(nil)
	c := &benchClient{base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	body, _ := json.Marshal(loginRequest{Username: "admin", Password: d.password})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		b.Errorf("login: %v", err)
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(resp.Body)
		b.Errorf("login: %d %s", resp.StatusCode, msg)
		return nil
	}
	var lr loginResponse
	if err := json.NewDecoder(resp.Body).Decode(&lr); err != nil {
		b.Errorf("login answer: %v", err)
		return nil
	}
	c.csrf = lr.CSRFToken
	return c
}

// get asks for path and reads the whole answer.
func (c *benchClient) get(path string) (int, error) {
	code, _, err := c.timedGet(path)
	return code, err
}

// timedGet asks for path, reads the whole answer and says when its first
// byte came (time to first byte).
func (c *benchClient) timedGet(path string) (int, time.Duration, error) {
	start := time.Now()
	var first time.Duration
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Since(start) }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", c.base+path, nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return resp.StatusCode, first, err
}

func (c *benchClient) status(b *testing.B, path string) int {
	b.Helper()
	code, err := c.get(path)
	if err != nil {
		b.Fatalf("GET %s: %v", path, err)
	}
	return code
}

// procCPU is the CPU time the daemon and its web process used, over n
// answers (when it is a load's).
type procCPU struct {
	daemon, web time.Duration
	n           int
}

func (c procCPU) sub(o procCPU) procCPU {
	return procCPU{c.daemon - o.daemon, c.web - o.web, c.n - o.n}
}
func (c procCPU) add(o procCPU) procCPU {
	return procCPU{c.daemon + o.daemon, c.web + o.web, c.n + o.n}
}

// cpu reads the user and system time of the daemon and of its web
// process (the child whose command line has the web verb) from /proc.
func (d *daemon) cpu(b *testing.B) procCPU {
	b.Helper()
	d.mu.Lock()
	pid := d.cmd.Process.Pid
	d.mu.Unlock()
	c := procCPU{daemon: procTime(b, pid)}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil || procParent(child) != pid {
			continue
		}
		if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child)); slices.Contains(strings.Split(string(cmdline), "\x00"), "web") {
			c.web = procTime(b, child)
		}
	}
	return c
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's times on Linux.
const clockTick = 10 * time.Millisecond

// statFields are the fields of /proc/PID/stat after the command name.
func statFields(pid int) []string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(raw[i+1:]))
}

func procParent(pid int) int {
	f := statFields(pid)
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// procTime is utime plus stime (fields 14 and 15 of stat).
func procTime(b *testing.B, pid int) time.Duration {
	b.Helper()
	f := statFields(pid)
	if len(f) < 13 {
		b.Fatalf("no /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %v %v", pid, err1, err2)
	}
	return time.Duration(u+s) * clockTick
}
