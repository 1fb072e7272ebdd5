package queue

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"unicode/utf8"
)

// Reading Postfix's queue files directly, the way showq(8) reads them for
// `postqueue -j`, so that the index and postqueue agree message for
// message. The format is Postfix's record stream (src/global/record.c,
// rec_type.h): one type byte, the data length in 7-bit groups (the high
// bit says another group follows), then the data. showq (src/showq/showq.c,
// showq_report) reads:
//
//   - T (arrival time): the first one, in whole seconds;
//   - C (sizes, first record): the first number is message_size when the
//     record is digits and blanks only, else the file size is used;
//   - S (sender): empty is empty_address_recipient ("MAILER-DAEMON"); a
//     second S ends the message;
//   - R (recipient still to deliver; delivered ones became D or /);
//   - M (start of content): skip message_size bytes when C was good;
//   - p (pointer): continue at that offset; w (padding) is skipped; E ends.
//
// showq does not read the content. The index reads its start for the
// Subject (readSubject): the N and L records (lines, and pieces of long
// lines) from M up to the end of the primary headers, following pointer
// records, at most headerMaxBytes of text in headerMaxRecords records;
// then it skips to the end of the content as showq does.
//
// Right after S it reads the defer log (QUEUE/defer/HASH/ID) and lists
// every recipient there with its reason, then lists the R recipients that
// the defer log did not name. Addresses from the queue file are quoted
// like quote_822_local and every text goes through printable(), which
// replaces control characters (and non-UTF-8 bytes, or any non-ASCII when
// smtputf8_enable is off) with '?'.
const (
	recSize    = 'C'
	recTime    = 'T'
	recFrom    = 'S'
	recRcpt    = 'R'
	recMesg    = 'M'
	recPtr     = 'p'
	recPadding = 'w'
	recEnd     = 'E'
	recAttr    = 'A' // a named attribute (name=value)
	recNorm    = 'N' // a line of content
	recCont    = 'L' // a piece of a long line of content; N ends it
	// recFilter is REC_TYPE_FILT, the content filter transport cleanup
	// chose; Postfix gives it the same letter as recCont, but it stands
	// in the envelope, before recMesg.
	recFilter = 'L'

	// maxRecord bounds one record (an address or a header line); longer
	// ones make the file unreadable, as a corrupt length would.
	maxRecord = 1 << 20
	// maxReverseJumps is record.c's REVERSE_JUMP_LIMIT against pointer
	// loops.
	maxReverseJumps = 10000
	// headerMaxBytes and headerMaxRecords bound what readSubject reads of
	// a message's headers: a Subject after them is not listed (the
	// message view, which runs postcat, still shows it).
	headerMaxBytes   = 16 << 10
	headerMaxRecords = 200
	// subjectRawMax bounds the raw Subject kept for decoding: far more
	// than SubjectListMax characters need, even encoded.
	subjectRawMax = 4 << 10
	// statExpire is MAIL_QUEUE_STAT_EXPIRE (S_IXGRP): postsuper -e and -f
	// set it; showq reports it as forced_expire.
	statExpire = 0o010
	// statReady is MAIL_QUEUE_STAT_READY: a queue file is complete (and
	// listed) only with owner mode rwx.
	statReady = 0o700
)

// fileConf is what reading a queue file needs from main.cf.
type fileConf struct {
	utf8       bool   // smtputf8_enable: printable() keeps UTF-8
	emptyAddr  string // empty_address_recipient
	dupLimit   int    // duplicate_filter_limit (0: no limit)
	hashDepth  int    // hash_queue_depth
	hashQueues []string
}

func defaultFileConf() fileConf {
	return fileConf{utf8: true, emptyAddr: "MAILER-DAEMON", dupLimit: 1000, hashDepth: 1, hashQueues: []string{Deferred, "defer"}}
}

// fileStamp is what tells a queue file's versions apart without reading
// it: a rename keeps all four, a rewrite in place changes mtime, a chmod
// (postsuper -e) changes the mode.
type fileStamp struct {
	ino   uint64
	mtime int64 // nanoseconds
	size  int64
	mode  uint32
}

func stampOf(st *syscall.Stat_t) fileStamp {
	return fileStamp{ino: st.Ino, mtime: st.Mtim.Sec*1e9 + st.Mtim.Nsec, size: st.Size, mode: st.Mode}
}

// key folds a stamp into 64 bits for the index (0 is "no file"): 8
// bytes a message instead of 28, and two different versions of a file
// collide with a chance of one in 2^64.
func (s fileStamp) key() uint64 {
	if s == (fileStamp{}) {
		return 0
	}
	h := mix64(s.ino ^ 0x9e3779b97f4a7c15)
	h = mix64(h ^ uint64(s.mtime))
	h = mix64(h ^ uint64(s.size))
	h = mix64(h ^ uint64(s.mode))
	if h == 0 {
		h = 1
	}
	return h
}

// ident folds what a rename and a change of times keep (inode, size,
// mode) into 32 bits: with the events that say no one wrote the file, it
// tells a file that was renamed and touched (postsuper -r moves a file
// to maildrop and sets its times) from one that was rewritten.
func (s fileStamp) ident() uint32 {
	h := mix64(s.ino ^ 0x94d049bb133111eb)
	h = mix64(h ^ uint64(s.size))
	h = mix64(h ^ uint64(s.mode))
	return uint32(h >> 32)
}

// mix64 is splitmix64's finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// fileReader reads queue files and defer logs with reused buffers, so
// that reading 100,000 files makes little garbage. One per goroutine.
type fileReader struct {
	conf   fileConf
	br     *bufio.Reader // the queue file
	dbr    *bufio.Reader // its defer log, read in the middle of it
	buf    []byte
	intern *interner
	quoted []byte
	seen   map[string]struct{}
	rcpts  []Recipient
	hline  []byte // readSubject's line
	subj   []byte // readSubject's raw Subject
	// mention, when set, is a queue id readSubject looks for in the
	// Received headers (a requeued message followed through a content
	// filter); mentioned says it found it.
	mention   string
	mentioned bool
}

func newFileReader(conf fileConf, in *interner) *fileReader {
	return &fileReader{conf: conf, br: bufio.NewReaderSize(nil, 16<<10), dbr: bufio.NewReaderSize(nil, 4<<10), intern: in, seen: make(map[string]struct{})}
}

// testHookRead, set by tests only, runs before each queue file is read
// (by the index's scans and events, and by an action's re-read).
var testHookRead func()

// errNotListed says showq would not list the file: missing, incomplete
// (mode not 0700), not a regular file, or without a sender record.
var errNotListed = errors.New("not a listable queue file")

// readMessage reads the queue file at path (queue qi, id) and its defer
// log at deferPath, as showq reports them. It returns errNotListed for a
// file showq skips.
func (r *fileReader) readMessage(path, deferPath, id string, qi uint8) (queueEntry, fileStamp, fileStamp, error) {
	if testHookRead != nil {
		testHookRead()
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return queueEntry{}, fileStamp{}, fileStamp{}, errNotListed
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Mode&0o700 != statReady {
		return queueEntry{}, stampOf(&st), fileStamp{}, errNotListed
	}
	f, err := os.Open(path)
	if err != nil {
		return queueEntry{}, fileStamp{}, fileStamp{}, errNotListed
	}
	defer func() { _ = f.Close() }()
	// The stamp of what is read: fstat on the open file, so a rename
	// between lstat and open cannot pair one file's stamp with another's
	// records.
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return queueEntry{}, fileStamp{}, fileStamp{}, fmt.Errorf("stat %s: %w", path, err)
	}
	e, dstamp, ok := r.parse(f, &st, deferPath, id, qi)
	if !ok {
		return queueEntry{}, stampOf(&st), dstamp, errNotListed
	}
	return e, stampOf(&st), dstamp, nil
}

// parse follows showq_report over an open queue file.
func (r *fileReader) parse(f *os.File, st *syscall.Stat_t, deferPath, id string, qi uint8) (queueEntry, fileStamp, bool) {
	r.br.Reset(f)
	var (
		arrival    int64
		msgSize    = st.Size
		sizeOK     bool
		senderSeen bool
		haveDefer  bool
		dstamp     fileStamp
		pos        int64
		lastPtr    int64
		reverse    int
		e          queueEntry
		subject    string
		headerRead bool
	)
	r.rcpts = r.rcpts[:0]
	clear(r.seen)
	seek := func(off int64) bool {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return false
		}
		r.br.Reset(f)
		pos = off
		return true
	}
	finish := func() (queueEntry, fileStamp, bool) {
		if !senderSeen {
			return queueEntry{}, dstamp, false
		}
		e.rcpts = append(make([]Recipient, 0, len(r.rcpts)), r.rcpts...)
		e.subject = subject
		return e, dstamp, true
	}
	for {
		typ, data, n, ok := r.record(pos)
		if !ok {
			return finish()
		}
		pos += n
		switch typ {
		case recPtr:
			off, valid := parseOffset(data)
			switch {
			case !valid:
				return finish()
			case off == 0: // a dummy pointer
			case off <= lastPtr && reverse+1 > maxReverseJumps:
				return finish()
			default:
				if off <= lastPtr {
					reverse++
				}
				if !seek(off) {
					return finish()
				}
				lastPtr = off
			}
			continue
		case recPadding:
			continue
		case recEnd:
			return finish()
		case recTime:
			if arrival == 0 {
				arrival = atol(data)
			}
		case recSize:
			if !sizeOK {
				sizeOK = digitsAndBlanks(data)
				if sizeOK {
					msgSize = atol(data)
					sizeOK = msgSize >= 0
				}
				if !sizeOK {
					msgSize = st.Size
				}
			}
		case recFrom:
			if senderSeen {
				return finish() // "duplicate sender address": the rest is skipped
			}
			senderSeen = true
			sender := cString(data)
			if sender == "" {
				sender = r.conf.emptyAddr
			}
			at := arrival
			if at <= 0 {
				at = st.Mtim.Sec
			}
			e = queueEntry{
				id:      id,
				sender:  r.intern.get(r.printable(r.quote822(sender))),
				arrival: at,
				size:    msgSize,
				queue:   qi,
				expired: st.Mode&statExpire != 0,
			}
			if deferPath != "" {
				dstamp, haveDefer = r.readDefer(deferPath)
			}
		case recRcpt:
			if !senderSeen {
				return finish() // "missing sender address"
			}
			addr := cString(data)
			if addr == "" {
				addr = r.conf.emptyAddr
			}
			addr = r.printable(r.quote822(addr))
			if haveDefer {
				if _, dup := r.seen[addr]; dup {
					break
				}
			}
			r.rcpts = append(r.rcpts, Recipient{Address: r.intern.get(addr)})
		case recMesg:
			start := pos
			if !headerRead {
				headerRead = true
				subject = r.subject(r.readSubject(f))
			}
			// showq goes on after the content (or, without a good size
			// record, through it).
			if sizeOK {
				start += msgSize
			}
			if !seek(start) {
				return finish()
			}
		}
	}
}

// record reads the record at pos. Data is read only for the types parse
// uses; the rest is skipped. n is the record's length in the file.
func (r *fileReader) record(pos int64) (typ byte, data []byte, n int64, ok bool) {
	t, length, n, ok := r.recordHead()
	if !ok {
		return 0, nil, 0, false
	}
	switch t {
	case recTime, recSize, recFrom, recRcpt, recPtr:
		if length > maxRecord {
			return 0, nil, 0, false
		}
		data, ok := r.recordData(length)
		return t, data, n, ok
	}
	if !r.skipData(length) {
		return 0, nil, 0, false
	}
	return t, nil, n, true
}

// recordHead reads a record's type and data length; n is the length of
// the whole record in the file.
func (r *fileReader) recordHead() (typ byte, length, n int64, ok bool) {
	t, err := r.br.ReadByte()
	if err != nil {
		return 0, 0, 0, false
	}
	n = 1
	for shift := uint(0); ; shift += 7 {
		if shift >= 32 {
			return 0, 0, 0, false
		}
		b, err := r.br.ReadByte()
		if err != nil {
			return 0, 0, 0, false
		}
		n++
		length |= int64(b&0x7f) << shift
		if b&0x80 == 0 {
			break
		}
	}
	if length < 0 {
		return 0, 0, 0, false
	}
	return t, length, n + length, true
}

// recordData reads length bytes of data into r.buf (valid until the
// next read).
func (r *fileReader) recordData(length int64) ([]byte, bool) {
	if cap(r.buf) < int(length) {
		r.buf = make([]byte, length)
	}
	r.buf = r.buf[:length]
	if _, err := io.ReadFull(r.br, r.buf); err != nil {
		return nil, false
	}
	return r.buf, true
}

func (r *fileReader) skipData(length int64) bool {
	d, err := r.br.Discard(int(length))
	return err == nil && int64(d) == length
}

// readSubject reads the primary headers of the content that starts at
// start (the record after M) and returns the first Subject header's
// value as stored: its folded lines joined with "\n", at most
// subjectRawMax bytes; "" when there is none within headerMaxBytes and
// headerMaxRecords. Lines are N records, a long line is L records ended
// by an N record, pointer records are followed (cleanup and milters
// leave them where headers were changed), padding is skipped; the
// headers end at an empty line, a line that is not a header (as
// is_header() sees it) or anything else.
//
// It reads on from r.br, which stands at the start of the content.
func (r *fileReader) readSubject(f *os.File) string {
	var (
		line     = r.hline[:0]
		subj     = r.subj[:0]
		inSubj   bool // the current header is the Subject
		subjSeen bool
		inRecv   bool // the current header is a Received
		budget   = int64(headerMaxBytes)
		lastPtr  int64
		reverse  int
	)
	r.mentioned = false
	defer func() { r.hline, r.subj = line[:0], subj[:0] }()
	done := func() string {
		if !subjSeen {
			return ""
		}
		return string(subj)
	}
	// Once the Subject is whole, the rest is read only when a Received
	// header naming r.mention is looked for (and not found yet).
	enough := func() bool { return subjSeen && !inSubj && (r.mention == "" || r.mentioned) }
	for recs := 0; recs < headerMaxRecords; recs++ {
		typ, length, _, ok := r.recordHead()
		if !ok {
			return done()
		}
		switch typ {
		case recPadding:
			if !r.skipData(length) {
				return done()
			}
			continue
		case recPtr:
			if length > 64 {
				return done()
			}
			data, ok := r.recordData(length)
			if !ok {
				return done()
			}
			off, valid := parseOffset(data)
			switch {
			case !valid:
				return done()
			case off == 0: // a dummy pointer
				continue
			case off <= lastPtr:
				if reverse++; reverse > maxReverseJumps {
					return done()
				}
			}
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				return done()
			}
			r.br.Reset(f)
			lastPtr = off
			continue
		case recNorm, recCont:
		default:
			return done() // X (the end of the content) or a record that has no place here
		}
		if length > budget {
			return done()
		}
		budget -= length
		data, ok := r.recordData(length)
		if !ok {
			return done()
		}
		line = append(line, data...)
		if typ == recCont {
			continue
		}
		// A whole line.
		switch {
		case len(line) == 0: // the end of the headers
			return done()
		case line[0] == ' ' || line[0] == '\t':
			if inSubj && len(subj) < subjectRawMax {
				subj = append(subj, '\n')
				subj = append(subj, line[:min(len(line), subjectRawMax-len(subj))]...)
			}
			if inRecv && r.mention != "" && mentionsID(line, r.mention) {
				r.mentioned = true
			}
		default:
			inSubj = false
			if enough() {
				return done() // the next header: what was wanted is whole
			}
			name, value, ok := headerName(line)
			if !ok {
				return done() // the body begins
			}
			inRecv = asciiEqualFold(name, "received")
			if inRecv && r.mention != "" && mentionsID(value, r.mention) {
				r.mentioned = true
			}
			if !subjSeen && asciiEqualFold(name, "subject") {
				inSubj, subjSeen = true, true
				value = bytes.TrimLeft(value, " \t")
				subj = append(subj, value[:min(len(value), subjectRawMax)]...)
			}
		}
		line = line[:0]
	}
	return done()
}

// mentionsID reports whether a Received header's text names the queue
// id as Postfix writes it: "id QUEUEID" followed by ';', a blank or the
// end ("by mx.example (Postfix) with ESMTP id 4jZZFn03xzz1SCLg;").
func mentionsID(text []byte, id string) bool {
	for i := 0; ; {
		j := bytes.Index(text[i:], []byte(id))
		if j < 0 {
			return false
		}
		at, end := i+j, i+j+len(id)
		if at >= 3 && string(text[at-3:at]) == "id " && (end == len(text) || text[end] == ';' || text[end] == ' ' || text[end] == '\t') {
			return true
		}
		i = at + 1
	}
}

// headerName splits a header line as Postfix's is_header() sees one: a
// name of printable ASCII without ':' or blanks, optional blanks, ':'.
func headerName(line []byte) (name, value []byte, ok bool) {
	i := 0
	for i < len(line) && line[i] > ' ' && line[i] < 0x7f && line[i] != ':' {
		i++
	}
	if i == 0 {
		return nil, nil, false
	}
	j := i
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	if j == len(line) || line[j] != ':' {
		return nil, nil, false
	}
	return line[:i], line[j+1:], true
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if foldASCII(b[i]) != foldASCII(s[i]) {
			return false
		}
	}
	return true
}

// subject decodes a raw Subject for the index, sharing repeated ones.
func (r *fileReader) subject(raw string) string {
	if raw == "" {
		return ""
	}
	return r.intern.get(DecodeSubject(raw, SubjectListMax))
}

// readDefer lists the recipients of the defer log at path with their
// reasons (bounce_log_read): entries are "name = value" lines (or the
// old "<address>: text"), separated by blank lines; an entry not ended
// by a blank line is not complete and not listed.
func (r *fileReader) readDefer(path string) (fileStamp, bool) {
	f, err := os.Open(path)
	if err != nil {
		return fileStamp{}, false
	}
	defer func() { _ = f.Close() }()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return fileStamp{}, false
	}
	r.dbr.Reset(f)
	defer r.dbr.Reset(nil)
	var addr, reason string
	found := false
	for {
		line, err := r.readLine()
		if err != nil {
			break
		}
		text := r.printable(cString(line))
		if text == "" { // a blank line (or one that starts with NUL, as C sees it)
			if found {
				if addr == "" {
					addr = "(recipient address unavailable)"
				}
				if reason == "" {
					reason = "(description unavailable)"
				}
				if r.conf.dupLimit == 0 || len(r.seen) < r.conf.dupLimit {
					r.seen[addr] = struct{}{}
				}
				r.rcpts = append(r.rcpts, Recipient{Address: r.intern.get(addr), DelayReason: r.intern.get(reason)})
				addr, reason = "", ""
			}
			found = false
			continue
		}
		found = true
		if c := text[0]; c < utf8.RuneSelf && (c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			name, value, ok := splitNameValue(text)
			if !ok {
				continue
			}
			switch name {
			case "recipient":
				addr = value
				if addr == "" {
					addr = "(MAILER-DAEMON)"
				}
			case "reason":
				reason = value
			}
			continue
		}
		rest, ok := strings.CutPrefix(text, "<")
		if !ok {
			continue
		}
		a, why, ok := strings.Cut(rest, ">: ")
		if !ok {
			continue
		}
		addr = a
		if addr == "" {
			addr = "(MAILER-DAEMON)"
		}
		reason = strings.TrimLeft(why, " \t\n\r\v\f")
	}
	return stampOf(&st), true
}

// readLine returns the defer log's next line without its newline; the slice is
// valid until the next read. A last line without a newline is returned
// too (vstring_get_nonl).
func (r *fileReader) readLine() ([]byte, error) {
	line, err := r.dbr.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		r.buf = append(r.buf[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.dbr.ReadSlice('\n')
			if len(r.buf)+len(line) > maxRecord {
				return nil, errors.New("defer log line too long")
			}
			r.buf = append(r.buf, line...)
		}
		line = r.buf
	}
	if err != nil && (!errors.Is(err, io.EOF) || len(line) == 0) {
		return nil, err
	}
	return bytes.TrimSuffix(line, []byte("\n")), nil
}

// splitNameValue is split_nameval: "name = value", blanks trimmed.
func splitNameValue(s string) (name, value string, ok bool) {
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	end := strings.IndexAny(s, " \t\n\r\v\f=")
	if s == "" || end < 0 {
		return "", "", false
	}
	name, rest := s[:end], strings.TrimLeft(s[end:], " \t\n\r\v\f")
	if !strings.HasPrefix(rest, "=") {
		return "", "", false
	}
	return name, strings.TrimRight(strings.TrimLeft(rest[1:], " \t\n\r\v\f"), " \t\n\r\v\f"), true
}

// digitsAndBlanks is showq's test of a size record: nothing but digits
// and blanks up to the first NUL.
func digitsAndBlanks(b []byte) bool {
	for _, c := range b {
		if c == 0 {
			break
		}
		if c != ' ' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// cString is data up to its first NUL, as C reads it.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// atol reads a leading decimal number like C's atol (blanks, sign,
// digits; 0 when there is none).
func atol(b []byte) int64 {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r' || b[i] == '\v' || b[i] == '\f') {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	var n int64
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int64(b[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}

// parseOffset reads a pointer record's offset (off_cvt_string: blanks,
// then digits only).
func parseOffset(b []byte) (int64, bool) {
	b = bytes.TrimLeft(b, " \t\n\r\v\f")
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' || n > (1<<62)/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// quote822 is quote_822_local: a local part that is not an RFC 822
// dot-string is put in double quotes (with '"', '\' and CR escaped).
func (r *fileReader) quote822(addr string) string {
	start := 0
	if strings.HasPrefix(addr, "@") {
		if c := strings.IndexByte(addr, ':'); c >= 0 {
			start = c + 1
		}
	}
	end := len(addr)
	if at := strings.LastIndexByte(addr[start:], '@'); at >= 0 {
		end = start + at
	}
	if isDotString(addr[start:end]) {
		return addr
	}
	q := append(r.quoted[:0], addr[:start]...)
	q = append(q, '"')
	for i := start; i < end; i++ {
		if c := addr[i]; c == '"' || c == '\\' || c == '\r' {
			q = append(q, '\\')
		}
		q = append(q, addr[i])
	}
	q = append(q, '"')
	q = append(q, addr[end:]...)
	r.quoted = q
	return string(q)
}

func isDotString(local string) bool {
	if local == "" || local[0] == '.' || local[len(local)-1] == '.' {
		return false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c == '.' && i+1 < len(local) && local[i+1] == '.' {
			return false
		}
		if c == ' ' || c < 0x20 || c == 0x7f || strings.IndexByte(`()<>@,;:\"[]`, c) >= 0 {
			return false
		}
	}
	return true
}

// printable is Postfix's printable(s, '?'): printable ASCII stays; with
// smtputf8_enable a UTF-8 lead byte and its continuation bytes stay;
// every other byte becomes '?'. s is returned as is when nothing changes.
func (r *fileReader) printable(s string) string {
	return printableText(s, r.conf.utf8)
}

func printableText(s string, utf8ok bool) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := []byte(s)
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c >= 0x20 && c < 0x7f:
		case utf8ok && c >= 194 && c <= 254 && i+1 < len(b) && b[i+1] >= 128 && b[i+1] < 192:
			for i += 2; i < len(b) && b[i] >= 128 && b[i] < 192; i++ {
			}
			continue
		default:
			b[i] = '?'
		}
		i++
	}
	return string(b)
}

// hashPath is mail_queue_path: QUEUE_DIR/queue[/HASH...]/id, where the
// hashed queues (hash_queue_names) put a file in subdirectories named
// after the first hash_queue_depth characters of the id, or for a long
// id of its microseconds in five upper-case hex digits.
func (c *fileConf) hashPath(queueDir, queue, id string) string {
	hashed := false
	for _, h := range c.hashQueues {
		if strings.EqualFold(h, queue) {
			hashed = true
			break
		}
	}
	if !hashed || c.hashDepth <= 0 {
		return queueDir + "/" + queue + "/" + id
	}
	key := id
	if z := strings.LastIndexByte(id, 'z'); z >= longIDTimeLen {
		key = fmt.Sprintf("%05X", decodeBase52(id[z-4:z]))
	}
	var b strings.Builder
	b.Grow(len(queueDir) + len(queue) + 2*c.hashDepth + len(id) + 2)
	b.WriteString(queueDir)
	b.WriteByte('/')
	b.WriteString(queue)
	b.WriteByte('/')
	for i := 0; i < c.hashDepth; i++ {
		if i < len(key) {
			b.WriteByte(key[i])
		} else {
			b.WriteByte('_')
		}
		b.WriteByte('/')
	}
	b.WriteString(id)
	return b.String()
}

// decodeBase52 decodes the microseconds of a long queue id (0 when they
// do not decode, as MQID_LG_GET_HEX_USEC does).
func decodeBase52(s string) uint64 {
	var n uint64
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(longIDAlphabet, s[i])
		if d < 0 {
			return 0
		}
		n = n*52 + uint64(d)
	}
	return n
}

// interner shares repeated strings (senders, addresses, delay reasons)
// among index entries. It remembers at most internMax strings and starts
// over when full, so it cannot grow without bound; strings stay alive
// only as long as an entry uses them.
type interner struct {
	m map[string]string
}

const internMax = 1 << 14

func newInterner() *interner { return &interner{m: make(map[string]string)} }

func (in *interner) get(s string) string {
	if s == "" || in == nil {
		return s
	}
	if v, ok := in.m[s]; ok {
		return v
	}
	if len(in.m) >= internMax {
		clear(in.m)
	}
	in.m[s] = s
	return s
}
