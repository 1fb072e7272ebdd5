package postfix

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Runner runs Postfix's own commands against one configuration directory.
// Arguments are passed as an argv vector: nothing reaches a shell. The
// configuration directory is always absolute (a relative -c fails silently
// without a tty, see docs/postfix.md).
type Runner struct {
	SbinDir   string // where postfix, postconf, postmap, ... live (Debian: /usr/sbin)
	ConfigDir string // absolute; passed as -c to every command
}

// CmdError is a Postfix command that failed. Stderr holds Postfix's own
// words, which are safe to show to an administrator.
type CmdError struct {
	Cmd    string
	Err    error
	Stderr string
}

func (e *CmdError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("%s: %s", e.Cmd, msg)
}

func (e *CmdError) Unwrap() error { return e.Err }

// DefaultSbinDir is where Debian (and most distributions) install
// Postfix's commands.
const DefaultSbinDir = "/usr/sbin"

// WithConfig is the same runner for another configuration directory (a
// staging copy, a scratch directory).
func (p Runner) WithConfig(dir string) Runner { return Runner{SbinDir: p.SbinDir, ConfigDir: dir} }

// commandTimeout bounds every Postfix command unless ctx is shorter.
const commandTimeout = 2 * time.Minute

// Run runs SbinDir/name -c ConfigDir args..., feeding stdin when not nil, and
// returns stdout and stderr. A non-zero exit is a *CmdError.
func (p Runner) Run(ctx context.Context, stdin io.Reader, name string, args ...string) (stdout, stderr []byte, err error) {
	var out, errb bytes.Buffer
	err = p.Stream(ctx, stdin, &out, &errb, name, args...)
	return out.Bytes(), errb.Bytes(), err
}

// Stream is Run with caller-provided stdout and stderr writers, for output
// too large to hold (postqueue -j of a big queue).
//
// A stderr that is an *os.File becomes the command's own standard error:
// no pipe between it and this process, whose reader would wake for every
// line postsuper writes (one per message, 100,000 for a big action). A
// failure's CmdError then holds the last 4 KB the command wrote there.
func (p Runner) Stream(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	var errb bytes.Buffer
	argv := append([]string{"-c", p.ConfigDir}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(p.SbinDir, name), argv...)
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	if f, ok := stderr.(*os.File); ok {
		from, _ := f.Seek(0, io.SeekCurrent)
		cmd.Stderr = f
		if err := cmd.Run(); err != nil {
			to, _ := f.Seek(0, io.SeekCurrent)
			tail := make([]byte, min(to-from, 4096))
			n, _ := f.ReadAt(tail, to-int64(len(tail)))
			return &CmdError{Cmd: name + " " + strings.Join(args, " "), Err: err, Stderr: string(tail[:n])}
		}
		return nil
	}
	if stderr != nil {
		cmd.Stderr = io.MultiWriter(stderr, &errb)
	} else {
		cmd.Stderr = &errb
	}
	if err := cmd.Run(); err != nil {
		return &CmdError{Cmd: name + " " + strings.Join(args, " "), Err: err, Stderr: errb.String()}
	}
	return nil
}
