package main

import (
	"flag"
	"io"
	"os"
	"strings"
)

// documentCommand is what `mainconfig` and `mastercfg` share: get prints
// the document under a "# postdeck-version: V" line, set takes that line
// off and PUTs the rest with V (baseOf), and with "confirm": true when the
// command has a --confirm flag (confirmHelp not empty) and it was given.
type documentCommand struct {
	name, route, usage string
	confirmHelp        string
}

func (d documentCommand) run(args []string) error {
	if len(args) == 0 {
		return badUsage(d.usage)
	}
	fs := flag.NewFlagSet(d.name, flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	force := fs.Bool("force", false, "set: save even when the file has no version line or the document changed since it was read")
	var confirm *bool
	if d.confirmHelp != "" {
		confirm = fs.Bool("confirm", false, d.confirmHelp)
	}
	if err := parseCommand(fs, d.name+" "+args[0], args[1:]); err != nil {
		return err
	}
	c := newClient(*socket, *jsonOut)
	switch args[0] {
	case "get":
		var doc struct {
			Text    string `json:"text"`
			Version string `json:"version"`
		}
		raw, err := c.do("GET", d.route, nil, &doc)
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
			return badUsage(d.usage)
		}
		text, err := readInput(fs.Arg(0))
		if err != nil {
			return err
		}
		version, rest, err := baseOf(string(text), *force)
		if err != nil {
			return err
		}
		c.lineOffset = strings.Count(string(text[:len(text)-len(rest)]), "\n")
		body := map[string]any{"text": rest, "version": version}
		if confirm != nil && *confirm {
			body["confirm"] = true
		}
		return c.change("PUT", d.route, body)
	}
	return badUsage(d.usage)
}
