package webui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"postdeck/admin"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Deps are what the web layer serves: the operations layer, and a logger.
type Deps struct {
	Admin *admin.Service
	Log   *slog.Logger
}

// Config holds listener options.
type Config struct {
	// MetricsPublic serves /metrics without a bearer token.
	MetricsPublic bool
	// Secure marks cookies Secure (the console is served over TLS) and
	// adds Strict-Transport-Security.
	Secure bool
	// SessionIdle ends a console session after this long without a
	// request; default 30 minutes.
	SessionIdle time.Duration
	// SessionMaxAge ends a console session this long after login, however
	// busy; default 12 hours.
	SessionMaxAge time.Duration
	// TrustedProxies are the reverse proxies (--trusted-proxies) whose
	// X-Forwarded-For names the client; from any other peer the header
	// is ignored.
	TrustedProxies []netip.Prefix
}

// Server is the web layer: one fiber app per listener kind.
type Server struct {
	admin *admin.Service
	cfg   Config
	log   *slog.Logger
	ui    *console // sessions, views, static files, login limits

	metrics *metrics
	status  statusAnswer // GET /api/v1/status's last answer

	mu   sync.Mutex
	apps []*fiber.App

	// writeTimeout bounds the writing of each answer (fasthttp's
	// WriteTimeout, set once per answer); backupStall bounds how long a
	// backup download waits for its client to take more (backupGet). New
	// sets writeTimeoutDefault and backupStallDefault; tests set them
	// small before Serve.
	writeTimeout time.Duration
	backupStall  time.Duration
}

// writeTimeoutDefault bounds the writing of every answer but a backup
// download's, from its first byte to its last.
const writeTimeoutDefault = 120 * time.Second

// New returns a Server; Serve starts listeners.
func New(cfg Config, deps Deps) *Server {
	s := &Server{admin: deps.Admin, cfg: cfg, log: deps.Log, writeTimeout: writeTimeoutDefault, backupStall: backupStallDefault}
	s.ui = newConsole(cfg)
	s.metrics = newMetrics(s)
	return s
}

// listenerKind is what a listener serves and whom it trusts.
type listenerKind int

const (
	// kindTCP is the console on a network listener: every caller logs in
	// (tests; the daemon itself no longer listens on TCP).
	kindTCP listenerKind = iota
	// kindSocket is the CLI's root-only unix socket: requests act as the
	// root administrator without login.
	kindSocket
	// kindWeb is the socket the unprivileged web process forwards the
	// network's requests to (package webproxy): every caller logs in as
	// on TCP; the client's address is the one the web process puts in
	// webproxy.PeerHeader.
	kindWeb
)

// Serve answers on ln until Shutdown. trusted is for the root-only unix
// socket: requests there act as the root administrator without login.
func (s *Server) Serve(ln net.Listener, trusted bool) error {
	kind := kindTCP
	if trusted {
		kind = kindSocket
	}
	return s.serve(ln, kind)
}

// ServeWeb answers the web process (postdeck web) on ln, a unix socket
// only it may connect to, until Shutdown. The requests are the network's,
// re-serialized: they are authenticated exactly as on a TCP listener, and
// the client's address is taken from webproxy.PeerHeader, which only this
// listener believes.
func (s *Server) ServeWeb(ln net.Listener) error {
	return s.serve(ln, kindWeb)
}

func (s *Server) serve(ln net.Listener, kind listenerKind) error {
	app := s.newApp(kind)
	s.mu.Lock()
	s.apps = append(s.apps, app)
	s.mu.Unlock()
	if err := app.Listener(ln); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// Shutdown stops every listener, waiting for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	apps := s.apps
	s.apps = nil
	s.mu.Unlock()
	var errs []error
	for _, app := range apps {
		errs = append(errs, app.ShutdownWithContext(ctx))
	}
	return errors.Join(errs...)
}

// rootIdentity is the trusted socket's caller (read only).
var rootIdentity = admin.Root

// readBufferSize bounds a request's line and headers on every listener:
// above webproxy's MaxHeaderBytes (64 KiB), with room for net/http's 4 KiB
// of slack and the headers the web process adds, so that what it forwards
// is read whole. fasthttp holds one such buffer per open connection.
const readBufferSize = 96 << 10

// SocketBodyLimit is the largest request body the root-only socket takes
// (a restore's archive; the CLI checks a file against it before sending).
const SocketBodyLimit = 1 << 30

func (s *Server) newApp(kind listenerKind) *fiber.App {
	// The root-only socket takes restores of large databases; the network
	// listener does not need more than a big map or test mail.
	bodyLimit := 32 << 20
	trusted := kind == kindSocket
	if trusted {
		bodyLimit = SocketBodyLimit
	}
	app := fiber.New(fiber.Config{
		AppName:               "postdeck",
		DisableStartupMessage: true,
		// Every string fiber hands out (method, path, params, form and
		// query values, headers) is a copy: values that outlive the
		// request (metrics labels, scheduler job names, caches, logs)
		// must never alias fasthttp's reused buffers.
		Immutable:    true,
		ReadTimeout:  30 * time.Second,
		WriteTimeout: s.writeTimeout,
		IdleTimeout:  120 * time.Second,
		BodyLimit:    bodyLimit,
		// On the socket a restore reads its archive as it arrives
		// (restorePost): fiber read the whole body first, a GiB of
		// /dev/zero into memory before the restore could say after
		// its first KiB that it is no backup. Every other route's
		// body is read whole by bufferSocketBody, within bodyLimit.
		StreamRequestBody: trusted,
		ErrorHandler:      s.errorHandler,
		// A console page (8-12 KB) leaves in one write: fasthttp's
		// default 4 KB buffer took three, each a wake-up of the web
		// process on the other end.
		WriteBufferSize: 16 << 10,
		// The request line and headers must fit in the read buffer:
		// with fasthttp's default 4 KiB, a request the web process
		// forwards (up to webproxy's MaxHeaderBytes, 64 KiB: a long
		// cookie, a long name in the path) was a 431 before any route
		// could answer it. Over this, see errorHandler.
		ReadBufferSize: readBufferSize,
	})
	app.Use(s.countRequests)
	app.Use(s.recoverPanics)
	if trusted {
		app.Use(func(c *fiber.Ctx) error {
			c.Locals(localIdentity, &rootIdentity)
			return c.Next()
		})
		app.Use(bufferSocketBody)
	} else {
		if kind == kindWeb {
			app.Use(s.webPeer)
		}
		app.Use(s.securityHeaders)
	}
	// On every listener, before authentication: POST /api/v1/login reads
	// a body too.
	app.Use(refuseEncodedBody)
	if !trusted {
		app.Use(s.authenticate)
	}
	s.routes(app)
	return app
}

// errSocketBodyTooLarge answers a socket request whose body is larger
// than SocketBodyLimit (but a restore's, which bounds its own).
var errSocketBodyTooLarge = newClientError(fiber.StatusRequestEntityTooLarge, "The request body is larger than the 1 GiB the daemon's socket takes.")

// bufferSocketBody reads a streamed request body on the socket whole
// (within SocketBodyLimit, as fiber did before bodies streamed there),
// before any handler or refusal: handlers read c.Body() as on the other
// listeners (fasthttp bounds no streamed body itself), and no body is
// left half read on the connection, where fasthttp would read its rest
// as the next request. The restore reads its own stream (restorePost);
// what it leaves, refused by anyone, goes with its connection.
func bufferSocketBody(c *fiber.Ctx) error {
	rs := c.Context().RequestBodyStream()
	if rs == nil {
		return c.Next()
	}
	if c.Method() == fiber.MethodPost && c.Path() == "/api/v1/restore" {
		c.Context().Hijack(drainUpload)
		return c.Next()
	}
	body, err := io.ReadAll(io.LimitReader(rs, SocketBodyLimit+1))
	if err != nil {
		c.Context().SetConnectionClose()
		return err
	}
	if len(body) > SocketBodyLimit {
		c.Context().SetConnectionClose() // the rest of the body is unread
		return errSocketBodyTooLarge
	}
	c.Request().SetBodyRaw(body)
	return c.Next()
}

// errEncodedBody answers a request whose body is compressed.
var errEncodedBody = newClientError(fiber.StatusUnsupportedMediaType, "Compressed request bodies are not accepted; send the body uncompressed.")

// headerContentEncoding is compared with header names as they come.
var headerContentEncoding = []byte(fiber.HeaderContentEncoding)

// refuseEncodedBody answers 415 to a request with a Content-Encoding
// other than identity. fiber's c.Body() inflates gzip, deflate and
// brotli bodies with no bound on the result (BodyLimit counts the bytes
// on the wire): a 64 KB gzip of a login with a 64 MiB password cost the
// daemon 768 MiB of allocations, before login. No client of postdeck
// compresses a request. Every Content-Encoding header counts (fiber
// obeys the last one), and a list counts if it names any coding.
func refuseEncodedBody(c *fiber.Ctx) error {
	encoded := false
	c.Request().Header.VisitAll(func(k, v []byte) {
		if bytes.EqualFold(k, headerContentEncoding) && !identityCoding(v) {
			encoded = true
		}
	})
	if encoded {
		return errEncodedBody
	}
	return c.Next()
}

// identityCoding tells whether a Content-Encoding value names no coding
// but identity (a list, RFC 9110 section 8.4).
func identityCoding(v []byte) bool {
	for len(v) > 0 {
		var coding []byte
		coding, v, _ = bytes.Cut(v, []byte{','})
		coding = bytes.TrimSpace(coding)
		if len(coding) > 0 && !bytes.EqualFold(coding, []byte("identity")) {
			return false
		}
	}
	return true
}
