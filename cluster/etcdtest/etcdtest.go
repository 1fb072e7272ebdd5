// Package etcdtest starts a real etcd cluster for tests: members of
// Debian's etcd-server (/usr/bin/etcd, the v3 API) on loopback ports that
// were free a moment ago (postfixtest.FreePort: below the ephemeral range,
// never handed to two test processes), each with its data directory under the test's
// temporary directory. Members are stopped by their process id, one at a
// time or all at cleanup, never by name: other engineers' and CI's etcd
// processes on the same machine are left alone.
//
// Without /usr/bin/etcd the tests skip; with POSTDECK_REQUIRE_ETCD=1 (or
// POSTDECK_REQUIRE_POSTFIX=1, which CI sets) they fail instead.
package etcdtest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// Binary is Debian's etcd server.
const Binary = "/usr/bin/etcd"

// Require skips the test when etcd is not installed, or fails it when the
// environment says it must be there.
func Require(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Binary); err == nil {
		return
	}
	if os.Getenv("POSTDECK_REQUIRE_ETCD") == "1" || os.Getenv("POSTDECK_REQUIRE_POSTFIX") == "1" {
		t.Fatalf("etcd is required but %s is missing (apt-get install etcd-server)", Binary)
	}
	t.Skipf("etcd not available (%s missing); set POSTDECK_REQUIRE_ETCD=1 to fail instead", Binary)
}

// Member is one etcd process.
type Member struct {
	Name      string
	ClientURL string
	peerURL   string
	dataDir   string
	args      []string
	health    *tls.Config // for /health on a TLS client port

	mu  sync.Mutex
	cmd *exec.Cmd
	out *bytes.Buffer
	// done is closed when the process exits.
	done chan struct{}
}

// Cluster is a set of members that form one etcd cluster.
type Cluster struct {
	t       testing.TB
	Members []*Member
}

// Start starts an n-member cluster and waits until it has a leader.
func Start(t testing.TB, n int) *Cluster { return StartWith(t, n, Options{}) }

// Options change how the members run.
type Options struct {
	// ClientTLS are the member flags for TLS on the client port
	// (--cert-file, --key-file, --trusted-ca-file, --client-cert-auth):
	// client URLs are https then.
	ClientTLS []string
	// Health is the client TLS configuration the health checks use
	// (with ClientTLS).
	Health *tls.Config
}

// StartWith starts an n-member cluster with opts.
func StartWith(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	Require(t)
	scheme := "http://"
	if len(opts.ClientTLS) > 0 {
		scheme = "https://"
	}
	base := t.TempDir()
	c := &Cluster{t: t}
	var initial []string
	for i := range n {
		m := &Member{
			Name:      "etcd" + strconv.Itoa(i+1),
			ClientURL: scheme + "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t)),
			peerURL:   "http://127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t)),
			dataDir:   filepath.Join(base, "etcd"+strconv.Itoa(i+1)),
		}
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"="+m.peerURL)
	}
	for _, m := range c.Members {
		m.args = []string{
			"--name", m.Name, "--data-dir", m.dataDir,
			"--listen-client-urls", m.ClientURL, "--advertise-client-urls", m.ClientURL,
			"--listen-peer-urls", m.peerURL, "--initial-advertise-peer-urls", m.peerURL,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "postdeck-test",
			// A shared 2-core machine: a leader that misses a beat under
			// load should not start an election at once.
			"--heartbeat-interval", "100", "--election-timeout", "1500",
			"--max-request-bytes", strconv.Itoa(8 << 20),
			"--log-level", "warn",
		}
		m.args = append(m.args, opts.ClientTLS...)
		m.health = opts.Health
		m.start(t)
	}
	t.Cleanup(c.StopAll)
	c.WaitHealthy(t, 30*time.Second)
	return c
}

// Endpoints are the members' client URLs, comma-separated.
func (c *Cluster) Endpoints() string {
	var out []string
	for _, m := range c.Members {
		out = append(out, m.ClientURL)
	}
	return strings.Join(out, ",")
}

func (m *Member) start(t testing.TB) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.out = &bytes.Buffer{}
	m.cmd = exec.Command(Binary, m.args...)
	m.cmd.Stdout, m.cmd.Stderr = &lockedWriter{mu: &m.mu, w: m.out}, &lockedWriter{mu: &m.mu, w: m.out}
	m.cmd.Env = append(os.Environ(), "ETCD_UNSUPPORTED_ARCH=")
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start etcd member %s: %v", m.Name, err)
	}
	m.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(m.cmd, m.done)
}

// Stop stops the member by its pid (SIGTERM, then SIGKILL after 10 s).
func (m *Member) Stop() {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Pause stops the member's process by its pid (SIGSTOP) without ending
// it: its sockets stay open and take requests that get no answer, as
// from a member that hangs (a full disk, a stalled fsync). The test's
// cleanup resumes it, so that Stop can end it.
func (m *Member) Pause(t testing.TB) {
	t.Helper()
	m.mu.Lock()
	cmd := m.cmd
	m.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		t.Fatalf("pause etcd member %s: not started", m.Name)
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("pause etcd member %s: %v", m.Name, err)
	}
	t.Cleanup(m.Resume)
	// The kernel stops the process once one of its threads runs again:
	// on a loaded machine its other threads went on for a moment, and
	// answered a request sent right after the signal (a commit that
	// "hung" was saved: TestSettlingAfterTheCallerWentAway, CI of
	// 2026-12-07). Paused means every thread is stopped.
	deadline := time.Now().Add(10 * time.Second)
	for {
		all, err := threadsStopped(cmd.Process.Pid)
		if err != nil {
			t.Fatalf("pause etcd member %s: %v", m.Name, err)
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pause etcd member %s: its threads are still running 10 s after SIGSTOP", m.Name)
		}
		time.Sleep(time.Millisecond)
	}
}

// threadsStopped reports whether every thread of process pid is stopped
// (state T in /proc/pid/task/*/stat).
func threadsStopped(pid int) (bool, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
		if os.IsNotExist(err) {
			continue // a thread that ended
		}
		if err != nil {
			return false, err
		}
		// "pid (comm) S ...": the state follows the last parenthesis
		// (comm may hold one).
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 || i+2 >= len(stat) {
			return false, fmt.Errorf("%s/%s/stat: no state in %q", dir, task.Name(), stat)
		}
		if st := stat[i+2]; st != 'T' && st != 't' {
			return false, nil
		}
	}
	return len(tasks) > 0, nil
}

// Resume continues a paused member (SIGCONT by its pid).
func (m *Member) Resume() {
	m.mu.Lock()
	cmd := m.cmd
	m.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(syscall.SIGCONT)
	}
}

// Restart starts a stopped member again with its data directory.
func (m *Member) Restart(t testing.TB) {
	t.Helper()
	m.Stop()
	// The restarted member rejoins with what its data directory knows.
	for i, a := range m.args {
		if a == "--initial-cluster-state" {
			m.args[i+1] = "existing"
		}
	}
	m.start(t)
}

// Running reports whether the member's process runs.
func (m *Member) Running() bool {
	m.mu.Lock()
	done := m.done
	m.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Output is what the member printed (warnings and errors).
func (m *Member) Output() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out.String()
}

// StopAll stops every member.
func (c *Cluster) StopAll() {
	for _, m := range c.Members {
		m.Stop()
	}
}

// Leader returns the member that is the raft leader now, asking each
// running member's /metrics (etcd_server_is_leader 1).
func (c *Cluster) Leader(t testing.TB) *Member {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range c.Members {
			if !m.Running() {
				continue
			}
			if body, err := httpGet(m.ClientURL+"/metrics", m.health); err == nil && strings.Contains(body, "\netcd_server_is_leader 1") {
				return m
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("etcd cluster has no leader")
	return nil
}

// WaitHealthy waits until every running member answers /health with true.
func (c *Cluster) WaitHealthy(t testing.TB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, m := range c.Members {
		if !m.Running() {
			continue
		}
		for {
			body, err := httpGet(m.ClientURL+"/health", m.health)
			if err == nil && strings.Contains(body, `"health":"true"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("etcd member %s not healthy (%v %s):\n%s", m.Name, err, body, m.Output())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w.Len() > 1<<20 {
		return len(p), nil // bounded: the start of the output is what explains a failure
	}
	return l.w.Write(p)
}

// httpGet fetches url with a short timeout; etcd's client port speaks
// plain HTTP for /health and /v2/stats.
func httpGet(url string, tlsConf *tls.Config) (string, error) {
	client := http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return string(b), err
}
