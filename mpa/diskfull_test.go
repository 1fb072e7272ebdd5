package mpa

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory of the
// test (postfixtest.MountTmpfs) and returns it.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	postfixtest.MountTmpfs(t, dir, size)
	return dir
}

// Acceptance (the data disk fills): postdeck's database and the MPA's
// spool on a small file system of their own. Below the free-space floor
// the MPA answers 452 4.3.1 at MAIL FROM, as Postfix's smtpd does below
// queue_minfree, and says so in its log once for the episode, not per
// message; Counts shows the free bytes and the guard. A message whose
// spool write fails for ENOSPC (the disk filled during the transaction)
// gets the same 452, without a path or a Go error, never a 250. Once
// space is freed mail flows again without a restart, every message
// answered 250 is delivered exactly once, and the database is sound.
func TestAcceptanceDiskFullRefusesAndRecovers(t *testing.T) {
	mnt := mountTmpfs(t, 24<<20)
	db, err := store.Open(filepath.Join(mnt, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	next := postfixtest.NewSink(t, 0)
	next.SetClosed(true) // the spool keeps what it takes until the end
	ln := listenLocal(t)
	var logs postfixtest.SyncBuffer
	const floor = 8 << 20
	s, err := New(Config{Listener: ln, ReinjectAddr: next.Addr, SpoolDir: filepath.Join(mnt, "mpa"),
		MaxMessageBytes: 1 << 20, MinFreeBytes: floor, RetryMin: 200 * time.Millisecond, RetryMax: time.Second, Workers: 2},
		db, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	startServer(t, s)
	counts := func() Counts {
		t.Helper()
		c, err := s.Counts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	line := "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrs\r\n"
	small := func(subject string) string { return "Subject: " + subject + "\r\n\r\n" + strings.Repeat(line, 100) }
	large := func(subject string) string { return "Subject: " + subject + "\r\n\r\n" + strings.Repeat(line, 6000) } // 400 kB: a file
	acked := map[string]bool{}
	c := dialSMTP(t, ln.Addr().String())
	send := func(subject, body string) {
		t.Helper()
		c.expect("MAIL FROM:<a@example.test>", 250, "")
		c.expect("RCPT TO:<b@example.org>", 250, "")
		c.data(body, 250, "2.0.0")
		acked[subject] = true
	}
	send("before-1", small("before-1"))
	send("before-2", large("before-2"))
	if got := counts(); got.DiskLow || got.FreeBytes < floor || got.MinFreeBytes != floor {
		t.Fatalf("counts with room: %+v", got)
	}

	// Below the floor: refused at MAIL FROM, and logged once.
	unfill := postfixtest.FillTo(t, filepath.Join(mnt, "filler"), floor/2)
	for range 5 {
		c.expect("MAIL FROM:<a@example.test>", 452, "4.3.1")
	}
	if got := counts(); !got.DiskLow || got.FreeBytes >= floor {
		t.Fatalf("counts below the floor: %+v", got)
	}
	const entered = "mpa refuses new mail"
	if n := strings.Count(logs.String(), entered); n != 1 {
		t.Fatalf("%d log lines for one episode below the floor:\n%s", n, logs.String())
	}
	unfill()
	c.expect("MAIL FROM:<a@example.test>", 250, "")
	c.expect("RSET", 250, "")
	if got := counts(); got.DiskLow {
		t.Fatalf("counts after space came back: %+v", got)
	}

	// The disk fills between MAIL FROM and the end of the message: 452,
	// in Postfix's words, and nothing stored, whether the body's file
	// (c) or the database's commit of a body kept inline (c2) failed.
	c2 := dialSMTP(t, ln.Addr().String())
	for _, cc := range []*smtpConn{c, c2} {
		cc.expect("MAIL FROM:<a@example.test>", 250, "")
		cc.expect("RCPT TO:<b@example.org>", 250, "")
	}
	unfill = postfixtest.FillTo(t, filepath.Join(mnt, "filler"), 0)
	for i, m := range []string{c.data(large("full"), 452, "4.3.1"),
		c2.data("Subject: full-inline\r\n\r\n"+strings.Repeat(line, 3000), 452, "4.3.1")} {
		if strings.Contains(m, "/") || strings.Contains(strings.ToLower(m), "no space") {
			t.Errorf("reply %d shows internal error text: %q", i, m)
		}
	}
	if n := countSpool(t, db); n != len(acked) {
		t.Fatalf("%d spool entries, want the %d acknowledged", n, len(acked))
	}
	if ents, err := os.ReadDir(filepath.Join(mnt, "mpa", "tmp")); err != nil || len(ents) != 0 {
		t.Fatalf("spool tmp after a failed write: %v %v", ents, err)
	}
	c.expect("MAIL FROM:<a@example.test>", 452, "4.3.1")
	if got := counts(); !got.DiskLow {
		t.Fatalf("counts after a write failed for lack of space: %+v", got)
	}

	// Space is freed: mail flows again without a restart, and everything
	// acknowledged leaves exactly once.
	unfill()
	waitFor(t, 2*noSpaceHold, "the guard to end", func() bool { return !counts().DiskLow })
	send("after-1", small("after-1"))
	send("after-2", large("after-2"))
	next.SetClosed(false)
	waitFor(t, 30*time.Second, "an empty spool", func() bool { return countSpool(t, db) == 0 })
	got := sinkSubjects(next)
	for subject := range acked {
		if got[subject] != 1 {
			t.Errorf("%s delivered %d times, want once", subject, got[subject])
		}
	}
	if len(got) != len(acked) {
		t.Errorf("delivered %v, want %v", got, acked)
	}
	if err := db.Bolt().View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("database check: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestDiskGuardMeasuresAgain: far above the floor the guard goes by a
// measure a moment old (a statfs per MAIL FROM cost the MPA a few percent
// of its rate), but not for longer: a disk that fills meanwhile is
// refused within diskMeasureEvery.
func TestDiskGuardMeasuresAgain(t *testing.T) {
	mnt := mountTmpfs(t, 64<<20)
	const floor = 4 << 20
	s := &Server{cfg: Config{MinFreeBytes: floor}, log: slog.New(slog.DiscardHandler), disk: newDiskGuard(mnt, "")}
	if s.checkDisk(0) {
		t.Fatal("refused with 64 MiB free and a 4 MiB floor")
	}
	postfixtest.FillTo(t, filepath.Join(mnt, "filler"), floor/2)
	time.Sleep(diskMeasureEvery + 50*time.Millisecond)
	if !s.checkDisk(0) {
		t.Fatalf("taken %v after the disk filled below the floor", diskMeasureEvery+50*time.Millisecond)
	}
}
