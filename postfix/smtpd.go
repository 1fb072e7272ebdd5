package postfix

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// capDacReadSearch is CAP_DAC_READ_SEARCH (linux/capability.h): read any
// file and search any directory, nothing else.
const capDacReadSearch = 2

// maxSMTPDOutput bounds what a stand-alone smtpd may send back: a probe
// session is a handful of short replies.
const maxSMTPDOutput = 64 << 10

// SMTPD is one SMTP session with Postfix's own smtpd(8) in stand-alone
// mode (`smtpd -S`): the daemon speaks SMTP over its standard input and
// output instead of a socket that master(8) hands it, and reads the
// configuration of MAIL_CONFIG, so it can be asked how a configuration
// that is not live yet (a staging copy) answers a client.
//
// Run as root, smtpd -S is the engine of `sendmail -bs`: it treats its
// client as a trusted local user, skips the access restrictions and
// refuses XCLIENT (SMTPD_STAND_ALONE in smtpd.h: stdin and a real user ID
// other than mail_owner). Run as mail_owner it is an ordinary smtpd whose
// client is "localhost[127.0.0.1]" (a non-socket peer), so StartSMTPD runs
// it as mail_owner. To read what the real smtpd reads as root before it
// drops privileges (a 0700 staging directory, 0600 maps), the process
// gets CAP_DAC_READ_SEARCH as an ambient capability and no other.
// See docs/postfix.md.
type SMTPD struct {
	cmd    *exec.Cmd
	ctx    context.Context
	stdin  io.WriteCloser
	stdout *os.File
	r      *textproto.Reader
	stderr *boundedBuffer
	cancel context.CancelFunc
	done   chan struct{}
	err    error // Wait's error, after done
}

// StartSMTPD starts daemonDir/smtpd -S with MAIL_CONFIG=p.ConfigDir, as the
// user owner (mail_owner), with args (such as "-o", "name=value") after -S.
// The whole session is bounded by timeout: when it expires, smtpd is
// killed and every later read fails. Close must be called.
func (p Runner) StartSMTPD(ctx context.Context, daemonDir, owner string, timeout time.Duration, args ...string) (*SMTPD, error) {
	if !filepath.IsAbs(p.ConfigDir) {
		return nil, fmt.Errorf("smtpd -S: config directory %q must be absolute", p.ConfigDir)
	}
	cred, err := credential(owner)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	cmd := exec.CommandContext(ctx, filepath.Join(daemonDir, "smtpd"), append([]string{"-S"}, args...)...)
	// The daemon takes its configuration directory from the environment
	// (its -c means chroot); nothing else of ours is passed on.
	cmd.Env = []string{"MAIL_CONFIG=" + p.ConfigDir}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential:  cred,
		AmbientCaps: []uintptr{capDacReadSearch},
	}
	cmd.WaitDelay = time.Second
	stderr := &boundedBuffer{max: 4 << 10}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("smtpd -S: %w", err)
	}
	// Our own pipe, not StdoutPipe: Wait must not close the read end under
	// a read, which then sees the end of smtpd's output as EOF.
	stdout, pw, err := os.Pipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("smtpd -S: %w", err)
	}
	cmd.Stdout = pw
	err = cmd.Start()
	_ = pw.Close()
	if err != nil {
		_ = stdout.Close()
		cancel()
		return nil, fmt.Errorf("start smtpd -S: %w", err)
	}
	s := &SMTPD{cmd: cmd, ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, cancel: cancel, done: make(chan struct{}),
		r: textproto.NewReader(bufio.NewReader(io.LimitReader(stdout, maxSMTPDOutput)))}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// credential is the user and group of name, without supplementary groups.
func credential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("smtpd -S: look up mail_owner %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil || uid == 0 {
		return nil, fmt.Errorf("smtpd -S: mail_owner %q has uid %s gid %s", name, u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// ErrSMTPDGone is a read or write that found smtpd gone: it exited
// before the session ended.
var ErrSMTPDGone = errors.New("smtpd exited")

// ErrSMTPDTimeout is a session that outlived its deadline: smtpd was
// killed.
var ErrSMTPDTimeout = errors.New("smtpd did not answer in time")

// Reply reads one (possibly multi-line) reply and returns its code and
// text, the lines joined with "\n".
func (s *SMTPD) Reply() (int, string, error) {
	code, msg, err := s.r.ReadResponse(0)
	if err != nil {
		var perr textproto.ProtocolError
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, "", s.gone()
		}
		if errors.As(err, &perr) {
			return 0, "", fmt.Errorf("smtpd -S: not an SMTP reply: %v", perr)
		}
		return code, msg, err
	}
	return code, msg, nil
}

// Cmd sends one command line and reads its reply.
func (s *SMTPD) Cmd(line string) (int, string, error) {
	if strings.ContainsAny(line, "\r\n") {
		return 0, "", fmt.Errorf("smtpd -S: command %q holds a line break", line)
	}
	if _, err := io.WriteString(s.stdin, line+"\r\n"); err != nil {
		return 0, "", s.gone()
	}
	return s.Reply()
}

// gone waits (boundedly) for smtpd's end and says how it ended.
func (s *SMTPD) gone() error {
	select {
	case <-s.done:
	case <-time.After(2 * time.Second):
		return fmt.Errorf("%w: its output ended", ErrSMTPDGone)
	}
	if errors.Is(s.ctx.Err(), context.DeadlineExceeded) {
		return ErrSMTPDTimeout
	}
	var ee *exec.ExitError
	switch {
	case errors.As(s.err, &ee):
		msg := fmt.Sprintf("%v: %s", ErrSMTPDGone, ee.ProcessState)
		if e := strings.TrimSpace(s.stderr.String()); e != "" {
			msg += ": " + e
		}
		return &smtpdExit{msg: msg}
	}
	return fmt.Errorf("%w: its output ended", ErrSMTPDGone)
}

type smtpdExit struct{ msg string }

func (e *smtpdExit) Error() string { return e.msg }
func (e *smtpdExit) Unwrap() error { return ErrSMTPDGone }

// Close ends the session: stdin is closed (smtpd sees the end of its
// client), and smtpd is killed if it has not exited within a second.
func (s *SMTPD) Close() error {
	_ = s.stdin.Close()
	select {
	case <-s.done:
	case <-time.After(time.Second):
		if s.cmd.Process != nil {
			_ = s.cmd.Process.Kill()
		}
		<-s.done
	}
	s.cancel()
	return s.stdout.Close()
}

// Pid is smtpd's process id, which its mail log lines carry
// (smtpd[PID]), to tell them from those of the running instance's smtpd.
func (s *SMTPD) Pid() int { return s.cmd.Process.Pid }

// Stderr is what smtpd wrote to its standard error (at most 4 KiB). A
// daemon writes there only when it is a terminal; its words go to the mail
// log.
func (s *SMTPD) Stderr() string { return s.stderr.String() }

// boundedBuffer keeps the first max bytes written to it.
type boundedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// CanRunSMTPD reports whether this process may start smtpd -S as another
// user: only root can.
func CanRunSMTPD() bool { return os.Geteuid() == 0 }
