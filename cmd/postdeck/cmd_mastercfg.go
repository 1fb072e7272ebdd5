package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

const masterConfigUsage = `usage: postdeck mastercfg get | set [--force] FILE (- for standard input)
  get prints a first line "# postdeck-version: V" and the master config document
  (master.cf without the MPA's services); set takes the line off and saves only
  when the stored document is still version V (else it shows the difference)`

// cmdMasterConfig is `postdeck mastercfg get|set`.
func cmdMasterConfig(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", masterConfigUsage)
	}
	fs := flag.NewFlagSet("mastercfg", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	force := fs.Bool("force", false, "set: save even when the file has no version line or the document changed since it was read")
	if err := parseArgs(fs, args[1:]); err != nil {
		return err
	}
	c := newClient(*socket, *jsonOut)
	switch args[0] {
	case "get":
		var doc struct {
			Text    string `json:"text"`
			Version string `json:"version"`
		}
		raw, err := c.do("GET", "/api/v1/mastercfg", nil, &doc)
		if err != nil {
			return err
		}
		if c.json {
			return printJSON(raw)
		}
		_, err = io.WriteString(os.Stdout, withVersionLine(doc.Version, doc.Text))
		return err
	case "set":
		if fs.NArg() != 1 {
			return fmt.Errorf("%s", masterConfigUsage)
		}
		text, err := readInput(fs.Arg(0))
		if err != nil {
			return err
		}
		version, rest, err := baseOf(string(text), *force)
		if err != nil {
			return err
		}
		return c.change("PUT", "/api/v1/mastercfg", map[string]string{"text": rest, "version": version})
	}
	return fmt.Errorf("%s", masterConfigUsage)
}
