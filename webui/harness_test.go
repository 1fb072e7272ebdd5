package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"postdeck/admin"
	"postdeck/jobs"
	"postdeck/mpa"
	"postdeck/mta"
	"postdeck/postfix/postfixtest"
	"postdeck/queue"
	"postdeck/store"
	"postdeck/webproxy"
)

// stack is the daemon's parts wired as in cmd/postdeck, with a private
// Postfix, for acceptance tests: the console/API on a loopback TCP port and
// the trusted unix socket.
type stack struct {
	db     *store.DB
	mgr    *mta.Manager
	mpa    *mpa.Server
	admin  *admin.Service
	queue  *queue.Queue
	srv    *Server
	base   string // http://127.0.0.1:PORT
	socket string
	inst   mta.Instance
	smtp   string // Postfix smtpd address
	// relay is the external relay host on 127.0.0.1: closed (421, so
	// mail stays deferred) until a test opens it with openRelay. It holds
	// its port from the start, so nothing else can take it.
	relay     *postfixtest.Sink
	relayPort int
}

// Test users, one per role, created by newStack.
const testPassword = "correct horse battery"

var testUsers = map[string]string{"admin": store.RoleAdmin, "oper": store.RoleOperator, "audit": store.RoleAuditor}

// stackOptions change newStack's defaults.
type stackOptions struct {
	// Resolver is the SPF refresher's DNS server (default: a closed
	// loopback port).
	Resolver string
	// ErrorQuotaEntries is the MPA's error-repository quota (default:
	// the MPA's).
	ErrorQuotaEntries int
	// ErrorQuotaBytes is its byte quota (default: the MPA's).
	ErrorQuotaBytes int64
	// MinFreeBytes is the MPA's free-space floor (default: the MPA's).
	MinFreeBytes int64
	// SessionIdle is the console sessions' idle timeout (default: the
	// console's).
	SessionIdle time.Duration
	// Prepare runs on the stack's empty base directory before anything
	// is created in it (a test mounts a small file system there).
	Prepare func(t *testing.T, base string)
}

func newStack(t *testing.T) *stack {
	t.Helper()
	return newStackWith(t, stackOptions{})
}

func newStackWith(t *testing.T, opts stackOptions) *stack {
	t.Helper()
	postfixtest.Require(t)
	base := postfixtest.Dir(t)
	if opts.Prepare != nil {
		opts.Prepare(t, base)
	}
	db, err := store.Open(filepath.Join(base, "data", "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	for name, role := range testUsers {
		hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PutUser(store.User{Username: name, PasswordHash: hash, Role: role, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	inst := mta.Instance{
		ConfigDir:      filepath.Join(base, "postfix", "etc"),
		Private:        true,
		BaseDir:        filepath.Join(base, "postfix"),
		SMTPListen:     "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t)),
		ReinjectListen: "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t)),
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	inst.MPAListen = "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	mpaSrv, err := mpa.New(mpa.Config{
		Listen:       inst.MPAListen,
		ReinjectAddr: inst.ReinjectListen,
		SpoolDir:     filepath.Join(base, "data", "mpa"),
		RetryMin:     time.Second,
		RetryMax:     5 * time.Second,
		// The MPA's default when zero.
		ErrorQuotaEntries: opts.ErrorQuotaEntries,
		ErrorQuotaBytes:   opts.ErrorQuotaBytes,
		MinFreeBytes:      opts.MinFreeBytes,
	}, db, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := mpaSrv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = mpaSrv.Shutdown(ctx)
	})
	mgr, err := mta.New(mta.Config{Instance: inst, AfterReload: mpaSrv.Reconnect}, db, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { postfixtest.StopByPidFile(t, inst.QueueDir()) })
	q := queue.New(mgr.Postfix(), log)
	ops := admin.New(admin.Config{DB: db, MTA: mgr, MPA: mpaSrv, Log: log, Queue: q, SubmitAddr: inst.SubmitAddr()})
	if _, err := ops.ApplyAtStart(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The queue index, as the daemon runs it (serve.go): pages and the
	// dashboard read it.
	if err := q.Start(context.Background(), queue.IndexOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = q.Shutdown(ctx)
	})
	// Mail leaves through a relay host on loopback (closed until a test
	// opens a sink there): tests never look up MX records.
	relay := postfixtest.NewClosedSink(t)
	relayPort := relay.Port
	settings := store.DefaultSettings()
	settings.Hostname = "mx.gw.example.test"
	settings.ExternalRelayHost = "[127.0.0.1]:" + strconv.Itoa(relayPort)
	if _, err := ops.SaveSettings(context.Background(), admin.Root, admin.SettingsDoc{Settings: settings}); err != nil {
		t.Fatal(err)
	}
	if opts.Resolver == "" {
		opts.Resolver = "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	}
	sched := jobs.NewScheduler(log)
	refresher, err := jobs.NewRefresher(jobs.RefresherConfig{
		DB: db, Maps: ops.RefresherMaps(), Scheduler: sched, Logger: log, OnScheduled: ops.AuditScheduledRefresh,
		// Loopback only: tests that refresh start their own DNS server.
		Resolver: opts.Resolver, QueryTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ops.SetRefresher(refresher)
	if err := refresher.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The console is served as postdeck serve does it: the network's
	// requests reach a web process (package webproxy, here in the test's
	// process) that forwards them to the daemon's web socket.
	srv := New(Config{SessionIdle: opts.SessionIdle}, Deps{Admin: ops, Log: log})
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sockPath := filepath.Join(base, "ctl.sock")
	sock, err := net.Listen("unix", sockPath)
	if err != nil {
		t.Fatal(err)
	}
	webPath := filepath.Join(base, "web.sock")
	webSock, err := net.Listen("unix", webPath)
	if err != nil {
		t.Fatal(err)
	}
	proxy := webproxy.New(webproxy.Config{Socket: webPath, Log: log})
	go func() { _ = srv.ServeWeb(webSock) }()
	go func() { _ = srv.Serve(sock, true) }()
	go func() { _ = proxy.Serve(tcp) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = proxy.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
	})
	st := &stack{db: db, mgr: mgr, mpa: mpaSrv, admin: ops, queue: q, srv: srv, base: "http://" + tcp.Addr().String(), socket: sockPath, inst: inst, smtp: inst.SMTPListen, relay: relay, relayPort: relayPort}
	if err := postfixtest.WaitPort(tcp.Addr().String(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return st
}

// openRelay lets the relay host take mail from now on and returns it.
func (st *stack) openRelay(t *testing.T) *postfixtest.Sink {
	t.Helper()
	st.relay.SetClosed(false)
	return st.relay
}

// socketClient is an HTTP client for the trusted unix socket.
func (st *stack) socketClient() *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", st.socket)
		},
	}}
}

// apiResponse is a decoded API answer.
type apiResponse struct {
	Status int
	Body   []byte
}

func (r apiResponse) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// socketDo calls the API over the trusted socket.
func (st *stack) socketDo(t *testing.T, method, path string, body any) apiResponse {
	t.Helper()
	return doJSON(t, st.socketClient(), method, "http://postdeck"+path, body, nil)
}

// doJSON sends body as JSON (a string is sent as is) with extra headers.
func doJSON(t *testing.T, c *http.Client, method, url string, body any, hdr map[string]string) apiResponse {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apiResponse{Status: resp.StatusCode, Body: raw}
}

// liveFiles snapshots main.cf, master.cf and maps.d (contents and modes).
func (st *stack) liveFiles(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range []string{st.inst.ConfigDir, st.inst.MapsDir()} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			p := filepath.Join(dir, e.Name())
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := e.Info()
			out[p] = fi.Mode().String() + "\n" + string(b)
		}
	}
	return out
}

func sameFiles(a, b map[string]string) (string, bool) {
	if len(a) != len(b) {
		return "file count", false
	}
	for k, v := range a {
		if b[k] != v {
			return k, false
		}
	}
	return "", true
}
