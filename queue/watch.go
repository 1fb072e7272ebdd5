package queue

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"postdeck/panics"
)

// The watcher follows Postfix's queue directories with inotify and keeps
// the index current: every queue file that is created, renamed, rewritten
// in place, chmod-ed (a commit, postsuper -e) or removed, and every defer
// log that changes, marks its queue id dirty; the dirty ids are looked at
// again (lstat, and a read only when the file's stamp changed) and the
// index updated in one short critical section per batch. A rename that
// keeps the file (hold, release, deferred -> active) costs one lstat; so
// does a requeue (postsuper -r: a rename to maildrop and new times) of a
// file from deferred or hold when no event says it was written.
//
// It watches maildrop, incoming, active, deferred, hold and defer and
// their hash subdirectories (added as Postfix creates them). An inotify
// queue overflow, a panic in a batch, and a timer (IndexOptions.Reconcile)
// run a full reconciliation: every directory listed again, every file's
// stamp compared, changed files read, vanished ones dropped.

// qDefer marks the directories of defer logs in qdir.queue.
const qDefer uint8 = 255

const noDir = ^uint16(0)

// qdir is one watched directory.
type qdir struct {
	path  string
	queue uint8 // index into Names, or qDefer
	wd    int32 // -1 once the directory is gone
}

// dirtyID is what the events since the last batch said about one id.
type dirtyID struct {
	dirs         [4]uint16
	n            uint8
	overflow     bool // more than 4 directories: look everywhere
	deferChanged bool
	// wrote: the queue file may have been written (created, closed after
	// writing, or found in a new directory), not only renamed or touched.
	wrote bool
}

const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_CLOSE_WRITE | unix.IN_ATTRIB | unix.IN_ONLYDIR

// IndexOptions tune the queue index (Queue.Start).
type IndexOptions struct {
	// Reconcile is how often a full reconciliation heals missed events;
	// 0 means DefaultReconcile.
	Reconcile time.Duration

	// configDir is Postfix's config_directory, and reconf reads the
	// index's parameters of main.cf again (Queue.Start sets both): the
	// index follows main.cf as showq does after a reload.
	configDir string
	reconf    func() (fileConf, error)
}

// confMask is what the watch of the config directory hears: main.cf
// replaced (an apply, postconf -e) or written in place (an editor).
const confMask = unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE | unix.IN_ONLYDIR

// DefaultReconcile is how often the index compares itself with the
// queue directories in full. Events keep it current in between; this
// only heals what inotify could not say (an overflow is healed at once).
const DefaultReconcile = 5 * time.Minute

type watcher struct {
	log  *slog.Logger
	root string
	// conf is how the queue files are read (main.cf's parameters); the
	// loop replaces it when main.cf changes them (rereadConf).
	conf atomic.Pointer[fileConf]
	idx  *msgIndex

	fd, wake int
	fdMu     sync.Mutex // guards closed against poke racing close
	closed   bool

	// Only the loop goroutine touches these.
	dirs     []qdir
	byWD     map[int32]uint16
	byPath   map[string]uint16
	reader   *fileReader
	dirty    map[string]dirtyID
	overflow bool
	every    time.Duration
	next     time.Time
	buf      []byte
	// confWD watches the config directory (-1: none); confChanged says
	// main.cf changed since the last look; rereadAll makes the next
	// reconciliation read every file again, stamps or not.
	confWD      int32
	reconf      func() (fileConf, error)
	confChanged bool
	rereadAll   bool

	reqs chan chan time.Time
	stop chan struct{}
	done chan struct{}
	// built is closed after the first full scan.
	built    chan struct{}
	buildErr error

	events     atomic.Uint64
	reconciles atomic.Uint64
	drains     atomic.Uint64 // wake-ups that read events
	// reconcileSoon asks the loop for a full reconciliation at its next
	// wake-up (tests; the timer and overflows need no asking).
	reconcileSoon atomic.Bool
	// routine is set while a timed reconciliation runs: sync answers
	// with the index as of the last drain instead of waiting for it.
	routine atomic.Bool
	// busy is set by the loop before it reads the inotify queue and
	// cleared once what it read is in the index (quiet).
	busy atomic.Bool
	// synced is when (UnixNano) a sync last found the index holding
	// every change made before it (syncedWithin).
	synced atomic.Int64
}

var errIndexStopped = errors.New("queue index stopped")

func startWatcher(root string, conf fileConf, opts IndexOptions, log *slog.Logger) (*watcher, error) {
	if opts.Reconcile <= 0 {
		opts.Reconcile = DefaultReconcile
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("queue directory %s: %w", root, errors.Join(err, errors.New("not a directory")))
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	w := &watcher{
		log: log, root: root, idx: newMsgIndex(), confWD: -1, reconf: opts.reconf,
		fd: fd, wake: wake,
		byWD: make(map[int32]uint16), byPath: make(map[string]uint16),
		reader: newFileReader(conf, newInterner()),
		dirty:  make(map[string]dirtyID),
		every:  opts.Reconcile,
		buf:    make([]byte, 256<<10),
		reqs:   make(chan chan time.Time, 64),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		built:  make(chan struct{}),
	}
	w.conf.Store(&conf)
	// Watches first, then the scan: a change made during the scan is an
	// event read after it.
	if err := w.addTrees(); err != nil {
		w.close()
		return nil, err
	}
	if opts.configDir != "" && opts.reconf != nil {
		if wd, err := unix.InotifyAddWatch(fd, opts.configDir, confMask); err == nil {
			w.confWD = int32(wd)
		} else {
			log.Warn("queue index: watch main.cf; a change of its queue parameters is seen at the next restart", "err", err)
		}
	}
	go w.loop()
	return w, nil
}

// queueDirNames are the directories watched, with their queue index.
var queueDirNames = []struct {
	name  string
	queue uint8
}{{Maildrop, 0}, {Incoming, 1}, {Active, 2}, {Deferred, 3}, {Hold, 4}, {"defer", qDefer}}

func (w *watcher) addTrees() error {
	for _, d := range queueDirNames {
		if err := w.addDir(filepath.Join(w.root, d.name), d.queue, nil); err != nil {
			return err
		}
	}
	return nil
}

// addDir watches path and, recursively, its hash subdirectories (one
// character names). found, when not nil, gets the queue files seen.
func (w *watcher) addDir(path string, queue uint8, found func(name string, dir uint16)) error {
	wd, err := unix.InotifyAddWatch(w.fd, path, watchMask)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return nil // Postfix has not made it (yet)
		}
		return fmt.Errorf("watch %s: %w", path, err)
	}
	di, ok := w.byPath[path]
	// The directory table is read by candidates under the index's read
	// lock; this goroutine changes it under the write lock.
	w.idx.mu.Lock()
	if !ok {
		if len(w.dirs) >= int(noDir) {
			w.idx.mu.Unlock()
			return fmt.Errorf("watch %s: too many queue directories", path)
		}
		di = uint16(len(w.dirs))
		w.dirs = append(w.dirs, qdir{path: path, queue: queue})
		w.byPath[path] = di
	}
	w.dirs[di].wd = int32(wd)
	w.idx.mu.Unlock()
	w.byWD[int32(wd)] = di
	f, err := os.Open(path)
	if err != nil {
		return nil // removed meanwhile: its IN_IGNORED follows
	}
	names, err := f.Readdirnames(-1)
	_ = f.Close()
	if err != nil {
		return fmt.Errorf("list %s: %w", path, err)
	}
	for _, name := range names {
		if len(name) == 1 {
			var st syscall.Stat_t
			if syscall.Lstat(path+"/"+name, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
				if err := w.addDir(path+"/"+name, queue, found); err != nil {
					return err
				}
			}
			continue
		}
		if found != nil {
			found(name, di)
		}
	}
	return nil
}

// loop is the watcher's goroutine: the first full scan, then events,
// sync requests and reconciliations, until stop.
func (w *watcher) loop() {
	defer close(w.done)
	defer w.close()
	defer func() {
		// Everything that reads files runs under safely; this is for the
		// loop itself. The index then stops and listings fall back.
		if r := recover(); r != nil {
			panics.Recovered(panics.Queue)
			w.log.Error("queue index stopped by a panic", "err", fmt.Errorf("panic: %v", r))
		}
	}()
	ok := w.safely("build", func() { w.buildErr = w.reconcile() })
	if !ok && w.buildErr == nil {
		w.buildErr = errors.New("queue index: build panicked")
	}
	close(w.built)
	if w.buildErr != nil {
		if !errors.Is(w.buildErr, errStopping) {
			w.log.Error("queue index: build", "err", w.buildErr)
		}
		return
	}
	w.next = time.Now().Add(w.every)
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}, {Fd: int32(w.wake), Events: unix.POLLIN}}
	var waiting []chan time.Time
	for {
		timeout := max(time.Until(w.next), 0)
		if _, err := unix.Poll(fds, int(min(timeout, time.Minute)/time.Millisecond)+1); err != nil && !errors.Is(err, unix.EINTR) {
			w.log.Error("queue index: poll", "err", err)
			return
		}
		if fds[0].Revents&unix.POLLIN != 0 && fds[1].Revents&unix.POLLIN == 0 {
			w.gather()
		}
		var eb [8]byte
		_, _ = unix.Read(w.wake, eb[:])
		select {
		case <-w.stop:
			for _, r := range waiting {
				close(r)
			}
			return
		default:
		}
	collect:
		for {
			select {
			case r := <-w.reqs:
				waiting = append(waiting, r)
			default:
				break collect
			}
		}
		start := time.Now()
		w.busy.Store(true)
		w.drains.Add(1)
		if !w.safely("events", w.drain) {
			w.overflow = true // heal what the panic left undone
		}
		if w.confChanged {
			w.confChanged = false
			w.safely("configuration", w.rereadConf)
		}
		reconcile := func() {
			w.safely("reconcile", func() {
				if err := w.reconcile(); err != nil && !errors.Is(err, errStopping) {
					w.log.Error("queue index: reconcile", "err", err)
				}
			})
		}
		if w.overflow {
			reconcile() // events were lost: nobody may read the index before
		}
		w.idx.mu.Lock()
		w.idx.asOf = start
		w.idx.mu.Unlock()
		w.busy.Store(false)
		for _, r := range waiting {
			r <- start
		}
		waiting = waiting[:0]
		if w.reconcileSoon.Swap(false) || !time.Now().Before(w.next) {
			// A routine reconciliation: requests meanwhile are answered
			// from the index as of now (sync), not made to wait.
			w.routine.Store(true)
			reconcile()
			w.routine.Store(false)
		}
	}
}

// eventGather is how long the loop lets events gather after the first
// one woke it, unless a sync or the stop asks for it first. A mass
// postsuper makes an event per file: read as they came, each woke the
// loop (and postsuper had the wake-up to make in its rename), and the
// switches cost more than the events; perf over a hold of 100,000
// messages put half of this process's samples in the scheduler.
const eventGather = 10 * time.Millisecond

// gather waits eventGather, or until the wake-up file is written (a sync
// waiting for the index, or the stop).
func (w *watcher) gather() {
	fds := []unix.PollFd{{Fd: int32(w.wake), Events: unix.POLLIN}}
	_, _ = unix.Poll(fds, int(eventGather/time.Millisecond))
}

// safely runs fn and counts a panic instead of dying with it.
func (w *watcher) safely(what string, fn func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			panics.Recovered(panics.Queue)
			w.log.Error("queue index panicked", "step", what, "err", fmt.Errorf("panic: %v", r))
			ok = false
		}
	}()
	fn()
	return true
}

// drain reads every event queued so far and applies them.
func (w *watcher) drain() {
	for {
		n, err := unix.Read(w.fd, w.buf)
		if err != nil || n <= 0 {
			break // EAGAIN: nothing more
		}
		w.parseEvents(w.buf[:n])
		// Apply in small batches: while a batch is looked at, the kernel
		// queues new events (at most max_queued_events, 16,384 by
		// default, before it drops them and a full reconciliation is
		// needed), and a mass postsuper makes 30,000 a second.
		if len(w.dirty) >= dirtyBatch {
			w.applyDirty()
		}
	}
	w.applyDirty()
}

// dirtyBatch is how many dirty ids drain collects before it applies
// them.
const dirtyBatch = 2048

func (w *watcher) parseEvents(b []byte) {
	for len(b) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(b[0:4]))
		mask := binary.NativeEndian.Uint32(b[4:8])
		nameLen := int(binary.NativeEndian.Uint32(b[12:16]))
		end := unix.SizeofInotifyEvent + nameLen
		if end > len(b) {
			return
		}
		name := b[unix.SizeofInotifyEvent:end]
		for len(name) > 0 && name[len(name)-1] == 0 {
			name = name[:len(name)-1]
		}
		b = b[end:]
		w.events.Add(1)
		if mask&unix.IN_Q_OVERFLOW != 0 {
			w.overflow = true
			w.confChanged = w.confWD >= 0 // an event about main.cf may be lost too
			continue
		}
		if wd == w.confWD {
			if mask&unix.IN_IGNORED != 0 {
				w.confWD = -1
			} else if string(name) == "main.cf" {
				w.confChanged = true
			}
			continue
		}
		di, ok := w.byWD[wd]
		if !ok {
			continue
		}
		if mask&unix.IN_IGNORED != 0 {
			delete(w.byWD, wd)
			w.idx.mu.Lock()
			w.dirs[di].wd = -1
			w.idx.mu.Unlock()
			continue
		}
		if mask&unix.IN_ISDIR != 0 {
			if mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 && len(name) == 1 {
				d := w.dirs[di]
				err := w.addDir(d.path+"/"+string(name), d.queue, func(id string, nd uint16) { w.mark(id, nd, true) })
				if err != nil {
					w.log.Warn("queue index: watch a new directory", "err", err)
					w.overflow = true
				}
			}
			continue
		}
		if len(name) < 6 || !ValidID(string(name)) {
			continue
		}
		w.mark(string(name), di, mask&(unix.IN_CREATE|unix.IN_CLOSE_WRITE) != 0)
	}
}

// mark records an event on id in directory di; wrote says the event may
// stand for a write of the file.
func (w *watcher) mark(id string, di uint16, wrote bool) {
	d := w.dirty[id]
	if w.dirs[di].queue == qDefer {
		d.deferChanged = true
	} else {
		d.wrote = d.wrote || wrote
		seen := false
		for _, x := range d.dirs[:d.n] {
			seen = seen || x == di
		}
		switch {
		case seen:
		case int(d.n) < len(d.dirs):
			d.dirs[d.n] = di
			d.n++
		default:
			d.overflow = true
		}
	}
	w.dirty[id] = d
}

// indexOp is one change to the index, found without the lock.
type indexOp struct {
	kind  uint8 // opPut, opMove, opRemove
	slot  int32
	entry queueEntry
	meta  entryMeta
}

const (
	opPut = iota
	opMove
	opRemove
)

// applyDirty looks at every dirty id again and applies the result.
func (w *watcher) applyDirty() {
	if len(w.dirty) == 0 {
		return
	}
	ops := make([]indexOp, 0, len(w.dirty))
	for id, d := range w.dirty {
		if op, ok := w.resolve(id, d); ok {
			ops = append(ops, op)
		}
	}
	clear(w.dirty)
	w.idx.mu.Lock()
	for i := range ops {
		w.apply(&ops[i])
	}
	w.idx.compact()
	w.idx.mu.Unlock()
}

func (w *watcher) apply(op *indexOp) {
	switch op.kind {
	case opPut:
		w.idx.put(op.entry, op.meta)
	case opMove:
		w.idx.move(op.slot, w.dirs[op.meta.dir].queue, op.meta)
	case opRemove:
		w.idx.remove(op.entry.id)
	}
}

// resolve finds where id's file is now and what changed. The index is
// read without the lock: only this goroutine writes it.
func (w *watcher) resolve(id string, d dirtyID) (indexOp, bool) {
	slot, known := w.idx.lookup(id)
	var cur entryMeta
	if known {
		cur = w.idx.meta[slot]
	}
	// Postfix moves a queue file with rename(2), so it is in one place at
	// a time: the first place it is found is where it is. The places of
	// the events come first, the newest first (a message put on hold is
	// found at once in hold, where looking in deferred first would miss
	// it in a directory of thousands of entries), then where the index
	// has it, when no event named that place.
	at := noDir
	var st syscall.Stat_t
	look := func(di uint16) bool {
		var s syscall.Stat_t
		if di != noDir && syscall.Lstat(w.dirs[di].path+"/"+id, &s) == nil {
			at, st = di, s
			return true
		}
		return false
	}
	found := false
	for i := int(d.n) - 1; i >= 0 && !found; i-- {
		found = look(d.dirs[i])
	}
	if !found && known && !slices.Contains(d.dirs[:d.n], cur.dir) {
		look(cur.dir)
	}
	if at == noDir && (d.overflow || d.n == 0) {
		at, st = w.search(id)
	}
	gone := indexOp{kind: opRemove, entry: queueEntry{id: id}}
	if at == noDir || st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Mode&0o700 != statReady {
		return gone, known
	}
	stamp := stampOf(&st)
	if known && !d.deferChanged && cur.stamp == stamp.key() {
		if cur.dir == at {
			return indexOp{}, false
		}
		return indexOp{kind: opMove, slot: slot, meta: entryMeta{dir: at}}, true
	}
	// postsuper -r renames a file to maildrop and sets its times: the
	// same inode, size and mode, a new mtime. When no event of this batch
	// can stand for a write, and the file came from deferred or hold and
	// passed through no other queue (no Postfix process holds files there
	// open to write: the queue manager moves a message to active before
	// anything delivers it), its records are the ones the entry was read
	// from, and reading 100,000 requeued files again is most of what a
	// requeue by filter costs the daemon. Anything that writes the file
	// later changes its stamp.
	if known && !d.deferChanged && !d.wrote && !d.overflow && cur.dir != at && cur.ident == stamp.ident() && w.onlySettled(cur.dir, at, d) {
		return indexOp{kind: opMove, slot: slot, meta: entryMeta{stamp: stamp.key(), dstamp: cur.dstamp, dir: at, ident: cur.ident}}, true
	}
	return w.read(w.reader, id, at)
}

// search looks for id in every queue (its hash path in each).
func (w *watcher) search(id string) (uint16, syscall.Stat_t) {
	for _, d := range queueDirNames {
		if d.queue == qDefer {
			continue
		}
		path := w.conf.Load().hashPath(w.root, d.name, id)
		var st syscall.Stat_t
		if syscall.Lstat(path, &st) == nil {
			if di, ok := w.byPath[filepath.Dir(path)]; ok {
				return di, st
			}
		}
	}
	return noDir, syscall.Stat_t{}
}

// read reads id's file in directory di (and its defer log) into an op.
func (w *watcher) read(r *fileReader, id string, di uint16) (indexOp, bool) {
	d := w.dirs[di]
	e, stamp, dstamp, err := r.readMessage(d.path+"/"+id, w.conf.Load().hashPath(w.root, "defer", id), id, d.queue)
	if err != nil {
		return indexOp{kind: opRemove, entry: queueEntry{id: id}}, true
	}
	return indexOp{kind: opPut, entry: e, meta: entryMeta{stamp: stamp.key(), dstamp: dstamp.key(), dir: di, ident: stamp.ident()}}, true
}

// onlySettled reports whether a file the index had in from, now in to,
// came from the deferred or hold queue (files no Postfix process keeps
// open to write), is now there or in maildrop (where postsuper -r puts
// it), and, by the events of d, was in no other queue between.
func (w *watcher) onlySettled(from, to uint16, d dirtyID) bool {
	settled := func(di uint16) bool {
		q := w.dirs[di].queue
		return q == deferredQueue || q == holdQueue
	}
	if !settled(from) || !settled(to) && w.dirs[to].queue != maildropQueue {
		return false
	}
	for _, di := range d.dirs[:d.n] {
		if di != to && !settled(di) {
			return false
		}
	}
	return true
}

// reconcile lists every queue directory and makes the index match it:
// new and changed files are read (in parallel), vanished ones dropped.
// The first call builds the index.
func (w *watcher) reconcile() error {
	defer w.reconciles.Add(1)
	w.overflow = false
	type job struct {
		id string
		di uint16
	}
	files := make(map[string]uint16, w.idx.len()+1024)
	defers := make(map[string]uint16)
	for _, d := range queueDirNames {
		if w.stopping() {
			return errStopping
		}
		err := w.addDir(filepath.Join(w.root, d.name), d.queue, func(name string, di uint16) {
			if d.queue == qDefer {
				defers[name] = di
			} else if ValidID(name) {
				files[name] = di
			}
		})
		if err != nil {
			return err
		}
	}
	// Events about what is listed here are superseded by this scan.
	clear(w.dirty)
	var jobs []job
	var gone []string
	empty := w.idx.len() == 0
	all := w.rereadAll // the files are read another way now
	w.rereadAll = false
	var moves []indexOp
	for id, di := range files {
		if !empty && !all {
			if slot, ok := w.idx.lookup(id); ok && w.unchanged(id, di, w.idx.meta[slot], defers) {
				if w.idx.meta[slot].dir != di {
					moves = append(moves, indexOp{kind: opMove, slot: slot, meta: entryMeta{dir: di}})
				}
				continue
			}
		}
		jobs = append(jobs, job{id, di})
	}
	w.idx.ids(func(id string) {
		if _, ok := files[id]; !ok {
			gone = append(gone, id)
		}
	})
	ops := make([]indexOp, len(jobs))
	workers := min(max(2*runtime.GOMAXPROCS(0), 2), 8, len(jobs)/256+1)
	var next atomic.Int64
	var wg sync.WaitGroup
	var panicked atomic.Bool
	for range workers {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					panics.Recovered(panics.Queue)
					w.log.Error("queue index: reader panicked", "err", fmt.Errorf("panic: %v", r))
					panicked.Store(true)
				}
			}()
			r := newFileReader(*w.conf.Load(), newInterner())
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) || w.stopping() {
					return
				}
				j := jobs[i]
				var op indexOp
				var ok bool
				if _, hasDefer := defers[j.id]; hasDefer {
					op, ok = w.read(r, j.id, j.di)
				} else {
					op, ok = w.readNoDefer(r, j.id, j.di)
				}
				if !ok {
					op = indexOp{kind: opRemove, entry: queueEntry{id: j.id}}
				}
				ops[i] = op
			}
		})
	}
	wg.Wait()
	if panicked.Load() {
		return errors.New("a queue file reader panicked")
	}
	if w.stopping() {
		// The readers left jobs undone: an index of part of the queue
		// is no index. Nobody reads it any more.
		return errStopping
	}
	w.idx.mu.Lock()
	if empty {
		w.idx.reserve(len(ops))
	}
	for i := range moves {
		w.apply(&moves[i])
	}
	for i := range ops {
		w.apply(&ops[i])
	}
	for _, id := range gone {
		w.idx.remove(id)
	}
	w.idx.compact()
	w.idx.built = time.Now()
	w.idx.mu.Unlock()
	w.next = time.Now().Add(w.every)
	return nil
}

// rereadConf reads main.cf's queue parameters again after main.cf
// changed; when they differ from those the index was read with (an
// administrator set smtputf8_enable, say), every file is read again
// at once, so that the index lists what showq lists after the reload.
func (w *watcher) rereadConf() {
	c, err := w.reconf()
	if err != nil {
		w.log.Warn("queue index: read main.cf's queue parameters again", "err", err)
		return
	}
	if reflect.DeepEqual(c, *w.conf.Load()) {
		return
	}
	w.conf.Store(&c)
	w.reader = newFileReader(c, newInterner())
	w.rereadAll = true
	w.overflow = true // reconcile before anybody reads the index
}

// readNoDefer reads a file whose message has no defer log.
func (w *watcher) readNoDefer(r *fileReader, id string, di uint16) (indexOp, bool) {
	d := w.dirs[di]
	e, stamp, _, err := r.readMessage(d.path+"/"+id, "", id, d.queue)
	if err != nil {
		return indexOp{}, false
	}
	return indexOp{kind: opPut, entry: e, meta: entryMeta{stamp: stamp.key(), dir: di, ident: stamp.ident()}}, true
}

// unchanged reports whether id's file, now in di, and its defer log are
// the versions the entry was read from (a rename keeps the stamp).
func (w *watcher) unchanged(id string, di uint16, m entryMeta, defers map[string]uint16) bool {
	var st syscall.Stat_t
	if syscall.Lstat(w.dirs[di].path+"/"+id, &st) != nil || stampOf(&st).key() != m.stamp {
		return false
	}
	var dkey uint64
	if ddi, ok := defers[id]; ok {
		var dst syscall.Stat_t
		if syscall.Lstat(w.dirs[ddi].path+"/"+id, &dst) == nil {
			dkey = stampOf(&dst).key()
		}
	}
	return dkey == m.dstamp
}

// sync waits until every change Postfix made before the call is in the
// index and returns the time the index is current as of.
func (w *watcher) sync(ctx context.Context) (time.Time, error) {
	select {
	case <-w.built:
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
	if w.buildErr != nil {
		return time.Time{}, w.buildErr
	}
	if w.routine.Load() {
		w.idx.mu.RLock()
		defer w.idx.mu.RUnlock()
		return w.idx.asOf, nil
	}
	now := time.Now()
	if w.quiet() {
		w.synced.Store(now.UnixNano())
		return now, nil
	}
	r := make(chan time.Time, 1)
	select {
	case w.reqs <- r:
	case <-w.done:
		return time.Time{}, errIndexStopped
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
	w.poke()
	select {
	case t, ok := <-r:
		if !ok {
			return time.Time{}, errIndexStopped
		}
		w.synced.Store(now.UnixNano())
		return t, nil
	case <-w.done:
		return time.Time{}, errIndexStopped
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// syncedWithin reports whether a sync found the index current less than
// d ago: the index then misses at most the changes of the last d (and
// those the loop is applying).
func (w *watcher) syncedWithin(d time.Duration) bool {
	age := time.Now().UnixNano() - w.synced.Load()
	return age >= 0 && age < int64(d)
}

func (w *watcher) poke() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	w.fdMu.Lock()
	defer w.fdMu.Unlock()
	if !w.closed {
		_, _ = unix.Write(w.wake, one[:])
	}
}

// quiet reports whether the index already has every change Postfix
// made before the call, without a round trip through the loop: no event
// waits in the inotify queue, and no drain is under way that read events
// before the call and has not put them in the index yet. The kernel
// queues an event before the change's system call returns, and the loop
// sets busy before it reads any, so an empty queue seen before busy
// reads false means everything read so far has been applied. A queue
// that sits still then costs each request a poll(2), not a wake-up of
// the loop on a busy machine.
func (w *watcher) quiet() bool {
	w.fdMu.Lock()
	defer w.fdMu.Unlock()
	if w.closed {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 0); err != nil || n != 0 {
		return false
	}
	return !w.busy.Load()
}

// errStopping ends a scan that shutdown interrupted: the first build of
// 100,000 messages takes seconds, and a daemon asked to stop meanwhile
// waited for it.
var errStopping = errors.New("queue index: stopping")

// stopping reports whether shutdown has been asked for.
func (w *watcher) stopping() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// shutdown stops the loop and waits for it (or ctx).
func (w *watcher) shutdown(ctx context.Context) error {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.poke()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop queue index: %w", ctx.Err())
	}
}

func (w *watcher) close() {
	w.fdMu.Lock()
	defer w.fdMu.Unlock()
	if !w.closed {
		w.closed = true
		_ = unix.Close(w.fd)
		_ = unix.Close(w.wake)
	}
}
