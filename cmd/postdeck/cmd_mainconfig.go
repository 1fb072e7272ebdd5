package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func cmdMainConfig(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: postdeck mainconfig get | set FILE (- for standard input)")
	}
	fs := flag.NewFlagSet("mainconfig", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c := newClient(*socket, *jsonOut)
	switch args[0] {
	case "get":
		var doc struct {
			Text string `json:"text"`
		}
		raw, err := c.do("GET", "/api/v1/mainconfig", nil, &doc)
		if err != nil {
			return err
		}
		if c.json {
			return printJSON(raw)
		}
		_, err = io.WriteString(os.Stdout, doc.Text)
		return err
	case "set":
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: postdeck mainconfig set FILE (- for standard input)")
		}
		text, err := readInput(fs.Arg(0))
		if err != nil {
			return err
		}
		return c.change("PUT", "/api/v1/mainconfig", map[string]string{"text": string(text)})
	}
	return fmt.Errorf("usage: postdeck mainconfig get | set FILE")
}
