package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"postdeck/cluster/report"
	"postdeck/postfix/postfixtest"
)

// cnode is one postdeck daemon of a cluster test, with its own private
// Postfix and ports that stay the same across restarts.
type cnode struct {
	name      string
	base      string
	etc       string
	socket    string
	listen    string
	smtpPort  int
	mpaPort   int
	reinject  int
	endpoints string
	resolver  string
	sbin      string // "" is /usr/sbin
	d         *daemon
	exited    chan struct{} // closed when the daemon's process ended
}

func newCNode(t testing.TB, name, endpoints, resolver string) *cnode {
	t.Helper()
	base := postfixtest.Dir(t)
	n := &cnode{name: name, base: base, etc: filepath.Join(base, "postfix", "etc"),
		socket: filepath.Join(base, "run", "ctl.sock"), listen: "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t)),
		smtpPort: postfixtest.FreePort(t), mpaPort: postfixtest.FreePort(t), reinject: postfixtest.FreePort(t),
		endpoints: endpoints, resolver: resolver}
	t.Cleanup(func() {
		n.stop(t)
		postfixtest.StopByPidFile(t, filepath.Join(base, "postfix", "spool"))
	})
	return n
}

func (n *cnode) clusterArgs() []string {
	return []string{"--cluster-endpoints", n.endpoints, "--node-name", n.name}
}

// start starts the daemon, standalone or as a cluster node, and waits for
// its socket.
func (n *cnode) start(t testing.TB, bin string, clustered bool) {
	t.Helper()
	args := []string{"serve", "--private-postfix", "--data", filepath.Join(n.base, "data"),
		"--postfix-config", n.etc, "--listen", n.listen, "--socket", n.socket,
		"--smtp-listen", "127.0.0.1:" + strconv.Itoa(n.smtpPort), "--log-format", "text", "--log-level", "debug",
		"--mpa-listen", "127.0.0.1:" + strconv.Itoa(n.mpaPort),
		"--reinject-listen", "127.0.0.1:" + strconv.Itoa(n.reinject),
		"--resolver", n.resolver}
	if n.sbin != "" {
		args = append(args, "--postfix-sbin", n.sbin)
	}
	if clustered {
		args = append(args, n.clusterArgs()...)
	}
	d := &daemon{out: &postfixtest.SyncBuffer{}, socket: n.socket, etc: n.etc}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.d = d
	exited := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(exited) }()
	n.exited = exited
	waitFor(t, n.name+"'s socket", 60*time.Second, func() bool {
		select {
		case <-exited:
			t.Fatalf("%s exited at start:\n%s", n.name, n.output())
		default:
		}
		if c, err := net.Dial("unix", n.socket); err == nil {
			_ = c.Close()
			return true
		}
		return false
	}, n.output)
}

// stop stops the daemon by its pid (SIGTERM, SIGKILL after 30 s) and
// waits until it is gone.
func (n *cnode) stop(t testing.TB) {
	t.Helper()
	if n.d == nil {
		return
	}
	select {
	case <-n.exited:
		return
	default:
	}
	_ = n.d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		_ = n.d.cmd.Process.Kill()
		<-n.exited
	}
}

func (n *cnode) output() string {
	if n.d == nil {
		return ""
	}
	out := n.d.out.String()
	if len(out) > 6000 {
		out = "...\n" + out[len(out)-6000:]
	}
	if b, err := os.ReadFile(filepath.Join(n.base, "postfix", "maillog")); err == nil {
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		out += "\n" + n.name + " maillog (end):\n" + string(b)
	}
	return n.name + ":\n" + out
}

// api sends a request over the node's socket (root, no login) and
// returns the status and body.
func (n *cnode) api(t testing.TB, method, path string, in any) (int, []byte) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", n.socket)
	}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 3 * time.Minute}
	req, err := http.NewRequest(method, "http://postdeck"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v\n%s", method, path, n.name, err, n.output())
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// mustAPI is api that fails the test on a status other than 200.
func (n *cnode) mustAPI(t testing.TB, method, path string, in, out any) {
	t.Helper()
	code, body := n.api(t, method, path, in)
	if code != http.StatusOK {
		t.Fatalf("%s %s on %s: %d %s\n%s", method, path, n.name, code, body, n.output())
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, body)
		}
	}
}

func (n *cnode) view(t testing.TB) report.View {
	t.Helper()
	var v report.View
	n.mustAPI(t, "GET", "/api/v1/cluster", nil, &v)
	return v
}

func (n *cnode) postconf(t testing.TB, name string) string {
	t.Helper()
	out, err := exec.Command("/usr/sbin/postconf", "-c", n.etc, "-h", name).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// login logs in on the node's console listener and returns the status.
func (n *cnode) login(t testing.TB, user, password string) int {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": user, "password": password})
	resp, err := http.Post("http://"+n.listen+"/api/v1/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("login on %s: %v", n.name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// page logs in on the node's console and returns a console page's HTML.
func (n *cnode) page(t testing.TB, user, password, path string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	b, _ := json.Marshal(map[string]string{"username": user, "password": password})
	resp, err := c.Post("http://"+n.listen+"/api/v1/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login as %s on %s: %d", user, n.name, resp.StatusCode)
	}
	resp, err = c.Get("http://" + n.listen + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s on %s: %d %v", path, n.name, resp.StatusCode, err)
	}
	return string(body)
}

// sendMail submits one message to the node's smtpd.
func (n *cnode) sendMail(t testing.TB, subject string) {
	t.Helper()
	msg := "From: a@example.test\r\nTo: b@example.org\r\nSubject: " + subject + "\r\n\r\nbody\r\n"
	if err := smtp.SendMail("127.0.0.1:"+strconv.Itoa(n.smtpPort), nil, "a@example.test", []string{"b@example.org"}, []byte(msg)); err != nil {
		t.Fatalf("send mail through %s: %v\n%s", n.name, err, n.output())
	}
}

// runCLI runs the binary with args and returns its output.
// formCluster makes the first of nodes, started once alone (prep, when
// not nil, runs while it does), the first node of a cluster the others
// join, starts them all and waits until they apply the same revision. It
// returns what every node printed, for a failure's message.
func formCluster(t testing.TB, bin string, prep func(first *cnode), nodes ...*cnode) (diag func() string) {
	t.Helper()
	first := nodes[0]
	diag = func() string {
		var b strings.Builder
		for _, n := range nodes {
			b.WriteString(n.output())
		}
		return b.String()
	}
	first.start(t, bin, false)
	if prep != nil {
		prep(first)
	}
	first.stop(t)
	if out, err := runCLI(bin, append([]string{"cluster", "init", "--data", filepath.Join(first.base, "data")}, first.clusterArgs()...)...); err != nil {
		t.Fatalf("cluster init: %v\n%s", err, out)
	}
	names := []string{first.name}
	for _, n := range nodes[1:] {
		if out, err := runCLI(bin, append([]string{"cluster", "join", "--data", filepath.Join(n.base, "data")}, n.clusterArgs()...)...); err != nil {
			t.Fatalf("cluster join %s: %v\n%s", n.name, err, out)
		}
		names = append(names, n.name)
	}
	for _, n := range nodes {
		n.start(t, bin, true)
	}
	waitFor(t, "the nodes on the same revision", 60*time.Second, func() bool { return converged(first.view(t), names...) },
		func() string { return viewText(first.view(t)) }, diag)
	// A node takes the SPF maps from the cluster: one that saved them
	// at start waited for a cluster it did not follow yet (5 s a map).
	for _, n := range nodes {
		if strings.Contains(n.d.out.String(), "create empty spf map") {
			t.Errorf("%s saved an SPF map at start:\n%s", n.name, n.output())
		}
	}
	return diag
}

func runCLI(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// waitFor polls ok until it holds or within passes; diag adds evidence
// to the failure.
func waitFor(t testing.TB, what string, within time.Duration, ok func() bool, diag ...func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, d := range diag {
				b.WriteString(d())
				b.WriteString("\n")
			}
			t.Fatalf("waited %v for %s\n%s", within, what, b.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// spfDNS is a DNS server on loopback that answers the SPF record of one
// domain and counts its queries.
type spfDNS struct {
	addr    string
	queries atomic.Int64
}

func startSPFDNS(t testing.TB, domain, record string) *spfDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &spfDNS{addr: pc.LocalAddr().String()}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		for _, q := range r.Question {
			if q.Qtype == dns.TypeTXT && strings.EqualFold(q.Name, dns.Fqdn(domain)) {
				s.queries.Add(1)
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{record}})
			}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return s
}

// hidePCRE makes a directory of Postfix's commands in which postconf -m
// does not list pcre: a node that (for this test) lacks postfix-pcre.
func hidePCRE(t testing.TB) string {
	t.Helper()
	dir := postfixtest.Dir(t)
	entries, err := os.ReadDir("/usr/sbin")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "post") || e.Name() == "sendmail" {
			if e.Name() == "postconf" {
				continue
			}
			if err := os.Symlink(filepath.Join("/usr/sbin", e.Name()), filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	script := "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = -m ] && { /usr/sbin/postconf \"$@\" | grep -v '^pcre$'; exit 0; }; done\nexec /usr/sbin/postconf \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "postconf"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// nodeView finds a node in a view.
func nodeView(v report.View, name string) (report.NodeView, bool) {
	for _, n := range v.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return report.NodeView{}, false
}

// converged reports whether every named node is alive, applied the
// view's revision and is not failing.
func converged(v report.View, names ...string) bool {
	for _, name := range names {
		n, ok := nodeView(v, name)
		if !ok || !n.Alive || n.Status == nil || n.Status.Failing || n.Status.Applied != v.Revision {
			return false
		}
	}
	return v.Reachable
}

func viewText(v report.View) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
