package queue

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"postdeck/panics"
	"postdeck/postfix"
	"sync"
	"time"
)

// Queue lists and manages the Postfix queue with postqueue, postsuper,
// postcat and postkick. Every command runs through Postfix (argv, absolute
// -c); nothing a user types reaches a shell, and queue ids are checked
// against Postfix's id alphabet before any command runs.
//
// Once started (Start), listings come from the index, which follows the
// queue directories (see the package doc). Before that, or when the
// index cannot run, they come from one `postqueue -j` run streamed line
// by line into a compact snapshot that serves every filter, sort and page
// for SnapshotTTL; any action drops that snapshot.
type Queue struct {
	p   postfix.Runner
	log *slog.Logger
	// stream runs one Postfix command; it is p.Stream, replaceable by
	// tests that must see which commands ran.
	stream func(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, name string, args ...string) error
	now    func() time.Time
	// followWait is how long a requeue by ids waits for the new ids
	// (DefaultFollowWait).
	followWait time.Duration
	// downloadMax bounds WriteMessage (MaxDownloadBytes).
	downloadMax int64
	// triggerSlots bounds the `postqueue -i` running at once, for every
	// bounce and retry together (triggerLanes).
	triggerSlots chan struct{}
	// chase follows bounced messages that were in delivery (chase.go).
	chase chase

	mu      sync.Mutex
	snap    *queueSnapshot
	pending *snapshotBuild
	// watch is the index (Start); nil before Start, after Shutdown, or
	// when it could not start: listings then use postqueue -j snapshots.
	watch *watcher
}

// SnapshotTTL is how long one `postqueue -j` run serves listings when
// there is no index.
const SnapshotTTL = 5 * time.Second

// New returns a Queue for the Postfix instance p.
func New(p postfix.Runner, log *slog.Logger) *Queue {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Queue{p: p, log: log, stream: p.Stream, now: time.Now, followWait: DefaultFollowWait, downloadMax: MaxDownloadBytes,
		triggerSlots: make(chan struct{}, triggerLanes)}
}

// Queue names as postqueue -j reports them, in the order Postfix moves mail
// through them.
const (
	Maildrop = "maildrop"
	Incoming = "incoming"
	Active   = "active"
	Deferred = "deferred"
	Hold     = "hold"
)

// Names lists every queue a message can be listed in.
var Names = []string{Maildrop, Incoming, Active, Deferred, Hold}

func queueIndex(name string) (uint8, bool) {
	for i, n := range Names {
		if n == name {
			return uint8(i), true
		}
	}
	return 0, false
}

// Queue indexes of the states the code treats apart.
var (
	holdQueue, _     = queueIndex(Hold)
	deferredQueue, _ = queueIndex(Deferred)
	activeQueue, _   = queueIndex(Active)
	maildropQueue, _ = queueIndex(Maildrop)
)

// Recipient is one envelope recipient of a queued message and, when
// Postfix tried and failed, why it is still queued.
type Recipient struct {
	Address     string `json:"address"`
	DelayReason string `json:"delay_reason,omitempty"`
}

// Message is one row of the queue listing.
type Message struct {
	QueueID   string `json:"queue_id"`
	QueueName string `json:"queue_name"`
	Sender    string `json:"sender"` // "MAILER-DAEMON" for the null sender
	// Subject is the message's Subject header decoded for people
	// (DecodeSubject), at most SubjectListMax characters; "" when it has
	// none, and always without the index (postqueue -j does not show it).
	Subject      string      `json:"subject"`
	Recipients   []Recipient `json:"recipients"`
	Size         int64       `json:"size"`
	ArrivalTime  time.Time   `json:"arrival_time"`
	AgeSeconds   int64       `json:"age_seconds"` // at the page's AsOf
	ForcedExpire bool        `json:"forced_expire"`
}

// Page is one page of a filtered, sorted listing.
type Page struct {
	Total  int       `json:"total"` // messages matching the filter
	Offset int       `json:"offset"`
	Limit  int       `json:"limit"`
	Items  []Message `json:"items"`
	// AsOf is when the listing was taken: with the index, the moment up
	// to which every change Postfix made is in it (the request's own
	// time); without, when the postqueue -j snapshot started.
	AsOf time.Time `json:"as_of"`
}

// queueEntry is a message as the snapshot keeps it: strings that repeat across
// messages (sender, delay reason) are shared, nothing else is kept.
type queueEntry struct {
	id      string
	sender  string
	subject string // decoded, at most SubjectListMax characters; only the index has it
	rcpts   []Recipient
	arrival int64 // unix seconds
	size    int64
	queue   uint8
	expired bool
}

func (e *queueEntry) message(asOf time.Time) Message {
	arrival := time.Unix(e.arrival, 0).UTC()
	age := int64(asOf.Sub(arrival) / time.Second)
	if age < 0 {
		age = 0
	}
	return Message{
		QueueID:      e.id,
		QueueName:    Names[e.queue],
		Sender:       e.sender,
		Subject:      e.subject,
		Recipients:   append([]Recipient(nil), e.rcpts...),
		Size:         e.size,
		ArrivalTime:  arrival,
		AgeSeconds:   age,
		ForcedExpire: e.expired,
	}
}

// snapshot is one complete `postqueue -j` listing.
type queueSnapshot struct {
	asOf    time.Time // when postqueue started
	expires time.Time
	set     entrySet
}

// entrySet is the messages of a listing: a postqueue -j snapshot's
// (entryList) or the index's (entryStore). Slots are numbered from 0 to
// count()-1, and some may be free.
type entrySet interface {
	count() int
	// load fills e with slot i and reports whether it holds a message;
	// loadHead leaves e's recipients empty. What e holds may be valid only
	// until the next load into it.
	load(i int32, e *queueEntry) bool
	loadHead(i int32, e *queueEntry) bool
}

// entryList is a snapshot's messages.
type entryList []queueEntry

func (l entryList) count() int { return len(l) }

func (l entryList) load(i int32, e *queueEntry) bool {
	*e = l[i]
	return e.id != ""
}

func (l entryList) loadHead(i int32, e *queueEntry) bool { return l.load(i, e) }

// snapshotBuild lets concurrent callers share one postqueue run.
type snapshotBuild struct {
	done chan struct{}
	snap *queueSnapshot
	err  error
}

// List returns one page of the queue as filtered and sorted by f: from
// the index, once it has every change Postfix made before the call (the
// page's AsOf), or without one from a snapshot younger than SnapshotTTL.
func (q *Queue) List(ctx context.Context, f Filter) (Page, error) {
	if err := f.Normalize(); err != nil {
		return Page{}, err
	}
	if w := q.watcher(); w != nil {
		if asOf, err := w.sync(ctx); err == nil {
			return w.idx.page(f, asOf), nil
		} else if ctx.Err() != nil {
			return Page{}, fmt.Errorf("list queue: %w", err)
		}
	}
	snap, err := q.snapshot(ctx)
	if err != nil {
		return Page{}, err
	}
	return snap.page(f), nil
}

// Refresh drops the current snapshot: the next listing runs postqueue
// again. Actions call it themselves.
func (q *Queue) Refresh() {
	q.mu.Lock()
	q.snap = nil
	q.mu.Unlock()
}

// snapshot returns a fresh-enough snapshot, building one when needed. Only
// one build runs at a time; callers that arrive during a build wait for it.
func (q *Queue) snapshot(ctx context.Context) (*queueSnapshot, error) {
	q.mu.Lock()
	if s := q.snap; s != nil && q.now().Before(s.expires) {
		q.mu.Unlock()
		return s, nil
	}
	b := q.pending
	if b == nil {
		b = &snapshotBuild{done: make(chan struct{})}
		q.pending = b
		go q.build(context.WithoutCancel(ctx), b)
	}
	q.mu.Unlock()
	select {
	case <-b.done:
		return b.snap, b.err
	case <-ctx.Done():
		return nil, fmt.Errorf("list queue: %w", ctx.Err())
	}
}

// build runs postqueue -j for a snapshot. It runs detached from the first
// caller's cancellation so a closed browser tab does not fail the others
// waiting for the same build (the runner's timeout still bounds it).
func (q *Queue) build(ctx context.Context, b *snapshotBuild) {
	defer func() {
		if r := recover(); r != nil {
			panics.Recovered(panics.Queue)
			q.log.Error("queue listing panicked", "err", fmt.Errorf("panic: %v", r))
			b.snap, b.err = nil, errors.New("list queue: internal error")
		}
		q.mu.Lock()
		if b.err == nil {
			q.snap = b.snap
		}
		q.pending = nil
		q.mu.Unlock()
		close(b.done)
	}()
	asOf := q.now()
	var entries []queueEntry
	intern := make(map[string]string)
	err := q.scan(ctx, func(m *jsonMessage) error {
		qi, ok := queueIndex(m.QueueName)
		if !ok {
			return nil // a queue this version does not know: not listable
		}
		e := queueEntry{
			id:      m.QueueID,
			sender:  internString(intern, m.Sender),
			arrival: m.ArrivalTime,
			size:    m.MessageSize,
			queue:   qi,
			expired: m.ForcedExpire,
			rcpts:   make([]Recipient, len(m.Recipients)),
		}
		for i, r := range m.Recipients {
			e.rcpts[i] = Recipient{Address: r.Address, DelayReason: internString(intern, r.DelayReason)}
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		b.err = err
		return
	}
	entries = compactEntries(entries)
	b.snap = &queueSnapshot{asOf: asOf.UTC(), expires: q.now().Add(SnapshotTTL), set: entryList(entries)}
}

// compactEntries drops the slack append left behind once the slice is big.
func compactEntries(e []queueEntry) []queueEntry {
	if cap(e)-len(e) > 1024 {
		return append(make([]queueEntry, 0, len(e)), e...)
	}
	return e
}

// internString shares repeated strings (senders, delay reasons): a big
// deferred queue often holds thousands of copies of the same few.
func internString(m map[string]string, s string) string {
	if s == "" {
		return ""
	}
	if v, ok := m[s]; ok {
		return v
	}
	if len(m) < 1<<16 {
		m[s] = s
	}
	return s
}

// jsonMessage is one line of `postqueue -j`.
type jsonMessage struct {
	QueueName    string          `json:"queue_name"`
	QueueID      string          `json:"queue_id"`
	ArrivalTime  int64           `json:"arrival_time"`
	MessageSize  int64           `json:"message_size"`
	ForcedExpire bool            `json:"forced_expire"`
	Sender       string          `json:"sender"`
	Recipients   []jsonRecipient `json:"recipients"`
}

type jsonRecipient struct {
	Address     string `json:"address"`
	DelayReason string `json:"delay_reason"`
}

// scan streams `postqueue -j` and calls fn for each message, in Postfix's
// order. The raw output is never held: postqueue writes straight into an
// OS pipe (no copying goroutine in between) that the decoder reads as it
// goes. fn's *jsonMessage is reused.
func (q *Queue) scan(ctx context.Context, fn func(*jsonMessage) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("list queue: %w", err)
	}
	defer func() { _ = pr.Close() }()
	// Fd puts the read end in blocking mode: the reader then sleeps in
	// read(2) instead of cycling through the runtime's poller.
	_ = pr.Fd()
	var stderr tailBuffer
	stderr.max = 4096
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			if r := recover(); r != nil {
				panics.Recovered(panics.Queue)
				err = fmt.Errorf("postqueue -j: panic: %v", r)
			}
			_ = pw.Close() // the child's copy closed when it exited: EOF
			done <- err
		}()
		err = q.stream(ctx, nil, pw, &stderr, "postqueue", "-j")
	}()
	br := bufio.NewReaderSize(&batchingReader{r: pr}, 256<<10)
	var decErr error
	var m jsonMessage
	var long []byte // a line longer than br's buffer, assembled
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				if len(long)+len(line) > maxQueueLine {
					err = fmt.Errorf("a postqueue -j line is longer than %d bytes", maxQueueLine)
					break
				}
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			decErr = err
			break
		}
		if len(bytes.TrimSpace(line)) > 0 {
			if perr := parseQueueLine(line, &m); perr != nil {
				decErr = perr
				break
			}
			if ferr := fn(&m); ferr != nil {
				decErr = ferr
				break
			}
		}
		if err != nil { // io.EOF
			break
		}
	}
	if decErr != nil {
		cancel() // stop postqueue
	}
	runErr := <-done
	switch {
	case runErr != nil && (decErr == nil || ctx.Err() == nil):
		return fmt.Errorf("list queue: %w", runErr)
	case decErr != nil:
		return fmt.Errorf("list queue: read postqueue -j: %w", decErr)
	}
	if msg := stderr.String(); msg != "" {
		q.log.Warn("postqueue -j complained", "err", msg)
	}
	return nil
}

// maxQueueLine bounds one message's line (a message with thousands of
// recipients is long, but not this long).
const maxQueueLine = 64 << 20

// batchingReader reads a pipe in fewer, larger pieces: postqueue writes
// one short line at a time, and waking up for each of 100,000 lines costs
// more CPU than decoding them. After a short read it waits a moment so the
// pipe (64 KiB) fills; postqueue's few MB/s never fill it in that time.
type batchingReader struct {
	r     io.Reader
	short bool
}

func (b *batchingReader) Read(p []byte) (int, error) {
	if b.short {
		time.Sleep(batchingPause)
	}
	n, err := b.r.Read(p)
	b.short = n < 16<<10 && len(p) >= 16<<10
	return n, err
}

const batchingPause = 2 * time.Millisecond

// tailBuffer keeps the first max bytes written to it and discards the
// rest, so a chatty command cannot grow memory.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - len(b.buf); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		b.buf = append(b.buf, p[:room]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
