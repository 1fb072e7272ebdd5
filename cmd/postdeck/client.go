package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// client talks to the daemon's API over its unix socket.
type client struct {
	http *http.Client
	json bool
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
	return &client{http: &http.Client{Transport: tr, Timeout: 10 * time.Minute}, json: jsonOut}
}

// do sends a request and decodes a JSON answer into out (when not nil). An
// API error becomes an error holding the API's sentence.
func (c *client) do(method, path string, in, out any) ([]byte, error) {
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
		return nil, fmt.Errorf("cannot reach the daemon (is `postdeck serve` running?): %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		return raw, apiErr(raw, resp.StatusCode)
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

// readInput reads the file named by arg, or standard input for "-".
func readInput(arg string) ([]byte, error) {
	if arg == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(arg)
}

// apiErr turns an API error answer into an error with the API's sentence.
func apiErr(raw []byte, status int) error {
	var e struct {
		Error   string `json:"error"`
		Diff    string `json:"diff"`
		Confirm string `json:"confirm"`
		Errors  []struct {
			Error string `json:"error"`
		} `json:"errors"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		msg := e.Error
		if len(e.Errors) > 1 {
			// Every field's error, one per line.
			var lines []string
			for _, fe := range e.Errors {
				lines = append(lines, fe.Error)
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
	return fmt.Errorf("HTTP %d", status)
}

// printJSON prints raw JSON indented.
func printJSON(raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		_, err = os.Stdout.Write(raw)
		return err
	}
	buf.WriteByte('\n')
	_, err := os.Stdout.Write(buf.Bytes())
	return err
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
