package mpa

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
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
	ln       net.Listener // what smtp serves (Shutdown closes it)
	addr     atomic.Value // net.Addr once listening
	stopWork chan struct{}
	cancel   context.CancelFunc
	workers  sync.WaitGroup
	serving  sync.WaitGroup
	started  atomic.Bool
	stopped  atomic.Bool
	seq      atomic.Uint64
	// runID tells this process's delivery names apart from those of the
	// processes before it (their sequence numbers start at zero too).
	runID string
	// What the last look at the maillog read for each in-doubt delivery
	// (resolve).
	memos memoTable

	// Limits that follow Postfix's (SetLimits): the largest message taken,
	// allowance included, and the recipients per message.
	maxSize  atomic.Int64
	maxRcpts atomic.Int64
	// The error repository's use, kept current by every commit that adds
	// entries and recounted after every administrator action.
	// A commit that adds entries holds errMu for reading from counting
	// them until its commit ended; a recount holds it for writing, so it
	// neither drops nor repeats one in flight.
	errEntries atomic.Int64
	errBytes   atomic.Int64
	errMu      sync.RWMutex
	// heldEntries and heldBytes are what a restore is merging into the
	// repository (HoldForRestore), counted in errEntries and errBytes
	// from before its first chunk to after its end; changed under errMu.
	heldEntries, heldBytes atomic.Int64
	// testHookCommitting and testHookCommitted, when set, run before and
	// after each commit that stores error entries (counted already).
	testHookCommitting, testHookCommitted atomic.Pointer[func()]
	// testHookServe, when set, runs in the serving goroutine before it
	// hands the listener to go-smtp.
	testHookServe func()

	// conns tells the workers when their reinjection connections are of a
	// Postfix configuration that is gone (Reconnect).
	conns connGen
	// fresh passes new entries from the sessions to the workers in memory.
	fresh handoffs
	// disk refuses new mail while the spool's file system is nearly full
	// (diskguard.go).
	disk *diskGuard
	// slowCause ends a pipeline run past Config.ProcessTimeout (made once,
	// not per message).
	slowCause error
}

// maxCommandLine bounds a command line from Postfix. Its SMTP client
// writes a RCPT TO with the ORCPT after the address, in xtext (up to three
// bytes for one): for an address its smtpd took (line_length_limit, 2048)
// that is far beyond go-smtp's usual 2000, which answered 500 and Postfix
// bounced the message.
const maxCommandLine = 4*2048 + 512

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
	s := &Server{cfg: cfg, db: db, log: log, bodies: b, sched: newScheduler(), stopWork: make(chan struct{}),
		runID: strconv.FormatInt(time.Now().UnixMilli(), 36) + b.nonce, disk: newDiskGuard(cfg.SpoolDir, db.Path())}
	s.slowCause = fmt.Errorf("the pipeline ran longer than its %v (ProcessTimeout)", cfg.ProcessTimeout)
	s.SetLimits(cfg.MaxMessageBytes, cfg.MaxRecipients)
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

// SetLimits makes the MPA follow Postfix's message_size_limit (size, in
// bytes; the MPA adds Config.SizeAllowance) and smtpd_recipient_limit
// (rcpts) from the next command on. The daemon calls it when the MTA
// settings change; zero or negative values keep the current limit.
func (s *Server) SetLimits(size int64, rcpts int) {
	if size > 0 {
		s.maxSize.Store(size + s.cfg.SizeAllowance)
	}
	if rcpts > 0 {
		s.maxRcpts.Store(int64(rcpts))
	}
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
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Listen)
		if err != nil {
			return fmt.Errorf("start mpa: listen on %s: %w", s.cfg.Listen, err)
		}
	}
	s.addr.Store(ln.Addr())
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	for range s.cfg.Workers {
		s.workers.Add(1)
		go s.worker(wctx)
	}
	s.workers.Add(1)
	go s.pruneResendKeys()
	srv := smtp.NewServer(backend{s})
	srv.Domain = s.cfg.Hostname
	// Size and recipient limits are the session's (they change at run
	// time); go-smtp's stay off, so it neither cuts nor advertises them.
	srv.MaxMessageBytes = 0
	srv.MaxRecipients = 0
	srv.ReadTimeout = s.cfg.ReadTimeout
	srv.WriteTimeout = s.cfg.WriteTimeout
	srv.MaxLineLength = maxCommandLine
	srv.EnableDSN = true
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slogLogger{s.log}
	s.smtp = srv
	// Postfix's ORCPT for a recipient of Unicode, which go-smtp refuses
	// (orcpt.go).
	ln = orcptListener{ln}
	s.ln = ln
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		defer func() {
			if r := recover(); r != nil {
				countPanic()
				s.log.Error("mpa listener panicked", "err", fmt.Sprint(r))
			}
		}()
		if s.testHookServe != nil {
			s.testHookServe()
		}
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			s.log.Error("mpa listener stopped", "err", err)
		}
	}()
	s.log.Info("mpa listening", "addr", ln.Addr().String(), "reinject", s.cfg.ReinjectAddr, "workers", s.cfg.Workers)
	return nil
}

// maxUnreadableLogged bounds the log lines recover writes about records
// that do not decode; the rest are counted in one more line.
const maxUnreadableLogged = 10

// recover schedules every stored spool entry and removes files no entry
// references. A record that does not decode (another version's, an old
// backup's, a damaged one) does not stop the MPA: it stays in the
// database as it is, its body is kept, and it is logged; a spool entry of
// that kind is not scheduled (it cannot be delivered without its
// envelope) until it is repaired or removed.
func (s *Server) recover() error {
	rec, err := s.db.MPARecovery()
	if err != nil {
		return fmt.Errorf("start mpa: list spool and error repository: %w", err)
	}
	spool := rec.Due
	keep := make(map[string]bool, len(spool)+len(rec.ErrorIDs)+len(rec.UnreadableSpool))
	for _, id := range rec.ErrorIDs {
		keep[id] = true
	}
	for _, e := range spool {
		keep[e.ID] = true
	}
	for _, u := range rec.UnreadableSpool {
		keep[u.ID] = true
	}
	logged := 0
	for _, b := range []struct {
		name, msg string
		recs      []store.MPAUnreadable
	}{
		{"spool", "mpa spool record could not be read; it is kept untouched with its message body and is not delivered until it is repaired or removed", rec.UnreadableSpool},
		{"error repository", "mpa error repository record could not be read; it is kept untouched with its message body", rec.UnreadableErrors},
	} {
		for _, u := range b.recs {
			if logged++; logged <= maxUnreadableLogged {
				s.log.Error(b.msg, "bucket", b.name, "id", u.ID, "err", u.Err)
			}
		}
	}
	if n := len(rec.UnreadableSpool) + len(rec.UnreadableErrors); n > maxUnreadableLogged {
		s.log.Error("mpa records could not be read; all are kept untouched with their message bodies", "count", n,
			"spool", len(rec.UnreadableSpool), "error_repository", len(rec.UnreadableErrors), "not_logged", n-maxUnreadableLogged)
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
	if err := s.recountErrors(); err != nil {
		return fmt.Errorf("start mpa: %w", err)
	}
	// The 250 replies of the last minutes before a crash may not have
	// reached Postfix, which then sends those messages again after its
	// backoff: keep their resend keys past the downtime.
	if last, err := s.db.MPASeenLast(); err != nil {
		return fmt.Errorf("start mpa: %w", err)
	} else if !last.IsZero() {
		if err := s.db.MPASeenPin(last.Add(-store.SeenSlot), time.Now().Add(s.cfg.ResendRetention)); err != nil {
			return fmt.Errorf("start mpa: %w", err)
		}
	}
	for _, e := range spool {
		s.sched.at(e.ID, e.NextAttempt)
	}
	if len(spool) > 0 || removed > 0 {
		s.log.Info("mpa spool recovered", "entries", len(spool), "orphan_files_removed", removed)
	}
	return nil
}

// pruneResendKeys drops expired resend keys every minute until Shutdown.
func (s *Server) pruneResendKeys() {
	defer s.workers.Done()
	defer func() {
		if r := recover(); r != nil {
			countPanic()
			s.log.Error("mpa resend key pruning panicked", "err", fmt.Sprint(r))
		}
	}()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.stopWork:
			return
		case <-t.C:
			if _, err := s.db.MPASeenPrune(time.Now(), s.cfg.ResendRetention); err != nil {
				s.log.Error("mpa resend key pruning failed", "err", err)
			}
		}
	}
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
	// go-smtp closes the listeners its Serve registered: one that the
	// serving goroutine had not yet handed over (a stop right after the
	// start) would be served on, and Shutdown wait for it for good.
	_ = s.ln.Close()
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
	ss.orcpt, _ = c.Conn().(*orcptConn)
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
	// orcpt holds the ORCPT addresses go-smtp could not take (orcpt.go).
	orcpt *orcptConn
}

func (ss *session) guard(what string, err *error) {
	if r := recover(); r != nil {
		countPanic()
		ss.s.log.Error("mpa session panicked", "stage", what, "err", fmt.Sprint(r), "remote", ss.client)
		*err = errLocal
	}
}

// Replies of the listener beyond go-smtp's own, in Postfix's words.
var (
	errTooBig       = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Error: message file too big"}
	errSizeExceeded = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message size exceeds fixed limit"}
	errTooManyRcpts = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "Error: too many recipients"}
	errQuota        = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage"}
)

func (ss *session) Mail(from string, opts *smtp.MailOptions) (err error) {
	defer ss.guard("mail", &err)
	if ss.orcpt != nil {
		from = ss.orcpt.emptyLocal(from)
	}
	if e := checkAddress(from, true); e != nil {
		return e
	}
	if opts != nil && opts.Size > ss.s.maxSize.Load() {
		return errSizeExceeded
	}
	// Refused here, before Postfix sends the message, as its smtpd does
	// below queue_minfree: Postfix keeps it queued and retries.
	var size int64
	if opts != nil {
		size = opts.Size
	}
	if ss.s.checkDisk(size) {
		return errNoSpace
	}
	ss.env = store.MPAEnvelope{Sender: escapeAddress(from), Helo: ss.helo, Client: ss.client}
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
	if ss.orcpt != nil {
		to = ss.orcpt.emptyLocal(to)
	}
	if e := checkAddress(to, false); e != nil {
		return e
	}
	if int64(len(ss.env.Recipients)) >= ss.s.maxRcpts.Load() {
		return errTooManyRcpts
	}
	if ss.s.quotaReached() {
		return errQuota
	}
	r := store.MPARecipient{Address: escapeAddress(to)}
	if opts != nil {
		for _, n := range opts.Notify {
			r.Notify = append(r.Notify, string(n))
		}
		r.ORcptType = string(opts.OriginalRecipientType)
		r.ORcpt = opts.OriginalRecipient
		if ss.orcpt != nil && strings.EqualFold(r.ORcptType, "rfc822") {
			if typ, addr, ok := ss.orcpt.original(r.ORcpt); ok {
				r.ORcptType, r.ORcpt = typ, addr
			}
		}
		r.ORcpt = escapeAddress(r.ORcpt)
	}
	ss.env.Recipients = append(ss.env.Recipients, r)
	return nil
}

// Data makes the message durable (body file fsynced, entry committed) and
// only then answers 250 with the spool id. A message Postfix sends again
// (same first queue id, sender and recipients as one the MPA already took)
// is answered 250 with the earlier spool id and not stored twice.
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
	if s.quotaReached() {
		_, _ = io.Copy(io.Discard, r)
		return errQuota
	}
	id := s.bodies.newID()
	lr := &limitReader{r: r, left: s.maxSize.Load()}
	n, inline, werr := s.bodies.write(id, lr, ss.env.Size)
	if werr != nil {
		_, _ = io.Copy(io.Discard, r)
		if lr.over {
			return errTooBig
		}
		s.log.Error("mpa spool write failed", "err", werr, "remote", ss.client)
		if s.noSpace(werr) {
			return errNoSpace
		}
		return errLocal
	}
	head := inline
	if head == nil {
		if head, _, err = s.bodies.readHead(id, 64<<10); err != nil {
			s.log.Error("mpa spool read failed", "err", err, "queue_id", id)
			s.removeBody(id)
			return errLocal
		}
	}
	env := ss.env
	firstID := firstQueueID(head)
	keys := resendKeys(firstID, env)
	if len(keys) > 0 {
		seen, err := s.db.MPASeenLookup(keys)
		if err != nil {
			s.log.Error("mpa resend lookup failed", "err", err, "remote", ss.client)
			s.removeBody(id)
			return errLocal
		}
		if len(seen) > 0 {
			var rest []store.MPARecipient
			var restKeys []string
			earlier := ""
			for i, rc := range env.Recipients {
				if sid, ok := seen[keys[i]]; ok {
					earlier = sid
					continue
				}
				rest = append(rest, rc)
				restKeys = append(restKeys, keys[i])
			}
			s.log.Info("mpa recognised a message postfix sent again", "queue_id", earlier, "postfix_queue_id", firstID,
				"recipients_known", len(env.Recipients)-len(rest), "recipients_new", len(rest))
			if len(rest) == 0 {
				s.removeBody(id)
				resentMessages.Add(1)
				return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as " + earlier}
			}
			env.Recipients, keys = rest, restKeys
		}
	}
	now := time.Now()
	e := store.SpoolEntry{ID: id, Envelope: env, Size: n, Received: now, State: store.SpoolWaiting, NextAttempt: now, FirstQueueID: firstID}
	if err := s.db.MPASpoolAdd(e, inline, keys); err != nil {
		s.log.Error("mpa spool commit failed", "err", err, "queue_id", id)
		s.removeBody(id)
		if s.noSpace(err) {
			return errNoSpace
		}
		return errLocal
	}
	s.fresh.put(e, inline)
	s.sched.push(id)
	acceptedMessages.Add(1)
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as " + id}
}

func (s *Server) removeBody(id string) {
	if err := s.bodies.remove(id); err != nil {
		s.log.Error("mpa spool cleanup failed", "err", err, "queue_id", id)
	}
}

// limitReader passes at most left bytes and then fails, noting over.
type limitReader struct {
	r    io.Reader
	left int64
	over bool
}

var errOverLimit = errors.New("message over the size limit")

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		l.over = true
		return n, errOverLimit
	}
	return n, err
}

func (ss *session) Reset()        { ss.env = store.MPAEnvelope{} }
func (ss *session) Logout() error { return nil }
