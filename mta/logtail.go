package mta

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"postdeck/store"
)

// maxLogScan bounds how much of the maillog LogProblems reads (its tail).
const maxLogScan = 8 << 20

// maxProblemsKept is how many problem lines problemTail keeps: the most
// LogProblems is asked for (the Postfix log page's limit).
const maxProblemsKept = 1000

// problemTail follows Postfix's log for LogProblems: it remembers how far
// it read (and which file that was) and the newest problem lines, so that
// a call reads only what Postfix appended since the previous one, not the
// log's 8 MiB tail per dashboard view. A file that was replaced
// (rotated: another inode) or truncated is read again from its tail; so
// is one truncated in place and written past where the last read stopped
// before anybody looked (logrotate's copytruncate at night, a busy
// morning): the same inode and a larger size, but other bytes before that
// offset (before).
//
// A call within fresh of the last look at the file answers from what that
// look found, without a stat: every dashboard view asks, and under the
// console's load the stat of the maillog was a sixth of what a dashboard
// view cost the daemon (perf, BenchmarkConsole). Manager sets
// logProblemsFresh; zero looks every time.
type problemTail struct {
	mu       sync.Mutex
	fresh    time.Duration
	looked   time.Time // the last stat of path that found the file
	path     string
	dev, ino uint64
	offset   int64     // the end of the last complete line read
	before   []byte    // the log's last bytes before offset, as read
	lines    []LogLine // the newest problem lines, oldest first
}

// logProblemsFresh is how old an answer of LogProblems may be: a problem
// line Postfix writes reaches the dashboard at most this much later.
const logProblemsFresh = 100 * time.Millisecond

// problems returns the last n problem lines of the log at path.
func (t *problemTail) problems(path string, n int) ([]LogLine, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fresh > 0 && path == t.path && time.Since(t.looked) < t.fresh {
		return t.tail(n), nil
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.reset("", 0, 0)
		return nil, logUnreadable(path, err)
	}
	if path != t.path || st.Dev != t.dev || st.Ino != t.ino || st.Size < t.offset {
		t.reset(path, st.Dev, st.Ino)
	}
	if st.Size > t.offset {
		if err := t.read(st.Size); err != nil {
			t.reset("", 0, 0)
			return nil, err
		}
	}
	t.looked = time.Now()
	return t.tail(n), nil
}

// tail copies the last n problem lines kept.
func (t *problemTail) tail(n int) []LogLine {
	n = min(n, len(t.lines))
	return append([]LogLine(nil), t.lines[len(t.lines)-n:]...)
}

// logUnreadable says why the log at path cannot be read. Only a log that
// is not there means Postfix logs elsewhere (to syslog); any other
// failure (a mode, a symbolic link loop, too many open files on a bad
// day) is said as it is, with the path: sending the administrator to
// journalctl then sends them the wrong way.
func logUnreadable(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return store.Unavailable("Postfix's log cannot be read here (%s): it logs to syslog; read it with journalctl -u postfix", path)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return store.Unavailable("Postfix's log %s cannot be read: %s", path, errno.Error())
	}
	return store.Unavailable("Postfix's log %s cannot be read", path)
}

func (t *problemTail) reset(path string, dev, ino uint64) {
	t.path, t.dev, t.ino, t.offset, t.before, t.lines = path, dev, ino, 0, nil, nil
}

// markLen is how many bytes before the offset tell a log that was
// rewritten from one that was appended to.
const markLen = 64

// bytesBefore reads the log's last bytes before off (at most markLen).
func bytesBefore(f *os.File, off int64) []byte {
	b := make([]byte, min(off, markLen))
	n, _ := f.ReadAt(b, off-int64(len(b)))
	return b[:n]
}

// logReadChunk is how much of the log read holds at a time: a dashboard
// view after a busy hour (the tail's 8 MiB) costs this much memory, not
// the tail's size.
const logReadChunk = 256 << 10

// read scans the log from t.offset (or from its last maxLogScan bytes) up
// to size, logReadChunk bytes at a time, keeping its problem lines; a
// last line without its newline is left for the next call.
func (t *problemTail) read(size int64) error {
	f, err := os.Open(t.path)
	if err != nil {
		return logUnreadable(t.path, err)
	}
	defer f.Close()
	if t.offset > 0 && !bytes.Equal(bytesBefore(f, t.offset), t.before) {
		t.offset, t.lines = 0, nil // rewritten in place: another log
	}
	from := t.offset
	if size-from > maxLogScan {
		from, t.lines = size-maxLogScan, nil // what came before is past the tail
	}
	// Started in the middle of a line: it is not one.
	partial := from != t.offset
	buf := make([]byte, min(size-from, logReadChunk))
	pos, have := from, 0 // buf[:have] is the log from pos
	for pos+int64(have) < size {
		if have == len(buf) { // one line longer than buf
			buf = append(buf, make([]byte, len(buf))...)
		}
		n, err := f.ReadAt(buf[have:min(len(buf), int(size-pos))], pos+int64(have))
		have += n
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read maillog: %w", err)
		}
		if n == 0 {
			break // shorter than it was a moment ago
		}
		end := bytes.LastIndexByte(buf[:have], '\n')
		if end < 0 {
			continue
		}
		chunk := buf[:end+1]
		if partial {
			chunk = chunk[bytes.IndexByte(chunk, '\n')+1:]
			partial = false
		}
		t.scan(chunk)
		have = copy(buf, buf[end+1:have])
		pos += int64(end) + 1
	}
	if len(t.lines) > maxProblemsKept {
		t.lines = append(t.lines[:0], t.lines[len(t.lines)-maxProblemsKept:]...)
	}
	t.offset = pos
	if partial { // a tail without a line end at all: skip it
		t.offset = size
	}
	t.before = bytesBefore(f, t.offset)
	return nil
}

// scan keeps the problem lines of chunk, complete lines.
func (t *problemTail) scan(chunk []byte) {
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		line := chunk[:i]
		chunk = chunk[i+1:]
		if l, ok := problemLine(line); ok {
			t.lines = append(t.lines, l)
			if len(t.lines) > 2*maxProblemsKept {
				t.lines = append(t.lines[:0], t.lines[len(t.lines)-maxProblemsKept:]...)
			}
		}
	}
}

// problemLevels are the levels of Postfix's msg_warn, msg_error,
// msg_fatal and msg_panic, with the prefix each gives its message.
var problemLevels = [...]struct {
	level  string
	prefix []byte
}{
	{"panic", []byte("panic: ")}, {"fatal", []byte("fatal: ")},
	{"error", []byte("error: ")}, {"warning", []byte("warning: ")},
}

// problemLine is a log line that reports a warning, an error, a fatal
// error or a panic, with its level. The level starts the message, right
// after the program's tag ("postfix/smtpd[123]: ", in maillog_file's and
// syslog's lines alike): the same words further on are text Postfix
// logs for others (a sender address, a remote server's reply in a
// deferral), which anybody who sends mail chooses, and which made a
// relay's deferrals and a sender's "warning: ..." fill the dashboard's
// latest warnings.
//
// The probes' own smtpd (relayprobe.go, logging as NAME/postdeck-probe)
// runs configurations that are not live: a refused change's "fatal:
// invalid smtpd_timeout" is no problem of the running Postfix, and on the
// dashboard it read as one. So are the checks' postmap and postconf
// runs on the staging directory (apply.go): a pasted regexp map's
// "Unmatched ( or \(" names the staged file, and the running Postfix
// never reads a file there.
func problemLine(line []byte) (LogLine, bool) {
	i := bytes.Index(line, []byte("]: "))
	if i < 0 || bytes.Contains(line[:i], []byte("/"+probeLogName+"/")) {
		return LogLine{}, false
	}
	msg := line[i+len("]: "):]
	if bytes.Contains(msg, []byte("/"+stagingName+"/")) {
		return LogLine{}, false
	}
	for _, k := range problemLevels {
		if bytes.HasPrefix(msg, k.prefix) {
			return LogLine{Text: strings.ToValidUTF8(string(line), "?"), Level: k.level}, true
		}
	}
	return LogLine{}, false
}
