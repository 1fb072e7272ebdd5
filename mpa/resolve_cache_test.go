package mpa

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// Lines as Postfix 3.7 writes them (resolve.go) for delivery S.1, queued
// by the reinjection smtpd as Q1.
const (
	cacheClient = "Dec 06 03:58:14 mx postfix/smtpd[7]: Q1: client=localhost[127.0.0.1], orig_queue_id=S.1\n"
	cacheQmgr   = "Dec 06 03:58:14 mx postfix/qmgr[8]: Q1: from=<a@example.test>, size=1, nrcpt=1 (queue active)\n"
	cacheOther  = "Dec 06 03:58:15 mx postfix/smtpd[9]: connect from other.example.test[192.0.2.1]\n"
)

// countReads counts resolve's reads of path (testHookRead) and records
// the offset each began at.
func countReads(t *testing.T, path string) *[]int64 {
	t.Helper()
	var from []int64
	testHookRead = func(p string, off int64) {
		if p == path {
			from = append(from, off)
		}
	}
	t.Cleanup(func() { testHookRead = nil })
	return &from
}

func writeGz(t *testing.T, path, content string, at time.Time) {
	t.Helper()
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	_, _ = z.Write([]byte(content))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func memoed(s *Server, e store.SpoolEntry) bool {
	s.memos.mu.Lock()
	defer s.memos.mu.Unlock()
	_, ok := s.memos.m[memoKey{s.cfg.Maillog, e.DeliveryID, e.LogOffset}]
	return ok
}

// TestResolveReadsARotatedGzOnce: the worker asks again every poll while
// an in-doubt delivery's lines do not settle it; the rotated .gz holding
// its first line (logrotate without delaycompress) was decompressed from
// its start at every poll, seconds of CPU for a GB log for the whole
// resolve timeout. It is read once while it stays the same, again when it
// changed, and the line that settles the delivery, in the log written
// after the rotation, is still found with the queue id the rotated file
// named.
func TestResolveReadsARotatedGzOnce(t *testing.T) {
	dir := t.TempDir()
	maillog := filepath.Join(dir, "maillog")
	gz := maillog + ".1.gz"
	since := time.Now().Add(-time.Minute)
	before := strings.Repeat(cacheOther, 3) // the log before the delivery
	off := int64(len(before))
	writeGz(t, gz, before+cacheClient, since.Add(time.Second))
	// The new log has grown past the offset, which is in a line's middle.
	if err := os.WriteFile(maillog, []byte(strings.Repeat(cacheOther, 5)[3:]), 0o600); err != nil {
		t.Fatal(err)
	}
	reads := countReads(t, gz)
	s := &Server{cfg: Config{Maillog: maillog, ResolveTimeout: time.Hour}}
	e := store.SpoolEntry{DeliveryID: "S.1", LogOffset: off, DeliveringSince: since}
	look := func(want outcome) string {
		t.Helper()
		o, why, err := s.resolve(e)
		if err != nil || o != want {
			t.Fatalf("%v (%s) %v, want %v", o, why, err, want)
		}
		return why
	}
	for i := range 3 {
		if why := look(undecided); !strings.Contains(why, "queue id Q1") {
			t.Fatalf("poll %d: %q: the rotated file's client line was lost", i, why)
		}
		appendTo(t, maillog, cacheOther)
	}
	// The log after the rotation replaced by another file (a new inode):
	// it is read from its start again, after what the rotated file named.
	next := filepath.Join(dir, "maillog.new")
	if err := os.WriteFile(next, []byte(strings.Repeat(cacheOther, 6)[5:]), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, maillog); err != nil {
		t.Fatal(err)
	}
	if why := look(undecided); !strings.Contains(why, "queue id Q1") {
		t.Fatalf("a new live log: %q: the rotated file's client line was lost", why)
	}
	if len(*reads) != 1 {
		t.Fatalf("the rotated .gz was read %d times in 4 polls, want once", len(*reads))
	}
	// The file changed (written again): it is read again.
	writeGz(t, gz, before+cacheClient+cacheOther, since.Add(2*time.Second))
	look(undecided)
	look(undecided)
	if len(*reads) != 2 {
		t.Fatalf("the rotated .gz was read %d times after it changed, want twice in all", len(*reads))
	}
	appendTo(t, maillog, cacheQmgr)
	look(postfixHasIt)
	if len(*reads) != 2 {
		t.Fatalf("the rotated .gz was read %d times, want twice", len(*reads))
	}
	if memoed(s, e) {
		t.Error("the settled delivery's memo was kept")
	}
}

// TestResolveReadsTheLiveLogOn: each poll read the live log again from the
// delivery's offset; it reads on from where the last poll stopped (a line
// still being written is read whole the next time), and from the offset
// again when the log was copied and truncated in place and written past
// that point.
func TestResolveReadsTheLiveLogOn(t *testing.T) {
	dir := t.TempDir()
	maillog := filepath.Join(dir, "maillog")
	before := strings.Repeat(cacheOther, 3)
	off := int64(len(before))
	if err := os.WriteFile(maillog, []byte(before+cacheClient), 0o600); err != nil {
		t.Fatal(err)
	}
	reads := countReads(t, maillog)
	s := &Server{cfg: Config{Maillog: maillog, ResolveTimeout: time.Hour}}
	e := store.SpoolEntry{DeliveryID: "S.1", LogOffset: off, DeliveringSince: time.Now()}
	look := func(want outcome) {
		t.Helper()
		o, why, err := s.resolve(e)
		if err != nil || o != want {
			t.Fatalf("%v (%s) %v, want %v", o, why, err, want)
		}
	}
	look(undecided)
	// A line cut by its writer is not read, and is read whole next time.
	cut := len(cacheQmgr) / 2
	appendTo(t, maillog, cacheOther+cacheQmgr[:cut])
	look(undecided)
	afterOther := off + int64(len(cacheClient)+len(cacheOther))
	if want := []int64{off, off + int64(len(cacheClient))}; !equalOffsets(*reads, want) {
		t.Fatalf("read from %v, want %v", *reads, want)
	}
	appendTo(t, maillog, cacheQmgr[cut:])
	look(postfixHasIt)
	if got := (*reads)[2]; got != afterOther {
		t.Fatalf("the third poll read from %d, want %d", got, afterOther)
	}

	// copytruncate, then the log grows past where the last poll stopped:
	// the bytes there are other lines, read from the delivery's offset.
	e.DeliveryID = "S.2"
	client2 := strings.ReplaceAll(cacheClient, "S.1", "S.2")
	if err := os.WriteFile(maillog, []byte(before+client2), 0o600); err != nil {
		t.Fatal(err)
	}
	*reads = nil
	look(undecided)
	reached := fileSize(t, maillog)
	if err := os.Truncate(maillog, 0); err != nil {
		t.Fatal(err)
	}
	other2 := strings.ReplaceAll(cacheOther, "15", "16") // a later line of the same length
	appendTo(t, maillog, strings.Repeat(other2, 3)+strings.ReplaceAll(client2, "S.2", "S.3")+cacheOther)
	if fileSize(t, maillog) <= reached {
		t.Fatal("the new log is not past where the last poll stopped")
	}
	look(undecided)
	if want := []int64{off, off}; !equalOffsets(*reads, want) {
		t.Fatalf("after copytruncate read from %v, want %v", *reads, want)
	}
}

func equalOffsets(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestResolveMemosAreBounded: the memos of deliveries the worker gave up
// on (ResolveTimeout passed) are dropped, and there are never more than
// maxResolveMemos.
func TestResolveMemosAreBounded(t *testing.T) {
	dir := t.TempDir()
	maillog := filepath.Join(dir, "maillog")
	if err := os.WriteFile(maillog, []byte(cacheOther), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: Config{Maillog: maillog, ResolveTimeout: time.Hour}}
	var es []store.SpoolEntry
	for i := range maxResolveMemos + 5 {
		e := store.SpoolEntry{DeliveryID: "S.b" + string(rune('a'+i%26)) + string(rune('a'+i/26)), DeliveringSince: time.Now()}
		es = append(es, e)
		if o, why, err := s.resolve(e); err != nil || o != undecided {
			t.Fatalf("%v (%s) %v", o, why, err)
		}
	}
	s.memos.mu.Lock()
	n := len(s.memos.m)
	s.memos.mu.Unlock()
	if n > maxResolveMemos {
		t.Fatalf("%d memos, want at most %d", n, maxResolveMemos)
	}
	if !memoed(s, es[len(es)-1]) {
		t.Fatal("the latest delivery's look was not remembered")
	}
	// The worker gives up on a delivery once ResolveTimeout passed.
	old := store.SpoolEntry{DeliveryID: "S.old", DeliveringSince: time.Now().Add(-2 * time.Hour)}
	if o, _, _ := s.resolve(old); o != undecided || memoed(s, old) {
		t.Fatal("a delivery past its resolve timeout was remembered")
	}
	// One whose resolve timeout passed since it was remembered is dropped
	// at the next delivery's look.
	gone := es[len(es)-2]
	if !memoed(s, gone) {
		t.Fatal("a recent delivery's look was not remembered")
	}
	s.memos.mu.Lock()
	k := memoKey{maillog, gone.DeliveryID, 0}
	m := s.memos.m[k]
	m.expires = time.Now().Add(-time.Second)
	s.memos.m[k] = m
	s.memos.mu.Unlock()
	if _, _, err := s.resolve(es[len(es)-1]); err != nil {
		t.Fatal(err)
	}
	if memoed(s, gone) {
		t.Fatal("a memo past its delivery's resolve timeout was kept")
	}
}

// TestResolveReadsAShortRotatedGzOnce: a rotated .gz shorter than the
// delivery's offset (the log was emptied in place, not copied, so the one
// rotated after the delivery began does not hold it) was decompressed to
// its end at every poll; once is enough, and the live log still settles
// the delivery.
func TestResolveReadsAShortRotatedGzOnce(t *testing.T) {
	dir := t.TempDir()
	maillog := filepath.Join(dir, "maillog")
	gz := maillog + ".1.gz"
	since := time.Now().Add(-time.Minute)
	writeGz(t, gz, cacheOther, since.Add(time.Second))
	if err := os.WriteFile(maillog, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	reads := countReads(t, gz)
	s := &Server{cfg: Config{Maillog: maillog, ResolveTimeout: time.Hour}}
	e := store.SpoolEntry{DeliveryID: "S.1", LogOffset: 4 * int64(len(cacheOther)), DeliveringSince: since}
	for range 3 {
		if o, why, err := s.resolve(e); err != nil || o != undecided {
			t.Fatalf("%v (%s) %v, want undecided", o, why, err)
		}
	}
	if len(*reads) != 1 {
		t.Fatalf("the rotated .gz was read %d times in 3 polls, want once", len(*reads))
	}
	appendTo(t, maillog, cacheClient+cacheQmgr)
	if o, why, err := s.resolve(e); err != nil || o != postfixHasIt {
		t.Fatalf("%v (%s) %v, want %v", o, why, err, postfixHasIt)
	}
}
