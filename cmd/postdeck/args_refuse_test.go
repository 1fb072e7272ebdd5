package main

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestCLIRefusesWhatItDoesNotUse: every client command refuses an
// argument it does not take, a flag it does not have and a sub-command
// that does not exist, with a sentence that names it and exit code 2,
// before it sends anything. `queue list ID` printed the whole queue,
// `sendmail --to a b` mailed a alone, `queue hold ID --reason x` printed
// the flag package's words and a page of queue list's filter flags, and
// `queue lsit` only the usage, with exit code 1 like a refused change.
func TestCLIRefusesWhatItDoesNotUse(t *testing.T) {
	bin := buildBinary(t)
	// Whatever connects here was sent something: nothing may be.
	sock, sent := countingSocket(t)
	run := func(args []string, want string) {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--socket", sock)...)
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		// One sentence: not the flag package's list of every flag.
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), want) || strings.Count(string(out), "\n") != 1 {
			t.Errorf("postdeck %s: %v, want exit 2 and one line with %q:\n%s", strings.Join(args, " "), err, want, out)
		}
		if n := sent.Swap(0); n != 0 {
			t.Errorf("postdeck %s sent %d requests", strings.Join(args, " "), n)
		}
	}
	names := make([]string, 0, len(commandArgs))
	for name := range commandArgs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		want := commandArgs[name]
		if want.max == many {
			continue
		}
		args := strings.Fields(name)
		for range want.max {
			args = append(args, "x")
		}
		run(append(args, "extra"), `unexpected argument "extra": `+name+" takes ")
	}
	run([]string{"queue", "list", "4XyZ1abcD"}, "postdeck queue show ID")
	run([]string{"sendmail", "--to", "a@example.org", "b@example.org"}, `unexpected argument "b@example.org"`)
	run([]string{"queue", "hold", "4XyZ1abcD", "--reason", "x"}, "queue hold has no flag --reason; nothing was done")
	run([]string{"queue", "lsit"}, `unknown command "lsit" (did you mean list?)`)
	run([]string{"mpa", "eror", "show", "x"}, `unknown command "eror" (did you mean error?)`)
	run([]string{"mpa", "error"}, "mpa error needs a command")
	run([]string{"queue", "show"}, "missing argument: postdeck queue show ID")
	run([]string{"admin", "role", "op1"}, "missing argument: postdeck admin role USER ROLE")
	run([]string{"backup", "--json", "/tmp/x.tar"}, "--json does not apply to it")
	if out, err := exec.Command(bin, "queue", "list", "-h").CombinedOutput(); err != nil || !strings.Contains(string(out), "-sender") {
		t.Errorf("queue list -h: %v\n%s", err, out)
	}
}

// TestServeRefusesAStrayArgument: serve parsed its flags up to the
// first word that is not one and ignored the rest, so `serve --data D x
// --listen ADDR` started on the default listener; it refuses the word.
func TestServeRefusesAStrayArgument(t *testing.T) {
	_, err := parseServeFlags([]string{"--data", "/tmp/x/data", "x", "--listen", "127.0.0.1:8443"})
	if err == nil || !strings.Contains(err.Error(), `unexpected argument "x"`) {
		t.Errorf("serve with a stray argument: %v", err)
	}
}
