package mpa

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// countListings counts firstRotatedAfter's listings of the log directory
// (testHookList).
func countListings(t *testing.T) *int {
	t.Helper()
	n := 0
	testHookList = func(string) { n++ }
	t.Cleanup(func() { testHookList = nil })
	return &n
}

func writeAt(t testing.TB, path, content string, at time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

func chtimes(t testing.TB, path string, at time.Time) {
	t.Helper()
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

// rotatedLogDir makes a log directory after a rotation that followed
// delivery S.1's start (since): the new live log has grown past the
// delivery's offset, which is in a line's middle, so resolve looks for
// the rotated file. It returns the live log and the delivery.
func rotatedLogDir(t testing.TB, others, oldRotations int) (string, store.SpoolEntry) {
	t.Helper()
	dir := t.TempDir()
	maillog := filepath.Join(dir, "maillog")
	since := time.Now().Add(-time.Minute)
	for i := range others {
		writeAt(t, filepath.Join(dir, fmt.Sprintf("other%05d.log", i)), "", since.Add(-time.Hour))
	}
	for i := range oldRotations { // months of rotations before the delivery
		writeAt(t, fmt.Sprintf("%s.%05d.gz", maillog, i), "", since.Add(-time.Duration(i+1)*24*time.Hour))
	}
	before := strings.Repeat(cacheOther, 3)
	if err := os.WriteFile(maillog, []byte(strings.Repeat(cacheOther, 5)[3:]), 0o600); err != nil {
		t.Fatal(err)
	}
	return maillog, store.SpoolEntry{DeliveryID: "S.1", LogOffset: int64(len(before)), DeliveringSince: since}
}

func lookAt(t *testing.T, s *Server, e store.SpoolEntry, want outcome) string {
	t.Helper()
	o, why, err := s.resolve(e)
	if err != nil || o != want {
		t.Fatalf("%v (%s) %v, want %v", o, why, err, want)
	}
	return why
}

// TestResolveListsTheLogDirectoryOnce: each poll of an in-doubt delivery
// whose log was rotated listed the log directory and looked at every
// rotated log in it, milliseconds for a /var/log of thousands of files
// (BenchmarkRotatedPathManyFiles). The directory is listed again only
// when it changed (the rotated log compressed), and the file found is
// the same as with a listing at every poll.
func TestResolveListsTheLogDirectoryOnce(t *testing.T) {
	maillog, e := rotatedLogDir(t, 300, 60)
	dir := filepath.Dir(maillog)
	rotated := maillog + ".1"
	writeAt(t, rotated, strings.Repeat(cacheOther, 3)+cacheClient, e.DeliveringSince.Add(time.Second))
	chtimes(t, dir, e.DeliveringSince.Add(-time.Hour))
	listings := countListings(t)
	s := &Server{cfg: Config{Maillog: maillog, ResolveTimeout: time.Hour}}
	for i := range 3 {
		if why := lookAt(t, s, e, undecided); !strings.Contains(why, "queue id Q1") {
			t.Fatalf("poll %d: %q: the rotated file was not read", i, why)
		}
		appendTo(t, maillog, cacheOther)
	}
	if *listings != 1 {
		t.Fatalf("the log directory was listed %d times in 3 polls, want once", *listings)
	}
	// The rotated file compressed (logrotate's delaycompress, a day
	// later): the directory changed, and the .gz is found.
	writeGz(t, rotated+".gz", strings.Repeat(cacheOther, 3)+cacheClient, e.DeliveringSince.Add(time.Second))
	if err := os.Remove(rotated); err != nil {
		t.Fatal(err)
	}
	chtimes(t, dir, e.DeliveringSince.Add(-time.Minute))
	reads := countReads(t, rotated+".gz")
	for range 2 {
		if why := lookAt(t, s, e, undecided); !strings.Contains(why, "queue id Q1") {
			t.Fatalf("%q: the compressed rotated file was not read", why)
		}
	}
	if *listings != 2 || len(*reads) != 1 {
		t.Fatalf("after the compression: %d listings in all and %d reads of the .gz, want 2 and 1", *listings, len(*reads))
	}
	appendTo(t, maillog, cacheQmgr)
	lookAt(t, s, e, postfixHasIt)
}

// TestResolveListsAgainWhenTheFileFoundIsWritten: the file a listing
// found (the rotated log written the soonest after the delivery began)
// is written again, without a change of the directory: another one is
// now the soonest written, and is read.
func TestResolveListsAgainWhenTheFileFoundIsWritten(t *testing.T) {
	maillog, e := rotatedLogDir(t, 10, 3)
	dir := filepath.Dir(maillog)
	first := maillog + ".0" // another log's, shorter than the offset
	writeAt(t, first, cacheOther, e.DeliveringSince.Add(time.Second))
	writeAt(t, maillog+".1", strings.Repeat(cacheOther, 3)+cacheClient, e.DeliveringSince.Add(5*time.Second))
	chtimes(t, dir, e.DeliveringSince.Add(-time.Hour))
	listings := countListings(t)
	s := &Server{cfg: Config{Maillog: maillog, ResolveTimeout: time.Hour}}
	for range 2 {
		if why := lookAt(t, s, e, undecided); strings.Contains(why, "queue id") {
			t.Fatalf("%q: read a file written after the soonest", why)
		}
	}
	if *listings != 1 {
		t.Fatalf("listed %d times, want once", *listings)
	}
	appendTo(t, first, cacheOther) // now written last
	if why := lookAt(t, s, e, undecided); !strings.Contains(why, "queue id Q1") {
		t.Fatalf("%q: the rotated file now written the soonest was not read", why)
	}
	appendTo(t, maillog, cacheQmgr)
	lookAt(t, s, e, postfixHasIt)
}

// TestResolveDoesNotKeepAListingOfItsOwnTick: a change of the directory,
// or a write of a rotated log, in the same tick of the file system's
// clock as the listing leaves the time the listing read; a directory or
// a file found that changed less than listingSlack before the listing
// (here: in the future, as a clock ahead would) is listed again.
func TestResolveDoesNotKeepAListingOfItsOwnTick(t *testing.T) {
	t.Run("directory", func(t *testing.T) {
		maillog, e := rotatedLogDir(t, 10, 3)
		dir := filepath.Dir(maillog)
		tick := time.Now().Add(time.Hour)
		staged := filepath.Join(dir, "staged")
		writeAt(t, staged, strings.Repeat(cacheOther, 3)+cacheClient, e.DeliveringSince.Add(time.Second))
		chtimes(t, dir, tick)
		s := &Server{cfg: Config{Maillog: maillog, ResolveTimeout: time.Hour}}
		lookAt(t, s, e, undecided)
		// The rotation, as of the same tick: a rename keeps the
		// directory's size.
		if err := os.Rename(staged, maillog+".1"); err != nil {
			t.Fatal(err)
		}
		chtimes(t, dir, tick)
		if why := lookAt(t, s, e, undecided); !strings.Contains(why, "queue id Q1") {
			t.Fatalf("%q: the rotated file was not found", why)
		}
	})
	t.Run("file found", func(t *testing.T) {
		maillog, e := rotatedLogDir(t, 10, 3)
		dir := filepath.Dir(maillog)
		old := maillog + ".2" // written before the delivery began
		writeAt(t, old, strings.Repeat(cacheOther, 3)+cacheClient, e.DeliveringSince.Add(-time.Hour))
		writeAt(t, maillog+".1", cacheOther, time.Now().Add(time.Hour))
		chtimes(t, dir, e.DeliveringSince.Add(-time.Hour))
		s := &Server{cfg: Config{Maillog: maillog, ResolveTimeout: time.Hour}}
		if why := lookAt(t, s, e, undecided); strings.Contains(why, "queue id") {
			t.Fatalf("%q: read a file written before the delivery", why)
		}
		appendTo(t, old, cacheOther) // written now: before the file found
		if why := lookAt(t, s, e, undecided); !strings.Contains(why, "queue id Q1") {
			t.Fatalf("%q: the rotated file now written the soonest was not read", why)
		}
	})
}

// BenchmarkRotatedPathManyFiles: one poll's look for the rotated log in
// a directory of 5,000 files and 200 rotated logs, with a listing at
// every poll (fresh) and remembered (kept). Measured: 3 ms and 8 µs.
func BenchmarkRotatedPathManyFiles(b *testing.B) {
	for _, keep := range []bool{false, true} {
		b.Run(map[bool]string{false: "fresh", true: "kept"}[keep], func(b *testing.B) {
			maillog, e := rotatedLogDir(b, 5000, 200)
			writeAt(b, maillog+".1", "", e.DeliveringSince.Add(time.Second))
			chtimes(b, filepath.Dir(maillog), e.DeliveringSince.Add(-time.Hour))
			var l *rotatedListing
			if keep {
				l = &rotatedListing{}
			}
			b.ResetTimer()
			for range b.N {
				if p, err := rotatedPath(maillog, e.DeliveringSince, l); err != nil || p != maillog+".1" {
					b.Fatal(p, err)
				}
			}
		})
	}
}

// TestResolveListsAgainAfterListingMaxAge: a listing is taken again for
// at most listingMaxAge, whatever the directory's time says, so that a
// time set by hand or a clock out of step with the file system delays a
// delivery's settling instead of keeping it from ever settling.
func TestResolveListsAgainAfterListingMaxAge(t *testing.T) {
	maillog, e := rotatedLogDir(t, 3, 2)
	writeAt(t, maillog+".1", "", e.DeliveringSince.Add(time.Second))
	chtimes(t, filepath.Dir(maillog), e.DeliveringSince.Add(-time.Hour))
	n := countListings(t)
	var l rotatedListing
	for range 3 {
		if p, err := rotatedPath(maillog, e.DeliveringSince, &l); err != nil || p != maillog+".1" {
			t.Fatal(p, err)
		}
	}
	if *n != 1 {
		t.Fatalf("listed %d times in 3 looks within the age, want once", *n)
	}
	l.listed = l.listed.Add(-listingMaxAge) // as if listed that long ago
	if p, err := rotatedPath(maillog, e.DeliveringSince, &l); err != nil || p != maillog+".1" {
		t.Fatal(p, err)
	}
	if *n != 2 {
		t.Errorf("listed %d times after the listing's age passed, want twice", *n)
	}
}
