package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Start builds the queue index and keeps it current until Shutdown:
// listings, summaries and the actions' matching then read the index
// instead of running postqueue -j. It learns the queue directory and the
// few parameters that shape showq's output from postconf (so it follows
// a private instance and the system's Postfix alike) and returns once
// the watches are set; the first full scan runs in the background, and
// listings wait for it. Without Start, or when it fails, every listing
// runs postqueue -j (one snapshot serves SnapshotTTL).
//
// It reads the queue files as root reads them, so it works while
// Postfix's master is stopped.
func (q *Queue) Start(ctx context.Context, opts IndexOptions) error {
	conf, root, configDir, err := q.indexConf(ctx)
	if err != nil {
		return fmt.Errorf("start queue index: %w", err)
	}
	opts.configDir = configDir
	opts.reconf = func() (fileConf, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, _, _, err := q.indexConf(ctx)
		return c, err
	}
	w, err := startWatcher(root, conf, opts, q.log)
	if err != nil {
		return fmt.Errorf("start queue index: %w", err)
	}
	q.mu.Lock()
	old := q.watch
	q.watch = w
	q.mu.Unlock()
	if old != nil {
		_ = old.shutdown(ctx)
	}
	return nil
}

// Shutdown stops the index's watcher (listings go back to postqueue -j).
func (q *Queue) Shutdown(ctx context.Context) error {
	q.mu.Lock()
	w := q.watch
	q.watch = nil
	q.mu.Unlock()
	if w == nil {
		return nil
	}
	return w.shutdown(ctx)
}

// WaitIndexed waits until the index has been built and has every change
// made before the call, and says when that was. It fails when there is
// no index (see Start).
func (q *Queue) WaitIndexed(ctx context.Context) (time.Time, error) {
	w := q.watcher()
	if w == nil {
		return time.Time{}, errIndexStopped
	}
	return w.sync(ctx)
}

func (q *Queue) watcher() *watcher {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.watch
}

// indexParams are the main.cf parameters the index reads, in the order
// postconf prints them.
var indexParams = []string{"queue_directory", "smtputf8_enable", "empty_address_recipient",
	"duplicate_filter_limit", "hash_queue_depth", "hash_queue_names", "config_directory"}

// indexConf asks postconf (one run) where the queue and main.cf are
// and how showq formats the queue.
func (q *Queue) indexConf(ctx context.Context) (conf fileConf, root, configDir string, err error) {
	out, stderr, err := q.run(ctx, "postconf", append([]string{"-x", "-h"}, indexParams...)...)
	if err != nil {
		return fileConf{}, "", "", fmt.Errorf("postconf: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(indexParams) {
		return fileConf{}, "", "", fmt.Errorf("postconf printed %d lines for %d parameters: %s", len(lines), len(indexParams), stderr)
	}
	conf = defaultFileConf()
	root = strings.TrimSpace(lines[0])
	if !strings.HasPrefix(root, "/") {
		return fileConf{}, "", "", fmt.Errorf("queue_directory %q is not absolute", root)
	}
	conf.utf8 = strings.EqualFold(strings.TrimSpace(lines[1]), "yes")
	if v := strings.TrimSpace(lines[2]); v != "" {
		conf.emptyAddr = v
	}
	if n, err := strconv.Atoi(strings.TrimSpace(lines[3])); err == nil && n >= 0 {
		conf.dupLimit = n
	}
	if n, err := strconv.Atoi(strings.TrimSpace(lines[4])); err == nil && n >= 0 {
		conf.hashDepth = n
	}
	conf.hashQueues = strings.FieldsFunc(lines[5], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	return conf, strings.TrimRight(root, "/"), strings.TrimSpace(lines[6]), nil
}

// page filters, sorts and pages the index as of asOf.
func (ix *msgIndex) page(f Filter, asOf time.Time) Page {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.view(asOf).page(f)
}

// summary summarizes the index as of asOf, from its tally.
func (ix *msgIndex) summary(asOf time.Time) Summary {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.tally.summary(asOf.UTC())
}

// overview is the dashboard's Overview as of asOf, from the tally.
func (ix *msgIndex) overview(asOf time.Time) Overview {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.tally.overview(&ix.st, asOf.UTC())
}

// candidate is a message an action may act on, as the index saw it:
// where, and which versions of its file and defer log it matched in.
type candidate struct {
	id   string
	path string
	meta entryMeta
}

// candidates lists the messages m matches, with their files.
func (w *watcher) candidates(m *queueMatcher) []candidate {
	w.idx.mu.RLock()
	defer w.idx.mu.RUnlock()
	var out []candidate
	var e queueEntry
	for i := range int32(w.idx.st.count()) {
		if w.idx.st.load(i, &e) && m.match(&e) {
			out = append(out, candidate{id: e.id, path: w.dirs[w.idx.meta[i].dir].path + "/" + e.id, meta: w.idx.meta[i]})
		}
	}
	return out
}

// stillMatches checks c against its files right before an action: when
// the queue file and the defer log are the very versions the index
// matched (same inode, mtime, size and mode; the defer log's mtime and
// size, or still none), the message is what matched, at the cost of two
// lstat calls; otherwise it is read again and matched again. A message
// no longer queued does not match.
func (w *watcher) stillMatches(r *fileReader, m *queueMatcher, c candidate) (queueEntry, bool) {
	var st, dst syscall.Stat_t
	if syscall.Lstat(c.path, &st) == nil && stampOf(&st).key() == c.meta.stamp {
		dpath := w.conf.Load().hashPath(w.root, "defer", c.id)
		var dkey uint64
		if syscall.Lstat(dpath, &dst) == nil {
			dkey = stampOf(&dst).key()
		}
		if dkey == c.meta.dstamp {
			qi, _ := queueOfPath(w.root, c.path)
			return queueEntry{id: c.id, queue: qi}, true
		}
	}
	e, ok := w.reread(r, c)
	if !ok || !m.match(&e) {
		return queueEntry{}, false
	}
	return e, true
}

// reread reads c's message again from its file, wherever it is now:
// where the index saw it, else in each queue. ok is false when it is no
// longer queued (or not listable).
func (w *watcher) reread(r *fileReader, c candidate) (queueEntry, bool) {
	for try := 0; try < 2; try++ {
		path := c.path
		qi, known := queueOfPath(w.root, path)
		if try == 1 || !known {
			var found bool
			path, qi, found = w.findFile(c.id)
			if !found {
				return queueEntry{}, false
			}
		}
		e, _, _, err := r.readMessage(path, w.conf.Load().hashPath(w.root, "defer", c.id), c.id, qi)
		if err == nil {
			return e, true
		}
		if !errors.Is(err, errNotListed) {
			return queueEntry{}, false
		}
	}
	return queueEntry{}, false
}

// findFile looks for id's file in every queue.
func (w *watcher) findFile(id string) (string, uint8, bool) {
	for _, d := range queueDirNames {
		if d.queue == qDefer {
			continue
		}
		path := w.conf.Load().hashPath(w.root, d.name, id)
		var st syscall.Stat_t
		if syscall.Lstat(path, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG {
			return path, d.queue, true
		}
	}
	return "", 0, false
}

// queueOfPath is the queue of a file path under root.
func queueOfPath(root, path string) (uint8, bool) {
	rest, ok := strings.CutPrefix(path, root+"/")
	if !ok {
		return 0, false
	}
	name, _, _ := strings.Cut(rest, "/")
	for _, d := range queueDirNames {
		if d.name == name && d.queue != qDefer {
			return d.queue, true
		}
	}
	return 0, false
}
