package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

const mainConfigUsage = `usage: postdeck mainconfig get | set [--force] [--confirm] FILE (- for standard input)
  get prints a first line "# postdeck-version: V"; set takes it off and saves only
  when the stored document is still version V (else it shows the difference)`

func cmdMainConfig(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", mainConfigUsage)
	}
	fs := flag.NewFlagSet("mainconfig", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	force := fs.Bool("force", false, "set: save even when the file has no version line or the document changed since it was read")
	confirm := fs.Bool("confirm", false, "set: apply a risky document (smtpd_relay_restrictions without reject_unauth_destination)")
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
		raw, err := c.do("GET", "/api/v1/mainconfig", nil, &doc)
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
			return fmt.Errorf("%s", mainConfigUsage)
		}
		text, err := readInput(fs.Arg(0))
		if err != nil {
			return err
		}
		version, rest, err := baseOf(string(text), *force)
		if err != nil {
			return err
		}
		body := map[string]any{"text": rest, "version": version}
		if *confirm {
			body["confirm"] = true
		}
		return c.change("PUT", "/api/v1/mainconfig", body)
	}
	return fmt.Errorf("%s", mainConfigUsage)
}
