package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// stopQueue writes a queue directory of n messages waiting in incoming.
func stopQueue(t *testing.T, n int) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range queueDirNames {
		if err := os.MkdirAll(filepath.Join(root, d.name), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		qfWrite(t, filepath.Join(root, Incoming), fmt.Sprintf("ABC%04X", i), 0o700,
			qfRecord('C', "             120              80               0        1             120"),
			qfRecord('T', "1800000000 1"),
			qfRecord('S', "sender@example.test"),
			qfRecord('R', "rcpt@example.test"),
			qfRecord('M', ""),
			qfRecord('N', "Subject: stop"),
			qfRecord('X', ""),
			qfRecord('E', ""))
	}
	return root
}

// TestShutdownCutsTheBuildShort: a daemon asked to stop while the index's
// first scan reads the queue files stops without reading the rest (at
// 100,000 messages the rest took seconds), leaves nothing in the index
// (a part of the queue is no index), and logs no error for it. The
// control: the same queue, not interrupted, is indexed whole.
func TestShutdownCutsTheBuildShort(t *testing.T) {
	const n = 40
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	whole, err := startWatcher(stopQueue(t, n), defaultFileConf(), IndexOptions{}, log)
	if err != nil {
		t.Fatal(err)
	}
	<-whole.built
	if whole.buildErr != nil || whole.idx.len() != n {
		t.Fatalf("control: built %d of %d messages, %v", whole.idx.len(), n, whole.buildErr)
	}
	if err := whole.shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	testHookRead = func() {
		once.Do(func() {
			close(started)
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		})
	}
	t.Cleanup(func() { testHookRead = nil })
	w, err := startWatcher(stopQueue(t, n), defaultFileConf(), IndexOptions{}, log)
	if err != nil {
		t.Fatal(err)
	}
	<-started // the scan reads its first file
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		errc <- w.shutdown(ctx)
	}()
	for !w.stopping() {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(w.buildErr, errStopping) || w.idx.len() != 0 {
		t.Fatalf("after a stop during the build: %d of %d messages indexed, build error %v; want none and %v", w.idx.len(), n, w.buildErr, errStopping)
	}
}

// TestEventsGatherBetweenWakeups: a stream of changes (a mass postsuper
// makes one event per file) wakes the index's loop about once per
// eventGather, not once per event, and every change is in the index.
func TestEventsGatherBetweenWakeups(t *testing.T) {
	const n = 400
	root := stopQueue(t, n)
	w := watchBuilt(t, root, defaultFileConf(), n)
	before := w.drains.Load()
	start := time.Now()
	for i := range n {
		id := fmt.Sprintf("ABC%04X", i)
		if err := os.Rename(filepath.Join(root, Incoming, id), filepath.Join(root, Hold, id)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	took := time.Since(start)
	time.Sleep(2 * eventGather) // the last events' drain
	drains := w.drains.Load() - before
	if _, err := w.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	held := 0
	var e queueEntry
	w.idx.mu.RLock()
	for i := range int32(w.idx.st.count()) {
		if w.idx.st.load(i, &e) && e.queue == holdQueue {
			held++
		}
	}
	w.idx.mu.RUnlock()
	if held != n {
		t.Fatalf("%d of %d moves in the index", held, n)
	}
	bound := uint64(took/eventGather) + 3
	t.Logf("%d renames in %v: %d wake-ups (at most %d)", n, took, drains, bound)
	if drains > bound {
		t.Fatalf("%d renames in %v woke the loop %d times, want at most %d", n, took, drains, bound)
	}
}

// watchBuilt starts a watcher on the queue directory root, stopped at the
// test's end, and waits until it has indexed the n messages there.
func watchBuilt(t *testing.T, root string, conf fileConf, n int) *watcher {
	t.Helper()
	w, err := startWatcher(root, conf, IndexOptions{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.shutdown(context.Background()) })
	<-w.built
	if w.buildErr != nil || w.idx.len() != n {
		t.Fatalf("built %d of %d messages, %v", w.idx.len(), n, w.buildErr)
	}
	return w
}

// reconcileAndWait asks w for a full reconciliation and waits for it.
func reconcileAndWait(t *testing.T, w *watcher) {
	t.Helper()
	before := w.reconciles.Load()
	w.reconcileSoon.Store(true)
	w.poke()
	for deadline := time.Now().Add(20 * time.Second); w.reconciles.Load() == before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no reconciliation within 20s")
		}
	}
}
