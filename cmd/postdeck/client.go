package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// client talks to the daemon's API over its unix socket.
type client struct {
	http   *http.Client
	json   bool
	socket string
	// lineOffset is how many lines the command took off the top of the
	// file it sends (the "# postdeck-version:" line): the API's "Line N"
	// counts in what it got, the administrator's editor in the file.
	lineOffset int
}

// clientFlags adds --socket and --json to a command's flag set.
func clientFlags(fs *flag.FlagSet) (*string, *bool) {
	def := "/run/postdeck/ctl.sock"
	if v := os.Getenv("POSTDECK_SOCKET"); v != "" {
		def = v
	}
	return fs.String("socket", def, "the daemon's unix socket"), fs.Bool("json", false, "print the API's JSON")
}

func newClient(socket string, jsonOut bool) *client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &client{http: &http.Client{Transport: tr, Timeout: 10 * time.Minute}, json: jsonOut, socket: socket}
}

// unreachable is the error of a request the daemon's socket did not take.
// Permission denied is no daemon that is down: the socket is root's alone
// (0600), and the user only needs to be root.
//
// A daemon that took the request and did not answer in time is no daemon
// that is down either: it said "cannot reach the daemon (is `postdeck
// serve` running?)" of a daemon busy with a long apply, and the
// administrator sent the change again while the first one went through.
func (c *client) unreachable(err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("permission denied on the daemon's socket %s: it is root's alone; run the command as root", c.socket)
	}
	if timedOut(err) {
		return c.noAnswer()
	}
	// A --socket (or POSTDECK_SOCKET) that names a file or a directory
	// refuses the connection as a stopped daemon's stale socket does:
	// "is `postdeck serve` running?" sent the administrator to restart a
	// daemon that ran all along.
	if fi, serr := os.Stat(c.socket); serr == nil && fi.Mode().Type() != os.ModeSocket {
		kind := "a regular file"
		if fi.IsDir() {
			kind = "a directory"
		}
		return fmt.Errorf("%s is %s, not the daemon's socket: give the socket with --socket PATH or POSTDECK_SOCKET (serve's --socket; by default /run/postdeck/ctl.sock)", c.socket, kind)
	}
	// The request's made-up URL ("Get \"http://postdeck/api/v1/...\"")
	// says nothing: the socket and the system's reason do.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("cannot reach the daemon at %s (is `postdeck serve` running?): %w", c.socket, err)
}

// noAnswer is the error of a request the daemon did not answer
// within the client's timeout.
func (c *client) noAnswer() error {
	return fmt.Errorf("the daemon did not answer within %s (it may be busy with a long apply); a change sent may still be made: check before sending it again", c.http.Timeout)
}

// timedOut says whether err is the client's timeout running out.
func timedOut(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// do sends a request and decodes a JSON answer into out (when not nil). An
// API error becomes an error holding the API's sentence.
func (c *client) do(method, path string, in, out any) ([]byte, error) {
	// An empty name or id (a script's unset variable) leaves an empty
	// path segment: the path would be the collection's, and `queue show
	// ""` printed the whole queue, exit 0.
	if p, _, _ := strings.Cut(path, "?"); strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
		return nil, fmt.Errorf("the name or id given is empty")
	}
	// A name, id or search text of kilobytes (a script's file read into
	// a variable) made a request line the daemon answered with 431 and
	// an HTML page: the command said "HTTP 431".
	if len(path) > maxRequestPath {
		return nil, fmt.Errorf("a name, id or search text given is too long: the request's path would be %d bytes, more than the %d the daemon takes; nothing was sent", len(path), maxRequestPath)
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://postdeck"+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.unreachable(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		if timedOut(err) {
			return nil, c.noAnswer()
		}
		return nil, err
	}
	if resp.StatusCode >= 400 {
		return raw, apiErr(raw, resp.StatusCode, c.lineOffset)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, fmt.Errorf("decode answer: %w", err)
		}
	}
	return raw, nil
}

// change sends a change whose answer carries a "message" (and maybe
// "warnings"): it prints the JSON with --json, else the message, and the
// warnings on stderr.
func (c *client) change(method, path string, in any) error {
	var res struct {
		Message  string   `json:"message"`
		Warnings []string `json:"warnings"`
	}
	raw, err := c.do(method, path, in, &res)
	if err != nil || c.json {
		return jsonOr(raw, err)
	}
	fmt.Println(res.Message)
	for _, w := range res.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	return nil
}

// maxRequestPath bounds a request's path and query: far more than any
// name (64 characters), queue id or search the daemon takes, inside the
// 4 KiB its socket reads of a request line and headers.
const maxRequestPath = 2048

// maxInput bounds what a command reads of a file or of standard input:
// more than any document or id list the daemon takes (a map holds at
// most 16 MiB, 200,000 queue ids are under 6 MiB), far less than what
// ends the command: `maps set M hash /dev/zero` read until the kernel
// killed it, and a 2 GiB file was read whole, then turned into a JSON
// body the daemon hung up on.
const maxInput = 64 << 20

// readInput reads the file named by arg, or standard input for "-", up
// to maxInput bytes.
func readInput(arg string) ([]byte, error) {
	name, r := "standard input", io.Reader(os.Stdin)
	if arg != "-" {
		f, err := openInput(arg)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		name, r = arg, f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("%s is over %d MiB, more than the daemon takes; nothing was sent", name, maxInput>>20)
	}
	return b, nil
}

// openInput opens the file a command sends, or says in a sentence why it
// cannot: Go's words ("open x: no such file or directory", "read d: read
// d: is a directory") named no command's argument, and a directory given
// to restore was streamed until its first read failed, which the command
// then called a daemon it could not reach.
func openInput(arg string) (*os.File, error) {
	f, err := os.Open(arg)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("the file %s does not exist; nothing was sent", arg)
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("the file %s is not readable by this user (permission denied); nothing was sent", arg)
	case err != nil:
		return nil, fmt.Errorf("cannot open the file %s (%v); nothing was sent", arg, errors.Unwrap(err))
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory, not a file; nothing was sent", arg)
	}
	return f, nil
}

// apiErr turns an API error answer into an error with the API's sentence.
// An error about a line of the document ("Line N: ...", with "line": N)
// names the line of the file, lineOffset lines further down.
func apiErr(raw []byte, status, lineOffset int) error {
	var e struct {
		Error   string `json:"error"`
		Line    int    `json:"line"`
		Diff    string `json:"diff"`
		Confirm string `json:"confirm"`
		Errors  []struct {
			Error string `json:"error"`
			Line  int    `json:"line"`
		} `json:"errors"`
	}
	fileLine := func(msg string, line int) string {
		if rest, ok := strings.CutPrefix(msg, fmt.Sprintf("Line %d: ", line)); ok && line > 0 && lineOffset > 0 {
			return fmt.Sprintf("Line %d: %s", line+lineOffset, rest)
		}
		return msg
	}
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		msg := fileLine(e.Error, e.Line)
		if len(e.Errors) > 1 {
			// Every field's error, one per line.
			var lines []string
			for _, fe := range e.Errors {
				lines = append(lines, fileLine(fe.Error, fe.Line))
			}
			msg = strings.Join(lines, "\n")
		}
		switch {
		case e.Diff != "":
			// A stale save: what differs between the document sent and
			// the one saved meanwhile.
			return fmt.Errorf("%s\n%s", msg, strings.TrimRight(e.Diff, "\n"))
		case e.Confirm != "":
			return fmt.Errorf("%s\nNothing was saved; run the command again with --confirm to apply it", msg)
		}
		return fmt.Errorf("%s", msg)
	}
	// Not the API's JSON: something between (a proxy, a daemon of
	// another version) or a fault before any route answered.
	return fmt.Errorf("the daemon answered %d %s without saying why; its log (journalctl -u postdeck) may say more", status, http.StatusText(status))
}

// printJSON prints raw JSON indented.
// printAnswer prints the API's answer as indented JSON under --json, else
// line.
func (c *client) printAnswer(raw []byte, line string) error {
	if c.json {
		return printJSON(raw)
	}
	_, err := fmt.Println(line)
	return err
}

func printJSON(raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		_, err = os.Stdout.Write(raw)
		return err
	}
	buf.WriteByte('\n')
	_, err := os.Stdout.Write(terminalSafeJSON(buf.Bytes()))
	return err
}

// terminalSafeJSON writes the characters of JSON text that a terminal
// acts on or that reorder what it shows (DEL, C1 controls such as CSI,
// bidirectional controls), which come from mail (a sender, a header)
// and which encoding/json leaves as they are, as \u escapes: the same
// JSON value, with nothing in it a terminal takes for a command. Such
// characters stand only inside strings, where an escape means the same.
func terminalSafeJSON(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == 0x7f || (r >= 0x80 && r <= 0x9f) || unicode.Is(unicode.Bidi_Control, r) {
			if out == nil {
				out = append(make([]byte, 0, len(b)+16), b[:i]...)
			}
			out = fmt.Appendf(out, `\u%04x`, r)
		} else if out != nil {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	if out == nil {
		return b
	}
	return out
}

// parseArgs parses flags wherever they stand among the arguments
// ("spf add DOMAIN --map X" as well as "spf add --map X DOMAIN"); after it,
// fs.Args() are the positional arguments in order. "--" ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...) // everything after "--" is positional
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}
