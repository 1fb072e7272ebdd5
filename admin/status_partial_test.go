package admin

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"postdeck/postfix"
)

// TestQueueProblemWords: the status names a queue that could not be read
// in a sentence that says why in plain words and what to do: a listing
// that ran out of time, one the system refused, or postqueue failing;
// never the error's own words (the queue directory's path, Postfix's or
// the system's text), which go to postdeck's log.
func TestQueueProblemWords(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("list queue: %w", context.DeadlineExceeded), queueSlowText},
		{&fs.PathError{Op: "open", Path: "/var/spool/postfix/deferred", Err: syscall.EACCES}, queueDeniedText},
		{fmt.Errorf("list queue: %w", &postfix.CmdError{Cmd: "postqueue -j", Err: fmt.Errorf("exit status 75"),
			Stderr: "postqueue: fatal: chdir /var/spool/postfix: No such file or directory"}), queueProblemText},
	} {
		got := queueProblem(c.err)
		if got != c.want {
			t.Errorf("%v: %q, want %q", c.err, got, c.want)
		}
		if !strings.HasPrefix(got, "The queue could not be read") {
			t.Errorf("%v: %q does not name the queue", c.err, got)
		}
		for _, no := range []string{"/var/spool", "exit status", "fatal", "permission denied", "deadline"} {
			if strings.Contains(got, no) {
				t.Errorf("%v: %q shows %q", c.err, got, no)
			}
		}
	}
}
