package webproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// PeerHeader carries the TCP peer's address from the web process to the
// daemon. The daemon reads it only from requests on its web socket; the
// web process drops any X-Postdeck-* header a client sends.
const PeerHeader = "X-Postdeck-Peer"

// headerPrefix is the web process's header namespace: nothing of it comes
// from the network.
const headerPrefix = "X-Postdeck-"

// Limits bound what one client can make the web process hold. Every field
// has a default (DefaultLimits); a zero field means the default.
type Limits struct {
	// MaxHeaderBytes bounds the request line and headers together.
	MaxHeaderBytes int
	// MaxTargetBytes bounds the request target (path and query).
	MaxTargetBytes int
	// MaxBodyBytes bounds a request body; more is a 413. The console's
	// largest legitimate bodies are a 100,000-line map and a restore
	// through the browser.
	MaxBodyBytes int64
	// MaxBodyBytesInFlight bounds the request bodies held at once, here
	// and so at the daemon, which reads each forwarded body whole: a
	// request whose body would pass it gets a 503. MaxBodyBytes times
	// MaxInFlight is 8 GiB, which anybody could send without logging in.
	MaxBodyBytesInFlight int64
	// ReadHeaderTimeout is how long a client may take to send the
	// request line and headers; ReadTimeout the whole request.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	// WriteTimeout bounds the answer, including the daemon's work (an
	// apply, an SPF refresh), but a backup download's (BackupStall).
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection without requests.
	IdleTimeout time.Duration
	// MaxConns bounds open client connections: further ones wait in the
	// kernel's accept queue.
	MaxConns int
	// MaxInFlight bounds requests being forwarded at once (and so the
	// request bodies held in memory): further ones get a 503.
	MaxInFlight int
	// UpstreamTimeout bounds the daemon's answer, from the request to its
	// last byte; a backup download's only to its first byte.
	UpstreamTimeout time.Duration
	// BackupStall bounds a backup download (GET /api/v1/backup) by
	// progress instead of total time: it ends when the daemon sent no
	// byte, or the client took none, for this long. A download that
	// moves, however slowly, goes on (a backup's size has no bound, nor
	// has the time a slow link takes for it).
	BackupStall time.Duration
}

// backupPath is the route whose answer is bounded by BackupStall.
const backupPath = "/api/v1/backup"

// maxWholeAnswer is the largest answer body the web process reads whole
// before passing it on; larger ones stream through.
const maxWholeAnswer = 1 << 20

// DefaultLimits are the web process's limits unless a test sets others.
func DefaultLimits() Limits {
	return Limits{
		MaxHeaderBytes: 64 << 10,
		MaxTargetBytes: 8 << 10,
		MaxBodyBytes:   32 << 20,
		// Four bodies of the largest size at once.
		MaxBodyBytesInFlight: 128 << 20,
		ReadHeaderTimeout:    10 * time.Second,
		ReadTimeout:          60 * time.Second,
		WriteTimeout:         150 * time.Second,
		IdleTimeout:          120 * time.Second,
		MaxConns:             1024,
		MaxInFlight:          256,
		UpstreamTimeout:      140 * time.Second,
		BackupStall:          60 * time.Second,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxTargetBytes <= 0 {
		l.MaxTargetBytes = d.MaxTargetBytes
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxBodyBytesInFlight <= 0 {
		l.MaxBodyBytesInFlight = d.MaxBodyBytesInFlight
	}
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = d.ReadTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = d.WriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.MaxConns <= 0 {
		l.MaxConns = d.MaxConns
	}
	if l.MaxInFlight <= 0 {
		l.MaxInFlight = d.MaxInFlight
	}
	if l.UpstreamTimeout <= 0 {
		l.UpstreamTimeout = d.UpstreamTimeout
	}
	if l.BackupStall <= 0 {
		l.BackupStall = d.BackupStall
	}
	return l
}

// Config is what the web process needs: where the daemon listens, the
// console's TLS (nil: plain HTTP), limits and a logger.
type Config struct {
	Socket string
	TLS    *tls.Config
	Limits Limits
	Log    *slog.Logger
}

// Proxy forwards the console's requests to the daemon.
type Proxy struct {
	cfg    Config
	lim    Limits
	log    *slog.Logger
	client *fasthttp.HostClient
	// backup is the client of backup downloads, whose connections
	// bound each read by BackupStall once the answer has begun
	// (progressConn).
	backup   *fasthttp.HostClient
	inFlight chan struct{}

	bodyMu    sync.Mutex
	bodyBytes int64 // request bodies held (MaxBodyBytesInFlight)

	mu      sync.Mutex
	servers []*http.Server
	// fresh are the connections that have not sent a request yet
	// (browsers open spare ones ahead); closing is set by Shutdown.
	fresh   map[net.Conn]struct{}
	closing bool
}

// New returns a Proxy; Serve starts listeners.
func New(cfg Config) *Proxy {
	lim := cfg.Limits.withDefaults()
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	socket := cfg.Socket
	dial := func(string) (net.Conn, error) {
		return net.DialTimeout("unix", socket, 5*time.Second)
	}
	return &Proxy{
		cfg: cfg, lim: lim, log: log,
		inFlight: make(chan struct{}, lim.MaxInFlight),
		client:   newClient(lim, dial),
		backup: newClient(lim, func(addr string) (net.Conn, error) {
			c, err := dial(addr)
			if err != nil {
				return nil, err
			}
			return &progressConn{Conn: c, stall: lim.BackupStall}, nil
		}),
	}
}

// newClient is a client of the daemon's socket, dialed by dial: fasthttp's
// client, the cheapest per request (the web process shares two cores with
// the daemon and Postfix), writing each request anew from the fields
// checked here. Only idempotent requests are ever retried on a broken
// connection.
func newClient(lim Limits, dial fasthttp.DialFunc) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:     "postdeck",
		Dial:     dial,
		MaxConns: lim.MaxInFlight,
		// A console page's answer in one read (the default 4 KB
		// buffer took three for a 10 KB page).
		ReadBufferSize: 16 << 10,
		// An answer with a length above this is streamed to the
		// client as it arrives; smaller ones are read whole (and
		// sent in one write). Without it fasthttp reads every answer
		// with a length whole: a message download of tens of
		// megabytes would sit in the web process's memory.
		MaxResponseBodySize:           maxWholeAnswer,
		MaxIdleConnDuration:           90 * time.Second,
		ReadTimeout:                   lim.UpstreamTimeout,
		WriteTimeout:                  30 * time.Second,
		MaxConnWaitTimeout:            lim.UpstreamTimeout,
		StreamResponseBody:            true,
		DisablePathNormalizing:        true, // the daemon sees the path the client sent, as on TCP
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: false,
	}
}

// progressConn is a connection of the backup client. fasthttp sets its
// read deadline once per answer (UpstreamTimeout), before the first
// byte: the daemon writes the whole archive to a file before it answers,
// and has that long for it. Once the answer has begun, each read's
// deadline moves BackupStall ahead instead, so that a download ends only
// when the daemon sent nothing for that long (as UpstreamTimeout alone, a
// slow download was cut once it had taken 140 s). fasthttp uses a
// connection from one goroutine at a time.
type progressConn struct {
	net.Conn
	stall   time.Duration
	started bool // a byte of the current answer has arrived
}

func (c *progressConn) SetReadDeadline(t time.Time) error {
	c.started = false // a new answer: fasthttp's deadline until its first byte
	return c.Conn.SetReadDeadline(t)
}

func (c *progressConn) Read(p []byte) (int, error) {
	if c.started {
		if err := c.Conn.SetReadDeadline(time.Now().Add(c.stall)); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.started = true
	}
	return n, err
}

// Serve answers on ln (TCP; wrapped in TLS when configured) until
// Shutdown.
func (p *Proxy) Serve(ln net.Listener) error {
	ln = newLimitListener(ln, p.lim.MaxConns)
	if p.cfg.TLS != nil {
		conf := p.cfg.TLS.Clone()
		conf.NextProtos = []string{"http/1.1"}
		ln = tls.NewListener(ln, conf)
	}
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: p.lim.ReadHeaderTimeout,
		ReadTimeout:       p.lim.ReadTimeout,
		WriteTimeout:      p.lim.WriteTimeout,
		IdleTimeout:       p.lim.IdleTimeout,
		MaxHeaderBytes:    p.lim.MaxHeaderBytes,
		// HTTP/1.1 only: the smallest parser that serves a browser.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:     slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
		ConnState:    p.track,
		// The handler finds the TCP connection below TLS, to gather an
		// answer's writes (limitConn.hold).
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*tls.Conn); ok {
				c = tc.NetConn()
			}
			if lc, ok := c.(*limitConn); ok {
				ctx = context.WithValue(ctx, connKey{}, lc)
			}
			return ctx
		},
	}
	p.mu.Lock()
	p.servers = append(p.servers, srv)
	p.mu.Unlock()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// connKey is the request context's key of its *limitConn.
type connKey struct{}

// track keeps the connections that have not sent a request yet, for
// Shutdown.
func (p *Proxy) track(c net.Conn, st http.ConnState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st != http.StateNew {
		delete(p.fresh, c)
		return
	}
	if p.closing {
		_ = c.Close()
		return
	}
	if p.fresh == nil {
		p.fresh = make(map[net.Conn]struct{})
	}
	p.fresh[c] = struct{}{}
}

// Shutdown stops every listener, waiting for requests in flight. Idle
// keep-alive connections are closed at once, and so are connections that
// have not sent a request (net/http would wait 5 s for each: a browser
// tab's spare connection would hold the daemon's stop up).
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	servers := p.servers
	p.servers = nil
	p.closing = true
	for c := range p.fresh {
		_ = c.Close()
	}
	clear(p.fresh)
	p.mu.Unlock()
	var errs []error
	for _, s := range servers {
		errs = append(errs, s.Shutdown(ctx))
	}
	p.client.CloseIdleConnections()
	p.backup.CloseIdleConnections()
	return errors.Join(errs...)
}

// allowedMethods are the methods postdeck's routes take (HEAD is GET's).
var allowedMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true, http.MethodDelete: true,
}

// AllowedMethod tells whether the web process forwards requests with
// method m; others get a 405 from the web process itself.
func AllowedMethod(m string) bool { return allowedMethods[m] }

// hopHeaders are meaningful for one connection only and never forwarded
// (RFC 9110 section 7.6.1), in either direction.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// ServeHTTP checks one request, forwards it to the daemon re-serialized,
// and copies the answer back.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case p.inFlight <- struct{}{}:
		defer func() { <-p.inFlight }()
	default:
		p.refuse(w, r, http.StatusServiceUnavailable, "The console is busy; try again in a moment.")
		return
	}
	if !allowedMethods[r.Method] {
		w.Header().Set("Allow", "GET, HEAD, POST, PUT, DELETE")
		p.refuse(w, r, http.StatusMethodNotAllowed, "Method not allowed.")
		return
	}
	if msg := p.badTarget(r); msg != "" {
		p.refuse(w, r, http.StatusBadRequest, msg)
		return
	}
	if encodedBody(r.Header) {
		p.refuse(w, r, http.StatusUnsupportedMediaType, "Compressed request bodies are not accepted; send the body uncompressed.")
		return
	}
	if r.ContentLength > p.lim.MaxBodyBytes {
		p.refuse(w, r, http.StatusRequestEntityTooLarge, "The request body is too large.")
		return
	}
	var body []byte
	var err error
	budget := &bodyBudget{p: p}
	defer budget.release()
	if r.ContentLength != 0 { // -1 (chunked) or a length: read it all
		budget.r = io.LimitReader(r.Body, p.lim.MaxBodyBytes+1)
		body, err = io.ReadAll(budget)
	}
	if errors.Is(err, errBodyBudget) {
		p.refuse(w, r, http.StatusServiceUnavailable, "The console is busy; try again in a moment.")
		return
	}
	if err != nil {
		p.refuse(w, r, http.StatusBadRequest, "The request body could not be read.")
		return
	}
	if int64(len(body)) > p.lim.MaxBodyBytes {
		p.refuse(w, r, http.StatusRequestEntityTooLarge, "The request body is too large.")
		return
	}
	hdr := http.Header{}
	copyHeaders(hdr, r.Header)
	for k := range hdr {
		if strings.HasPrefix(k, headerPrefix) {
			delete(hdr, k)
		}
	}
	// The body is complete: nothing to expect a 100 Continue for.
	hdr.Del("Expect")
	hdr.Del("Content-Length")
	hdr.Del("Host")

	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	req.Header.DisableNormalizing()
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(r.RequestURI)
	req.Header.SetHost(r.Host)
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set(PeerHeader, peerAddr(r.RemoteAddr))
	if len(body) > 0 || r.Method == http.MethodPost || r.Method == http.MethodPut {
		req.SetBodyRaw(body)
	}

	// A backup download is bounded by progress on both sides
	// (BackupStall), every other answer by total time (UpstreamTimeout
	// here, WriteTimeout towards the client).
	backup := r.Method == http.MethodGet && r.URL.EscapedPath() == backupPath
	client := p.client
	if backup {
		client = p.backup
	}
	if err := client.Do(req, resp); err != nil {
		if r.Context().Err() == nil {
			p.log.Warn("web: the daemon did not answer", "err", err, "remote", peerAddr(r.RemoteAddr))
		}
		p.refuse(w, r, http.StatusBadGateway, "postdeck's daemon is not answering; try again in a moment.")
		return
	}
	var err2 error
	defer func() {
		if err2 != nil {
			// The answer was not read to its end: its connection
			// cannot carry another one (fasthttp would put it back).
			resp.SetConnectionClose()
		}
		_ = resp.CloseBodyStream()
	}()
	answer := http.Header{}
	resp.Header.VisitAll(func(k, v []byte) {
		answer.Add(string(k), string(v))
	})
	copyHeaders(w.Header(), answer)
	if cl := resp.Header.ContentLength(); cl >= 0 {
		w.Header().Set("Content-Length", strconv.Itoa(cl))
	}
	// An answer of a known length up to maxWholeAnswer leaves in one
	// write, headers and body (limit_listener.go); the flush at the end
	// needs that length, or net/http would chunk the body.
	lc, ok := r.Context().Value(connKey{}).(*limitConn)
	cl := resp.Header.ContentLength()
	gather := ok && cl >= 0 && cl <= maxWholeAnswer
	if gather {
		lc.hold()
		defer func() { _ = lc.send() }()
	}
	w.WriteHeader(resp.StatusCode())
	if bs := resp.BodyStream(); bs != nil && backup {
		err2 = copyByProgress(w, bs, p.lim.BackupStall)
	} else if bs != nil {
		_, err2 = io.Copy(w, bs)
	} else {
		_, err2 = w.Write(resp.Body())
	}
	if gather && err2 == nil {
		err2 = http.NewResponseController(w).Flush()
	}
	if err2 != nil && r.Context().Err() == nil {
		p.log.Debug("web: copy the answer", "err", err2)
	}
	if err2 != nil {
		// The answer is cut: the client must see it so. Returning would
		// end a chunked answer as complete (a backup download, whose
		// daemon went silent, saved as a truncated file); net/http
		// closes the connection instead.
		panic(http.ErrAbortHandler)
	}
}

// copyByProgress copies a backup download to the client. net/http sets
// the connection's write deadline once per answer (WriteTimeout): as
// that alone, a download was cut once it had taken 150 s, a truncated
// file. Before each write the deadline moves stall ahead instead, so
// that a write ends with a timeout only when the client took nothing
// for that long.
func copyByProgress(w http.ResponseWriter, src io.Reader, stall time.Duration) error {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if err := rc.SetWriteDeadline(time.Now().Add(stall)); err != nil {
				return err
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// badTarget returns why the request target is refused, or "".
func (p *Proxy) badTarget(r *http.Request) string {
	t := r.RequestURI
	switch {
	case len(t) > p.lim.MaxTargetBytes:
		return "The request target is too long."
	case t == "" || t[0] != '/' || r.URL.IsAbs() || r.URL.Host != "":
		return "The request target must be a path."
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c >= 0x7f || c == '\\' || c == '#' {
			return "The request target has a character that is not allowed."
		}
	}
	return ""
}

// encodedBody tells whether a request's body is compressed: a
// Content-Encoding other than identity. The daemon's fiber would inflate
// it without bound (MaxBodyBytes counts the compressed bytes), and
// refuses it too; no client of postdeck compresses a request.
func encodedBody(h http.Header) bool {
	for _, v := range h.Values("Content-Encoding") {
		for _, coding := range strings.Split(v, ",") {
			if coding = strings.TrimSpace(coding); coding != "" && !strings.EqualFold(coding, "identity") {
				return true
			}
		}
	}
	return false
}

// errBodyBudget is a request body past MaxBodyBytesInFlight.
var errBodyBudget = errors.New("request bodies in flight over their budget")

// bodyBudget reads a request body, taking its bytes from the proxy's
// MaxBodyBytesInFlight as they arrive (not its Content-Length ahead: a
// client announcing 32 MiB and sending nothing would hold them), and
// gives them back with release once the daemon has answered.
type bodyBudget struct {
	p    *Proxy
	r    io.Reader
	held int64
}

func (b *bodyBudget) Read(buf []byte) (int, error) {
	n, err := b.r.Read(buf)
	if n > 0 {
		b.p.bodyMu.Lock()
		ok := b.p.bodyBytes+int64(n) <= b.p.lim.MaxBodyBytesInFlight
		if ok {
			b.p.bodyBytes += int64(n)
			b.held += int64(n)
		}
		b.p.bodyMu.Unlock()
		if !ok {
			return 0, errBodyBudget
		}
	}
	return n, err
}

func (b *bodyBudget) release() {
	if b.held == 0 {
		return
	}
	b.p.bodyMu.Lock()
	b.p.bodyBytes -= b.held
	b.p.bodyMu.Unlock()
	b.held = 0
}

// copyHeaders copies header fields but the hop-by-hop ones and those a
// Connection header names.
func copyHeaders(dst, src http.Header) {
	var named []string
	for _, v := range src.Values("Connection") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				named = append(named, http.CanonicalHeaderKey(f))
			}
		}
	}
	for k, vs := range src {
		dst[k] = append(dst[k][:0:0], vs...)
	}
	for _, h := range hopHeaders {
		dst.Del(h)
	}
	for _, h := range named {
		dst.Del(h)
	}
}

// peerAddr is the address of a TCP peer ("192.0.2.1:5678" -> "192.0.2.1"),
// IPv4-mapped addresses unmapped; "unknown" for anything else.
func peerAddr(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return "unknown"
	}
	return ap.Addr().Unmap().WithZone("").String()
}

// refuse answers a request the web process does not forward: JSON for
// the API and /metrics, text otherwise, never with internal detail.
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	if code >= 500 || code == http.StatusRequestEntityTooLarge {
		h.Set("Connection", "close")
	}
	path := r.URL.Path
	if strings.HasPrefix(path, "/api/") || path == "/metrics" {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"error": `+strconv.Quote(msg)+"}\n")
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}
