package admin

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

// stuckWriter takes the first write and then blocks every write until
// released: a client that reads the first bytes of a backup and then
// stops reading.
type stuckWriter struct {
	buf      bytes.Buffer
	wrote    chan struct{} // closed at the first write
	release  chan struct{}
	once     sync.Once
	released sync.Once
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	if w.buf.Len() > 0 {
		<-w.release
	}
	w.once.Do(func() { close(w.wrote) })
	return w.buf.Write(p)
}

func (w *stuckWriter) unstick() { w.released.Do(func() { close(w.release) }) }

// TestBackupToAStuckClientHoldsNoTransaction: a backup whose reader takes
// its first bytes and then stops holds no read transaction of the live
// database while it waits (the snapshot is taken into a file first, and
// the archive is written from that file), so a change that grows the
// database past its mapping, which waits for every read transaction to
// end before bbolt remaps the file, goes through meanwhile. Streamed
// from the transaction, a client that reads nothing would hold every
// growing write of the daemon (the MPA's commits included) for as long
// as the response's write deadline.
func TestBackupToAStuckClientHoldsNoTransaction(t *testing.T) {
	s, db, _ := loggedService(t)
	w := &stuckWriter{wrote: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(w.unstick)
	backedUp := make(chan error, 1)
	go func() { backedUp <- s.Backup(context.Background(), Root, w) }()
	select {
	case <-w.wrote:
	case err := <-backedUp:
		t.Fatalf("the backup ended before its reader stopped: %v", err)
	}

	grown := make(chan error, 1)
	big := bytes.Repeat([]byte("g"), 32<<20) // far beyond the fresh database's mapping
	go func() { grown <- db.MPABodyPut("0000grown00001", big) }()
	select {
	case err := <-grown:
		if err != nil {
			t.Fatalf("growing the database while the backup's reader is stuck: %v", err)
		}
	case <-time.After(time.Minute): // a deadlock detector, not a measure
		w.unstick()
		<-grown
		t.Fatal("a change that grows the database waited for the stuck backup's reader")
	}

	w.unstick()
	if err := <-backedUp; err != nil {
		t.Fatalf("backup: %v", err)
	}
	// The archive is the database as it was before the change.
	tr := tar.NewReader(&w.buf)
	hdr, err := tr.Next()
	if err != nil || hdr.Name != backupDBName {
		t.Fatalf("the archive begins with %+v, %v", hdr, err)
	}
	n, err := io.Copy(io.Discard, tr)
	if err != nil || n >= int64(len(big)) {
		t.Errorf("the backup's database holds %d bytes (%v), want the snapshot taken before the change", n, err)
	}
}
