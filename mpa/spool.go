package mpa

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"postdeck/atomicfile"
	"postdeck/panics"
	"postdeck/store"
)

// countPanic counts a panic an MPA goroutine recovered.
func countPanic() { panics.Recovered(panics.MPA) }

// Message counters for the metrics layer (metrics state, like panics).
var (
	acceptedMessages    atomic.Uint64
	deliveredRecipients atomic.Uint64
	failedRecipients    atomic.Uint64
)

// Stats are the MPA's counters since the process started: messages
// accepted (durable, answered 250), recipients delivered back to Postfix,
// and recipients moved to the error repository.
type Stats struct {
	Accepted  uint64
	Delivered uint64
	Failed    uint64
	// Resent counts messages Postfix sent again (the MPA died before its
	// 250) that the MPA recognised and did not store twice.
	Resent uint64
	// In-doubt deliveries (recipients) settled from Postfix's log: queued
	// by Postfix, dropped by it and sent again, and left undecided (moved
	// to the error repository for a person).
	InDoubtDelivered  uint64
	InDoubtResent     uint64
	InDoubtUnresolved uint64
}

// Counters reports the MPA's Stats.
func Counters() Stats {
	return Stats{Accepted: acceptedMessages.Load(), Delivered: deliveredRecipients.Load(), Failed: failedRecipients.Load(),
		Resent: resentMessages.Load(), InDoubtDelivered: inDoubtDelivered.Load(), InDoubtResent: inDoubtResent.Load(),
		InDoubtUnresolved: inDoubtUnresolved.Load()}
}

// bodies stores message bodies. A body of at most InlineBodyMax bytes is
// kept in the database, committed with its spool entry (one batched commit
// instead of a file fsync and a directory fsync per message); a larger one
// is a file msg/ID, written to tmp/ first, fsynced, renamed, and the
// directory fsynced, so that it exists completely or not at all before its
// entry is committed. Inline bodies follow their entries inside the store's
// commits; the methods here handle files and read both.
type bodies struct {
	db     *store.DB
	dir    string // SpoolDir
	msgDir string
	tmpDir string
	seq    atomic.Uint64
	nonce  string
}

// InlineBodyMax is the largest body kept in the database.
const InlineBodyMax = 256 << 10

func newBodies(db *store.DB, dir string) (*bodies, error) {
	b := &bodies{db: db, dir: dir, msgDir: filepath.Join(dir, "msg"), tmpDir: filepath.Join(dir, "tmp")}
	for _, d := range []string{b.msgDir, b.tmpDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create spool directory: %w", err)
		}
	}
	var r [2]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	b.nonce = hex.EncodeToString(r[:])
	return b, nil
}

// newID returns a spool id: time in microseconds, a per-process random
// nonce and a sequence number, all hex. Ids sort by arrival.
func (b *bodies) newID() string {
	// As fmt's "%014x%s%04x", without its formatting at each message.
	var buf [32]byte
	id := appendHex(buf[:0], uint64(time.Now().UnixMicro()), 14)
	id = append(id, b.nonce...)
	id = appendHex(id, b.seq.Add(1)&0xffff, 4)
	return string(id)
}

// appendHex appends v in lower-case hex, zero-padded to width digits.
func appendHex(dst []byte, v uint64, width int) []byte {
	var d [16]byte
	hex := strconv.AppendUint(d[:0], v, 16)
	for n := len(hex); n < width; n++ {
		dst = append(dst, '0')
	}
	return append(dst, hex...)
}

func (b *bodies) path(id string) string { return filepath.Join(b.msgDir, id) }

// write reads the body from r. A body of at most InlineBodyMax bytes is
// returned to be committed with its entry; a larger one is stored under id
// as a durable file (inline nil). It returns the size.
//
// sizeHint (the client's SIZE=, or 0) sizes the buffer, so that a small
// message is read with one allocation instead of a growing series.
func (b *bodies) write(id string, r io.Reader, sizeHint int64) (n int64, inline []byte, err error) {
	hint := int64(4 << 10)
	if sizeHint > 0 {
		hint = min(sizeHint+512, InlineBodyMax+1)
	}
	buf := bytes.NewBuffer(make([]byte, 0, hint))
	if _, err := buf.ReadFrom(io.LimitReader(r, InlineBodyMax+1)); err != nil {
		return int64(buf.Len()), nil, err
	}
	head := buf.Bytes()
	if len(head) <= InlineBodyMax {
		return int64(len(head)), head, nil
	}
	n, err = b.writeFile(id, io.MultiReader(bytes.NewReader(head), r))
	return n, nil, err
}

// writeFile stores r under id as a durable file and returns its size.
func (b *bodies) writeFile(id string, r io.Reader) (int64, error) {
	f, err := os.CreateTemp(b.tmpDir, id+".*")
	if err != nil {
		return 0, fmt.Errorf("create body file: %w", err)
	}
	tmp := f.Name()
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, b.path(id))
	}
	if err == nil {
		err = atomicfile.SyncDir(b.msgDir)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return n, fmt.Errorf("write body %s: %w", id, err)
	}
	return n, nil
}

// link gives the body of id a second name (an error entry split off a
// spool entry) and makes the new name durable.
func (b *bodies) link(id, newID string) error {
	err := os.Link(b.path(id), b.path(newID))
	if errors.Is(err, os.ErrNotExist) {
		if _, inline, ierr := b.db.MPABody(id); ierr == nil && inline {
			return nil // the store copies inline bodies in the same commit
		}
	}
	if err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("link body %s: %w", newID, err)
	}
	return atomicfile.SyncDir(b.msgDir)
}

// read returns the body of id and whether it is kept inline.
func (b *bodies) read(id string) ([]byte, bool, error) {
	if raw, inline, err := b.db.MPABody(id); err != nil || inline {
		return raw, inline, err
	}
	raw, err := os.ReadFile(b.path(id))
	if err != nil {
		return nil, false, fmt.Errorf("read body %s: %w", id, err)
	}
	return raw, false, nil
}

// readHead reads at most n bytes of the body.
func (b *bodies) readHead(id string, n int64) ([]byte, int64, error) {
	if raw, inline, err := b.db.MPABody(id); err != nil {
		return nil, 0, err
	} else if inline {
		return raw[:min(int64(len(raw)), n)], int64(len(raw)), nil
	}
	f, err := os.Open(b.path(id))
	if err != nil {
		return nil, 0, fmt.Errorf("read body %s: %w", id, err)
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("stat body %s: %w", id, err)
	}
	raw, err := io.ReadAll(io.LimitReader(f, n))
	if err != nil {
		return nil, 0, fmt.Errorf("read body %s: %w", id, err)
	}
	return raw, fi.Size(), nil
}

func (b *bodies) remove(id string) error {
	if err := os.Remove(b.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove body %s: %w", id, err)
	}
	return nil
}

// sweep removes temp files and bodies that no entry references (left by a
// crash between writing a file and committing, or between committing a
// delete and removing the file).
func (b *bodies) sweep(keep map[string]bool) (int, error) {
	removed := 0
	if err := os.RemoveAll(b.tmpDir); err != nil {
		return 0, fmt.Errorf("clean spool tmp: %w", err)
	}
	if err := os.MkdirAll(b.tmpDir, 0o700); err != nil {
		return 0, fmt.Errorf("create spool tmp: %w", err)
	}
	ents, err := os.ReadDir(b.msgDir)
	if err != nil {
		return 0, fmt.Errorf("list spool: %w", err)
	}
	for _, e := range ents {
		if !keep[e.Name()] {
			if err := b.remove(e.Name()); err != nil {
				return removed, err
			}
			removed++
		}
	}
	return removed, nil
}

// scheduler hands spool ids to workers: ready now, or after a delay. An id
// is held by at most one worker at a time.
//
// Idle workers wait on a stack: the worker that went idle last is woken
// first. When the MPA is not the bottleneck (Postfix feeds it slower than
// its workers deliver) the same few workers, and so the same few
// reinjection connections and smtpd processes, do the work, and the
// others' connections close after Config.IdleTimeout; the whole pool only
// opens under a load that needs it. (A shared channel woke the workers in
// turn and kept every connection, one smtpd each, open.)
type scheduler struct {
	mu        sync.Mutex
	ready     []string
	scheduled map[string]bool
	timers    map[string]*time.Timer
	held      map[string]bool
	again     map[string]bool
	idle      []*waiter // the last one went idle last
}

// waiter is an idle worker; woken is set (under scheduler.mu) when it was
// taken off the stack to be woken, and wake then holds a token.
type waiter struct {
	wake  chan struct{}
	woken bool
}

func newScheduler() *scheduler {
	return &scheduler{scheduled: map[string]bool{}, timers: map[string]*time.Timer{},
		held: map[string]bool{}, again: map[string]bool{}}
}

// push makes id ready now (cancelling a pending timer).
func (s *scheduler) push(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushLocked(id)
}

func (s *scheduler) pushLocked(id string) {
	if t := s.timers[id]; t != nil {
		t.Stop()
		delete(s.timers, id)
	}
	if s.held[id] {
		s.again[id] = true
		return
	}
	if s.scheduled[id] {
		return
	}
	s.scheduled[id] = true
	s.ready = append(s.ready, id)
	s.signal()
}

// signal wakes the worker that went idle last, if any (under mu).
func (s *scheduler) signal() {
	if n := len(s.idle); n > 0 {
		w := s.idle[n-1]
		s.idle[n-1] = nil
		s.idle = s.idle[:n-1]
		w.woken = true
		w.wake <- struct{}{}
	}
}

// park puts w on the idle stack unless an id is ready; it reports whether
// it did.
func (s *scheduler) park(w *waiter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ready) > 0 {
		return false
	}
	w.woken = false
	s.idle = append(s.idle, w)
	return true
}

// unpark takes w, which stops waiting for another reason, off the stack;
// a wake-up it got meanwhile goes to the next idle worker, so that no
// ready id waits for a worker that left.
func (s *scheduler) unpark(w *waiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.woken {
		<-w.wake
		if len(s.ready) > 0 {
			s.signal()
		}
		return
	}
	for i, o := range s.idle {
		if o == w {
			s.idle = append(s.idle[:i], s.idle[i+1:]...)
			return
		}
	}
}

// at makes id ready at t.
func (s *scheduler) at(id string, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		s.push(id)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.timers[id]; old != nil {
		old.Stop()
	}
	s.timers[id] = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.timers, id)
		s.pushLocked(id)
	})
}

// nextOr is next that also returns, with woke set and no id, when idle
// fires or wake is closed (nil channels never do).
func (s *scheduler) nextOr(done <-chan struct{}, idle <-chan time.Time, wake <-chan struct{}) (id string, ok, woke bool) {
	var w *waiter // made only when there is nothing to take
	for {
		if id, ok := s.take(); ok {
			return id, true, false
		}
		if w == nil {
			w = &waiter{wake: make(chan struct{}, 1)}
		}
		if !s.park(w) {
			continue
		}
		select {
		case <-w.wake:
			continue
		case <-done:
			s.unpark(w)
			return "", false, false
		case <-idle:
			s.unpark(w)
			return "", true, true
		case <-wake:
			s.unpark(w)
			return "", true, true
		}
	}
}

// take hands out the next ready id, if there is one.
func (s *scheduler) take() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ready) == 0 {
		return "", false
	}
	id := s.ready[0]
	s.ready = s.ready[1:]
	delete(s.scheduled, id)
	s.held[id] = true
	if len(s.ready) > 0 {
		s.signal()
	}
	return id, true
}

// release ends a worker's hold on id; a push that came meanwhile runs now.
func (s *scheduler) release(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.held, id)
	if s.again[id] {
		delete(s.again, id)
		s.pushLocked(id)
	}
}

// heldIDs is a copy of the ids workers hold now, to read without the
// scheduler's lock (inside a store transaction, for one).
func (s *scheduler) heldIDs() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.held)
}

func (s *scheduler) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.timers {
		t.Stop()
		delete(s.timers, id)
	}
}

// splitID names an error entry split off spool entry id.
func splitID(id string, n uint64) string {
	return id + "-" + strconv.FormatUint(n, 36)
}

// resentMessages counts messages Postfix sent again that the MPA
// recognised and did not store twice (metrics state).
var resentMessages atomic.Uint64

// In-doubt deliveries settled from Postfix's log (metrics state): found
// queued by Postfix, found dropped and sent again, and left undecided (to
// the error repository).
var (
	inDoubtDelivered  atomic.Uint64
	inDoubtResent     atomic.Uint64
	inDoubtUnresolved atomic.Uint64
)
