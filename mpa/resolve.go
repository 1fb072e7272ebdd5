package mpa

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"postdeck/store"
)

// Finding out whether Postfix took an in-doubt delivery.
//
// Before the final dot of a delivery the MPA records the recipients as
// "delivering", with the transaction's name (DeliveryID) and the size of
// Postfix's maillog at the start of the transaction. If the MPA dies, or
// the connection breaks, before Postfix's answer is recorded, the delivery
// is in doubt. The transaction went out with XFORWARD IDENT=DeliveryID,
// which the reinjection smtpd (smtpd_authorized_xforward_hosts = 127.0.0.0/8
// in postdeck's master.cf) logs with Postfix's queue id:
//
//	postfix/smtpd[PID]: QID: client=localhost[127.0.0.1], orig_queue_id=DELIVERYID
//
// What follows in the log settles it (measured on Postfix 3.7):
//
//	postfix/qmgr[..]: QID: from=<...>, size=..., nrcpt=... (queue active)
//	    the message was committed to Postfix's queue: delivered.
//	postfix/smtpd[PID]: lost connection after DATA (N bytes) from ...
//	    (or "timeout after DATA") the final dot never reached smtpd, which
//	    discards the message: not delivered, send it again.
//	postfix/smtpd[PID]: disconnect from ... data=N/M ...
//	    the session's DATA commands: all accepted (no "/M") means this one
//	    was too: delivered; none accepted (data=0/M): not delivered;
//	    otherwise the qmgr line decides.
//
// No line settling it within Config.ResolveTimeout (a log rotated to a
// name resolve does not read, a log elsewhere, a queue manager that never
// saw the message because cleanup failed after the dot) sends the
// recipients to the error repository with stage "interrupted", as
// before. This reads only the maillog, which any Postfix writes;
// XFORWARD needs no change to the reinjection service, and the
// header_checks INFO alternative would need a cleanup service of its own
// (header checks run in cleanup, not in the smtpd that -o applies to) and
// still logs before the commit, not after it. The queue (postqueue,
// postcat) alone cannot tell: a delivered message leaves it in
// milliseconds.

type outcome int

const (
	undecided outcome = iota
	postfixHasIt
	postfixDropped
)

func (o outcome) String() string {
	switch o {
	case postfixHasIt:
		return "delivered"
	case postfixDropped:
		return "not delivered"
	}
	return "undecided"
}

// maxLogScan bounds the bytes of the maillog read for one resolution.
const maxLogScan = 256 << 20

// maxLogLine is the longest maillog line scanLog looks at. The lines that
// settle a delivery are short (a queue id, a client, a sender Postfix's
// smtpd already bounds to line_length_limit); a longer one (another
// program's under rsyslog's mail facility, or the zeros of a log
// truncated under a writer that does not append) is skipped whole, and
// the lines after it are still read.
const maxLogLine = 64 << 10

// logSize is the current size of the maillog (0 without one).
func (s *Server) logSize() int64 {
	if s.cfg.Maillog == "" {
		return 0
	}
	fi, err := os.Stat(s.cfg.Maillog)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// openLog opens a maillog for reading. A pipe (a log shipper's FIFO) or a
// device (/dev/null, /dev/stdout of a container's maillog_file) is not a
// log that can be read back: opening a FIFO without O_NONBLOCK would wait
// for a writer, holding the worker (and the daemon's start) forever.
func openLog(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errNotALogFile
	}
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

var errNotALogFile = errors.New("not a regular file")

// resolve reads Postfix's log for e's in-doubt delivery.
//
// The log may have been rotated since the delivery recorded its offset:
// renamed to NAME.1 and created anew, or copied to NAME.1 and truncated in
// place (logrotate's copytruncate), after which it may have grown past the
// offset again, so that the offset points into the middle of lines written
// later. Postfix writes whole lines, and the offset was the log's size, so
// in the file it was taken from a line ends right before it; where none
// does (or the file is shorter), the file was replaced or rewritten and
// the delivery's lines are in NAME.1 from the offset on, followed by the
// new file from its start. Reading both in that order is safe even when
// the guess is wrong: the delivery's name is unique, so an older NAME.1
// cannot name it. The rotated file, compressed or not, is found by its
// modification time (openRotated).
//
// The worker asks again every resolvePoll until the log tells or
// Config.ResolveTimeout passed, so what one look read is remembered for
// the next (resolveMemo): a rotated file, which does not change once
// written (a GB .gz is decompressed from its start to the offset), is read
// once while its path, size and modification time stay the same, and the
// live log is read on from where the last look stopped.
func (s *Server) resolve(e store.SpoolEntry) (outcome, string, error) {
	if s.cfg.Maillog == "" || e.DeliveryID == "" {
		return undecided, "no maillog configured or no delivery id recorded", nil
	}
	f, fi, err := openLog(s.cfg.Maillog)
	if err != nil {
		return undecided, "Postfix's log could not be read", fmt.Errorf("open maillog: %w", err)
	}
	defer func() { _ = f.Close() }()
	key := memoKey{s.cfg.Maillog, e.DeliveryID, e.LogOffset}
	m := s.memos.get(key)
	o, why, err := s.resolveFrom(f, fi, e, &m)
	if expires := e.DeliveringSince.Add(s.cfg.ResolveTimeout); o == undecided && err == nil && time.Now().Before(expires) {
		s.memos.put(key, m, expires)
	} else {
		s.memos.drop(key)
	}
	return o, why, err
}

// resolveFrom is resolve's look at the open live log f, starting from what
// m remembers of the last look and leaving in m what this one read.
func (s *Server) resolveFrom(f *os.File, fi os.FileInfo, e store.SpoolEntry, m *resolveMemo) (outcome, string, error) {
	sc := logScan{ident: e.DeliveryID, left: maxLogScan}
	off := e.LogOffset
	live := liveMark{file: fileID(fi)}
	if off <= fi.Size() && lineStartsAt(f, off) {
		live.from = off
		return m.readLive(f, fi, live, sc)
	}
	// The live log's lines follow the rotated file's (or, without one,
	// the live log is read from its start alone).
	if path, err := rotatedPath(s.cfg.Maillog, e.DeliveringSince, &m.listing); err == nil {
		rfi, err := os.Stat(path)
		if err == nil && m.rotatedRead && m.rotated == markOf(path, rfi) {
			sc, live.after = m.afterRotated, m.rotated
		} else {
			if testHookRead != nil {
				testHookRead(path, off)
			}
			old, ofi, err := openRotatedFile(path, off)
			switch {
			case err == nil:
				o, why, err := sc.read(old)
				_ = old.Close()
				if o != undecided || err != nil {
					return o, why, err
				}
				live.after = markOf(path, ofi)
				m.rotated, m.afterRotated, m.rotatedRead = live.after, sc, true
			case errors.Is(err, errNotRotated) && rfi != nil:
				// Shorter than the offset, it does not hold the delivery:
				// not decompressed again either while it stays the same.
				live.after = markOf(path, rfi)
				m.rotated, m.afterRotated, m.rotatedRead = live.after, sc, true
			}
		}
	}
	return m.readLive(f, fi, live, sc)
}

// testHookRead, when set, is called with the path and the offset of each
// read of a maillog, rotated or live, resolve begins.
var testHookRead func(path string, from int64)

// readLive scans the live log f from mark.from on (after sc read what
// comes before it), or on from where the last look stopped when m holds
// it for the same file read the same way and the bytes before that point
// are still those that were read: a log copied and truncated in place
// (copytruncate) and written past that point again is read from
// mark.from.
func (m *resolveMemo) readLive(f *os.File, fi os.FileInfo, mark liveMark, sc logScan) (outcome, string, error) {
	from := mark.from
	if m.liveRead && m.live == mark && m.reached <= fi.Size() && tailIs(f, m.reached, m.tail) {
		sc, from = m.afterLive, m.reached
	}
	if testHookRead != nil {
		testHookRead(f.Name(), from)
	}
	sc.consumed = 0
	o, why, err := sc.read(io.NewSectionReader(f, from, fi.Size()-from))
	if o == undecided && err == nil {
		m.live, m.afterLive, m.liveRead = mark, sc, true
		m.reached = from + sc.consumed
		m.tail = readTail(f, m.reached)
	}
	return o, why, err
}

// resolveMemo is what the last look at the maillog for one in-doubt
// delivery read without settling it (resolve).
type resolveMemo struct {
	expires time.Time // when the worker gives up on the delivery

	// The rotated file read, and the scan after it.
	rotated      rotatedMark
	afterRotated logScan
	rotatedRead  bool

	// The live log read up to reached, and the scan there; tail is the
	// bytes of the log just before reached.
	live      liveMark
	reached   int64
	tail      []byte
	afterLive logScan
	liveRead  bool

	// What the last listing of the log's directory found.
	listing rotatedListing
}

// rotatedMark names one version of a rotated maillog.
type rotatedMark struct {
	path  string
	size  int64
	mtime int64 // nanoseconds
	id    fileKey
}

// liveMark says how the live log was read: which file, from which
// offset, and after which rotated file (zero: none).
type liveMark struct {
	file  fileKey
	from  int64
	after rotatedMark
}

func markOf(path string, fi os.FileInfo) rotatedMark {
	return rotatedMark{path, fi.Size(), fi.ModTime().UnixNano(), fileID(fi)}
}

type fileKey struct{ dev, ino uint64 }

func fileID(fi os.FileInfo) fileKey {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileKey{uint64(st.Dev), st.Ino} // Dev is not uint64 everywhere
	}
	return fileKey{}
}

// memoTail is how many bytes before the point reached a look at the
// live log keeps to tell the same log from one truncated and written
// past that point again (their last lines differ in time, pid or queue id).
const memoTail = 256

func readTail(f *os.File, at int64) []byte {
	n := min(at, memoTail)
	b := make([]byte, n)
	if k, _ := f.ReadAt(b, at-n); int64(k) != n {
		return nil
	}
	return b
}

func tailIs(f *os.File, at int64, tail []byte) bool {
	if int64(len(tail)) != min(at, memoTail) {
		return false
	}
	b := readTail(f, at)
	return b != nil && string(b) == string(tail)
}

type memoKey struct {
	maillog, delivery string
	offset            int64
}

// maxResolveMemos bounds the deliveries whose look at the log is
// remembered; one beyond it drops the one that expires first.
const maxResolveMemos = 64

// memoTable holds the in-doubt deliveries' memos (Server.memos). An entry
// is dropped when its delivery is settled, when resolve reads past its
// Config.ResolveTimeout (the worker then gives up on it), and, past
// maxResolveMemos, the one that expires first.
type memoTable struct {
	mu sync.Mutex
	m  map[memoKey]resolveMemo
}

func (t *memoTable) get(k memoKey) resolveMemo {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[k]
}

func (t *memoTable) drop(k memoKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, k)
}

// put keeps m for k until expires.
func (t *memoTable) put(k memoKey, m resolveMemo, expires time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[memoKey]resolveMemo{}
	}
	now := time.Now()
	m.expires = expires
	for k2, m2 := range t.m {
		if now.After(m2.expires) {
			delete(t.m, k2)
		}
	}
	if _, ok := t.m[k]; !ok && len(t.m) >= maxResolveMemos {
		var first memoKey
		var at time.Time
		for k2, m2 := range t.m {
			if at.IsZero() || m2.expires.Before(at) {
				first, at = k2, m2.expires
			}
		}
		delete(t.m, first)
	}
	t.m[k] = m
}

// openRotated opens the file the maillog was rotated into after since
// and returns it from off on: the oldest file NAME.SUFFIX last written
// at or after since: logrotate's NAME.1 (rename or copytruncate), its
// NAME.1.gz without delaycompress, postfix logrotate's
// NAME.YYYYMMDD-HHMMSS.gz, or a dateext name. Each keeps the log's
// modification time, which is when its last line was written, so the
// first of them written after the delivery began holds its lines (a
// later one cannot name the delivery; reading one in vain only costs the
// read). A compressor's unfinished output is newer than the file it is
// compressing (gzip gives it the original's time when done), so the
// original is read. A delivery recorded without its start time reads
// NAME.1.
func openRotated(maillog string, since time.Time, off int64) (io.ReadCloser, error) {
	path, err := rotatedPath(maillog, since, nil)
	if err != nil {
		return nil, err
	}
	r, _, err := openRotatedFile(path, off)
	return r, err
}

// rotatedPath is the path of the file openRotated reads; l, when not
// nil, remembers the directory listing it took for the next call.
func rotatedPath(maillog string, since time.Time, l *rotatedListing) (string, error) {
	path := maillog + ".1"
	if !since.IsZero() {
		var err error
		if path, err = firstRotatedAfter(maillog, since, l); err != nil {
			return "", err
		}
	}
	return path, nil
}

// openRotatedFile opens the rotated maillog path from off on.
func openRotatedFile(path string, off int64) (io.ReadCloser, os.FileInfo, error) {
	f, fi, err := openLog(path)
	if err != nil {
		return nil, nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		if off > fi.Size() {
			_ = f.Close()
			return nil, nil, errNotRotated
		}
		return readCloser{io.NewSectionReader(f, off, fi.Size()-off), f}, fi, nil
	}
	// A name ending in .gz is read through gzip.
	z, err := gzip.NewReader(bufio.NewReader(f))
	if err == nil {
		_, err = io.CopyN(io.Discard, z, off)
		if errors.Is(err, io.EOF) {
			err = errNotRotated // shorter than the offset
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	return readCloser{z, f}, fi, nil
}

// firstRotatedAfter is the path of the rotated maillog (NAME.SUFFIX)
// last written the soonest at or after since (openRotated).
//
// The worker asks every resolvePoll, and a log directory of thousands of
// files (months of rotated logs) costs milliseconds to list and stat at
// each call; l, when not nil, remembers what the last call found, taken
// again while it holds (rotatedListing).
func firstRotatedAfter(maillog string, since time.Time, l *rotatedListing) (string, error) {
	if l == nil {
		l = &rotatedListing{}
	}
	dir, base := filepath.Split(maillog)
	dirPath := filepath.Clean(dir + ".")
	began := time.Now()
	d, err := os.Open(dirPath)
	if err != nil {
		return "", err
	}
	dfi, err := d.Stat()
	if err != nil {
		_ = d.Close()
		return "", err
	}
	names := l.names
	if l.dir != markOf(dirPath, dfi) || began.Sub(l.listed) >= listingMaxAge {
		if testHookList != nil {
			testHookList(dirPath)
		}
		*l = rotatedListing{}
		all, err := d.Readdirnames(maxRotatedNames)
		if err != nil && !errors.Is(err, io.EOF) {
			_ = d.Close()
			return "", err
		}
		names = nil
		for _, n := range all {
			if strings.HasPrefix(n, base+".") {
				names = append(names, n)
			}
		}
		if settledBefore(dfi.ModTime(), began) {
			l.dir, l.names, l.listed = markOf(dirPath, dfi), names, began
		}
	} else if l.best.path != "" && l.since.Equal(since) {
		fi, err := os.Lstat(l.best.path)
		if err == nil && markOf(l.best.path, fi) == l.best {
			_ = d.Close()
			return l.best.path, nil
		}
	}
	_ = d.Close()
	best, bestTime := "", time.Time{}
	var found rotatedMark // best's
	for _, n := range names {
		fi, err := os.Lstat(filepath.Join(dir, n))
		// Modification times may be coarser than the clock: a second's
		// slack, and a file that cannot hold the delivery is only read in
		// vain.
		if err != nil || !fi.Mode().IsRegular() || fi.ModTime().Before(since.Add(-time.Second)) {
			continue
		}
		if best == "" || fi.ModTime().Before(bestTime) {
			best, bestTime = n, fi.ModTime()
			found = markOf(filepath.Join(dir, n), fi)
		}
	}
	l.since, l.best = since, rotatedMark{}
	if best == "" {
		return "", errNotRotated
	}
	if settledBefore(bestTime, began) {
		l.best = found
	}
	return filepath.Join(dir, best), nil
}

// testHookList, when set, is called with the directory at each listing
// firstRotatedAfter takes.
var testHookList func(dir string)

// rotatedListing is what firstRotatedAfter found at its last call, for
// one delivery (resolveMemo).
//
// The names NAME.* in the directory hold while its modification time
// stays the same: creating, renaming or removing a file changes it. The
// file found holds while it stays the same: another file's modification
// time changes, without a change of the directory, only when it is
// written, which makes it later than the listing and so than the file
// found (the one written the soonest); when no file was found, each name
// is looked at again, as one written since may now be the one.
//
// Modification times may lag the clock or be coarser than it: a change
// in the same tick as the listing would keep the time it read. So a
// directory or a file found that changed less than listingSlack before
// the call began is not remembered.
type rotatedListing struct {
	dir    rotatedMark // zero: no names remembered
	names  []string
	listed time.Time // when the names were read (listingMaxAge)
	since  time.Time
	best   rotatedMark // zero: none remembered
}

// listingMaxAge bounds how long a listing is taken again: a time set by
// hand (touch -d) or a clock out of step with the file system's (NFS)
// could keep a change from showing; listed again this often, such a
// delivery is settled late rather than never.
const listingMaxAge = 10 * time.Second

// listingSlack is how long before a call of firstRotatedAfter the
// directory and the file found must have last changed to be remembered.
const listingSlack = 2 * time.Second

func settledBefore(mtime, began time.Time) bool {
	return mtime.Before(began.Add(-listingSlack))
}

// maxRotatedNames bounds the directory entries openRotated looks at (a
// log directory with years of daily rotations).
const maxRotatedNames = 10000

var errNotRotated = errors.New("no rotated maillog holds the delivery")

type readCloser struct {
	io.Reader
	io.Closer
}

// lineStartsAt reports whether a line of f starts at off.
func lineStartsAt(f *os.File, off int64) bool {
	if off == 0 {
		return true
	}
	var b [1]byte
	n, _ := f.ReadAt(b[:], off-1)
	return n == 1 && b[0] == '\n'
}

// scanLog settles delivery ident from maillog lines (see above).
func scanLog(r io.Reader, ident string) (outcome, string) {
	sc := logScan{ident: ident, left: maxLogScan}
	o, why, _ := sc.read(r)
	return o, why
}

// logScan follows one delivery through maillog lines, which may come
// from more than one file (read, in the order they were written).
type logScan struct {
	ident       string
	left        int64 // bytes still to read (maxLogScan)
	consumed    int64 // bytes of the complete lines read
	qid, pid    string
	sessionOver string
}

// read feeds the complete lines of r to the scan and returns the outcome
// once one settles it, else undecided with what was found so far. A last
// line without its newline is not read: a writer may be in the middle of
// it (rsyslog writes its buffer, not lines; a slow disk), and a cut
// "data=0/1" reads as "data=0", every DATA accepted.
func (sc *logScan) read(r io.Reader) (outcome, string, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, sc.left), maxLogLine)
	tooLong := false
	var partial int64 // bytes of the line not yet complete
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			partial += int64(len(line))
			tooLong = true
			continue
		case err != nil:
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return undecided, sc.undecided(), err
		}
		n := partial + int64(len(line))
		sc.left -= n
		sc.consumed += n
		partial = 0
		if tooLong {
			tooLong = false // the end of a line too long to look at
			continue
		}
		if o, why := sc.line(string(line[:len(line)-1])); o != undecided {
			return o, why, nil
		}
	}
}

// line looks at one complete line.
func (sc *logScan) line(l string) (outcome, string) {
	prog, p, msg, ok := splitLogLine(l)
	if !ok {
		return undecided, ""
	}
	switch {
	case strings.HasSuffix(prog, "/smtpd"):
		if sc.qid == "" {
			q, rest, found := strings.Cut(msg, ": client=")
			if found && hasField(rest, "orig_queue_id="+sc.ident) {
				sc.qid, sc.pid = q, p
			}
			return undecided, ""
		}
		if p != sc.pid || sc.sessionOver != "" {
			return undecided, ""
		}
		switch {
		case strings.HasPrefix(msg, "lost connection after ") || strings.HasPrefix(msg, "timeout after "):
			if state, _, _ := strings.Cut(msg[strings.Index(msg, "after ")+6:], " "); state == "DATA" {
				return postfixDropped, "Postfix's smtpd: " + msg
			}
			sc.sessionOver = msg
		case strings.HasPrefix(msg, "disconnect from "):
			for _, f := range strings.Fields(msg) {
				if v, ok := strings.CutPrefix(f, "data="); ok {
					good, all, partial := strings.Cut(v, "/")
					if !partial {
						return postfixHasIt, "Postfix's smtpd: " + msg
					}
					if good == "0" && all != "0" {
						return postfixDropped, "Postfix's smtpd: " + msg
					}
				}
			}
			sc.sessionOver = msg
		case strings.Contains(msg, ": client="):
			sc.sessionOver = msg // the next transaction began
		}
	case strings.HasSuffix(prog, "/qmgr"):
		if sc.qid != "" && strings.HasPrefix(msg, sc.qid+": from=<") {
			return postfixHasIt, "Postfix queued it as " + sc.qid
		}
	}
	return undecided, ""
}

// undecided says what the lines read so far found.
func (sc *logScan) undecided() string {
	switch {
	case sc.qid == "":
		return "no line of Postfix's smtpd names delivery " + sc.ident
	case sc.sessionOver == "":
		return "Postfix queue id " + sc.qid + ": the smtpd session has not ended"
	}
	return "Postfix queue id " + sc.qid + ": no queue manager line after " + sc.sessionOver
}

// splitLogLine splits a syslog line "... prog[pid]: msg".
func splitLogLine(line string) (prog, pid, msg string, ok bool) {
	i := strings.Index(line, "]: ")
	if i < 0 {
		return "", "", "", false
	}
	j := strings.LastIndexByte(line[:i], '[')
	if j < 0 {
		return "", "", "", false
	}
	k := strings.LastIndexByte(line[:j], ' ')
	return line[k+1 : j], line[j+1 : i], line[i+3:], true
}

// hasField reports whether the comma-separated list s has field f.
func hasField(s, f string) bool {
	for _, x := range strings.Split(s, ",") {
		if strings.TrimSpace(x) == f {
			return true
		}
	}
	return false
}
