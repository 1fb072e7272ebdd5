package mpa

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"postdeck/store"
)

// Server is the MPA: the SMTP listener, the spool and the delivery workers.
type Server struct {
	cfg    Config
	db     *store.DB
	log    *slog.Logger
	bodies *bodies
	sched  *scheduler
	pipe   atomic.Pointer[pipeline]

	smtp     *smtp.Server
	addr     atomic.Value // net.Addr once listening
	stopWork chan struct{}
	cancel   context.CancelFunc
	workers  sync.WaitGroup
	serving  sync.WaitGroup
	started  atomic.Bool
	stopped  atomic.Bool
	seq      atomic.Uint64
}

// errLocal is the reply to any local failure: Postfix keeps the message
// and tries again (never a 5xx, which would bounce it).
var errLocal = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Local error in processing, try again later"}

// New prepares an MPA with cfg (defaults filled in) on db. It creates the
// spool directory and loads the pipeline; nothing listens until Start.
func New(cfg Config, db *store.DB, log *slog.Logger) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b, err := newBodies(db, cfg.SpoolDir)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, db: db, log: log, bodies: b, sched: newScheduler(), stopWork: make(chan struct{})}
	p, err := db.MPAPipelineGet()
	if err != nil {
		return nil, fmt.Errorf("load mpa pipeline: %w", err)
	}
	s.setPipeline(p)
	return s, nil
}

// setPipeline compiles and installs p. A stored configuration that does
// not compile (saved before validation existed) makes every message fail
// into the error repository with the reason, rather than pass unprocessed.
func (s *Server) setPipeline(p store.MPAPipeline) {
	pl, err := compilePipeline(p, s.cfg.Hostname)
	if err != nil {
		s.log.Error("mpa pipeline configuration is invalid; messages go to the error repository", "err", err)
		pl = &pipeline{procs: []Processor{brokenProcessor{err: err}}}
	}
	s.pipe.Store(pl)
}

type brokenProcessor struct{ err error }

func (brokenProcessor) Name() string { return "configuration" }
func (b brokenProcessor) Process(context.Context, *Message) error {
	return fmt.Errorf("the pipeline configuration is invalid: %w", b.err)
}

// Addr is the listener's address once Start returned (useful with port 0).
func (s *Server) Addr() string {
	if a, ok := s.addr.Load().(net.Addr); ok {
		return a.String()
	}
	return s.cfg.Listen
}

// Start recovers the spool (entries of a previous run, orphan files),
// starts the workers and begins listening. It returns once the listener
// is open.
func (s *Server) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("start mpa: already started")
	}
	if err := s.recover(); err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("start mpa: listen on %s: %w", s.cfg.Listen, err)
	}
	s.addr.Store(ln.Addr())
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	for range s.cfg.Workers {
		s.workers.Add(1)
		go s.worker(wctx)
	}
	srv := smtp.NewServer(backend{s})
	srv.Domain = s.cfg.Hostname
	srv.MaxMessageBytes = s.cfg.MaxMessageBytes
	srv.MaxRecipients = s.cfg.MaxRecipients
	srv.ReadTimeout = s.cfg.ReadTimeout
	srv.WriteTimeout = s.cfg.WriteTimeout
	srv.MaxLineLength = 2000
	srv.EnableDSN = true
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slogLogger{s.log}
	s.smtp = srv
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		defer func() {
			if r := recover(); r != nil {
				countPanic()
				s.log.Error("mpa listener panicked", "err", fmt.Sprint(r))
			}
		}()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			s.log.Error("mpa listener stopped", "err", err)
		}
	}()
	s.log.Info("mpa listening", "addr", ln.Addr().String(), "reinject", s.cfg.ReinjectAddr, "workers", s.cfg.Workers)
	return nil
}

// recover schedules every stored spool entry and removes files no entry
// references.
func (s *Server) recover() error {
	spool, err := s.db.MPASpoolList()
	if err != nil {
		return fmt.Errorf("start mpa: list spool: %w", err)
	}
	errs, err := s.db.MPAErrorList()
	if err != nil {
		return fmt.Errorf("start mpa: list error repository: %w", err)
	}
	keep := make(map[string]bool, len(spool)+len(errs))
	for _, e := range errs {
		keep[e.ID] = true
	}
	for _, e := range spool {
		keep[e.ID] = true
	}
	removed, err := s.bodies.sweep(keep)
	if err != nil {
		return fmt.Errorf("start mpa: %w", err)
	}
	swept, err := s.db.MPASweepBodies()
	if err != nil {
		return fmt.Errorf("start mpa: %w", err)
	}
	removed += swept
	for _, e := range spool {
		s.sched.at(e.ID, e.NextAttempt)
	}
	if len(spool) > 0 || removed > 0 {
		s.log.Info("mpa spool recovered", "entries", len(spool), "orphan_files_removed", removed)
	}
	return nil
}

// Shutdown stops accepting mail, lets sessions in progress finish, stops
// the workers after their current message, and returns when all stopped
// or ctx ends (then in-flight work is cut off; the spool keeps it).
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.started.Load() || !s.stopped.CompareAndSwap(false, true) {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
		defer cancel()
	}
	var first error
	if err := s.smtp.Shutdown(ctx); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		first = fmt.Errorf("shutdown mpa listener: %w", err)
		_ = s.smtp.Close()
	}
	close(s.stopWork)
	s.sched.stop()
	done := make(chan struct{})
	go func() {
		s.workers.Wait()
		s.serving.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel()
		<-done
		if first == nil {
			first = fmt.Errorf("shutdown mpa workers: %w", ctx.Err())
		}
	}
	s.cancel()
	return first
}

// slogLogger adapts go-smtp's logger to slog.
type slogLogger struct{ l *slog.Logger }

func (l slogLogger) Printf(format string, v ...any) {
	l.l.Warn("mpa smtp", "err", fmt.Sprintf(format, v...))
}
func (l slogLogger) Println(v ...any) { l.l.Warn("mpa smtp", "err", fmt.Sprint(v...)) }

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	ss := &session{s: b.s, helo: c.Hostname()}
	if a := c.Conn().RemoteAddr(); a != nil {
		ss.client = a.String()
	}
	return ss, nil
}

// session is one SMTP connection from Postfix; env is the message in
// progress.
type session struct {
	s      *Server
	helo   string
	client string
	env    store.MPAEnvelope
}

func (ss *session) guard(what string, err *error) {
	if r := recover(); r != nil {
		countPanic()
		ss.s.log.Error("mpa session panicked", "stage", what, "err", fmt.Sprint(r), "remote", ss.client)
		*err = errLocal
	}
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) (err error) {
	defer ss.guard("mail", &err)
	ss.env = store.MPAEnvelope{Sender: from, Helo: ss.helo, Client: ss.client}
	if opts != nil {
		ss.env.Size = opts.Size
		ss.env.Body = string(opts.Body)
		ss.env.SMTPUTF8 = opts.UTF8
		ss.env.Ret = string(opts.Return)
		ss.env.EnvID = opts.EnvelopeID
	}
	return nil
}

func (ss *session) Rcpt(to string, opts *smtp.RcptOptions) (err error) {
	defer ss.guard("rcpt", &err)
	r := store.MPARecipient{Address: to}
	if opts != nil {
		for _, n := range opts.Notify {
			r.Notify = append(r.Notify, string(n))
		}
		r.ORcptType = string(opts.OriginalRecipientType)
		r.ORcpt = opts.OriginalRecipient
	}
	ss.env.Recipients = append(ss.env.Recipients, r)
	return nil
}

// Data makes the message durable (body file fsynced, entry committed) and
// only then answers 250 with the spool id.
func (ss *session) Data(r io.Reader) (err error) {
	defer func() {
		if rec := recover(); rec != nil {
			countPanic()
			ss.s.log.Error("mpa session panicked", "stage", "data", "err", fmt.Sprint(rec), "remote", ss.client)
			_, _ = io.Copy(io.Discard, r)
			err = errLocal
		}
	}()
	s := ss.s
	id := s.bodies.newID()
	n, inline, werr := s.bodies.write(id, r)
	if werr != nil {
		_, _ = io.Copy(io.Discard, r)
		var se *smtp.SMTPError
		if errors.As(werr, &se) {
			return se // message too large: go-smtp's 552
		}
		s.log.Error("mpa spool write failed", "err", werr, "remote", ss.client)
		return errLocal
	}
	now := time.Now()
	e := store.SpoolEntry{ID: id, Envelope: ss.env, Size: n, Received: now, State: store.SpoolWaiting, NextAttempt: now}
	if err := s.db.MPASpoolAdd(e, inline); err != nil {
		s.log.Error("mpa spool commit failed", "err", err, "queue_id", id)
		if rerr := s.bodies.remove(id); rerr != nil {
			s.log.Error("mpa spool cleanup failed", "err", rerr, "queue_id", id)
		}
		return errLocal
	}
	s.sched.push(id)
	acceptedMessages.Add(1)
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as " + id}
}

func (ss *session) Reset()        { ss.env = store.MPAEnvelope{} }
func (ss *session) Logout() error { return nil }
