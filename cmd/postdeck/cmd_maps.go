package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

const mapsUsage = `usage: postdeck maps list | get NAME | set [--force] [--secret] NAME TYPE FILE (- for standard input) | delete NAME | lookup NAME KEY
  get prints a first line "# postdeck-version: V"; set takes it off and saves only
  when the stored map is still version V (a new map needs no version line);
  set --secret marks the map as holding passwords (readable by root only, shown
  masked) in that same save; a map stays so until it is deleted`

// cmdMaps is `postdeck maps ...`, a thin client of /api/v1/maps.
func cmdMaps(args []string) error {
	if len(args) == 0 {
		return badUsage(mapsUsage)
	}
	fs := flag.NewFlagSet("maps", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	force := fs.Bool("force", false, "set: save even when the file has no version line or the map changed since it was read")
	secret := fs.Bool("secret", false, "set: mark the map as holding passwords (key user:password lines; readable by root only, shown masked), before smtp_sasl_password_maps names it; it stays so until deleted")
	if err := parseCommand(fs, "maps "+args[0], args[1:]); err != nil {
		return err
	}
	c := newClient(*socket, *jsonOut)
	path := func(name string) string { return "/api/v1/maps/" + url.PathEscape(name) }
	switch args[0] {
	case "list":
		var list struct {
			Items []struct {
				Name    string    `json:"name"`
				Type    string    `json:"type"`
				File    string    `json:"file"`
				Lines   int       `json:"lines"`
				Owner   string    `json:"owner"`
				Updated time.Time `json:"updated"`
			} `json:"items"`
		}
		raw, err := c.do("GET", "/api/v1/maps", nil, &list)
		if err != nil {
			return err
		}
		if c.json {
			return printJSON(raw)
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tTYPE\tLINES\tOWNER\tUPDATED\tFILE")
		for _, m := range list.Items {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", m.Name, m.Type, m.Lines, m.Owner, m.Updated.Local().Format("2006-01-02 15:04"), m.File)
		}
		return tw.Flush()
	case "get":
		var doc struct {
			Content string `json:"content"`
			Version string `json:"version"`
		}
		raw, err := c.do("GET", path(fs.Arg(0)), nil, &doc)
		if err != nil {
			return err
		}
		if c.json {
			return printJSON(raw)
		}
		_, err = io.WriteString(os.Stdout, withVersionLine(doc.Version, doc.Content))
		return err
	case "set":
		content, err := readInput(fs.Arg(2))
		if err != nil {
			return err
		}
		version, rest, err := baseOf(string(content), *force)
		if err != nil {
			// A new map has no version to carry.
			if _, gerr := c.do("GET", path(fs.Arg(0)), nil, nil); gerr == nil {
				return err
			}
			version, rest = "", string(content)
		}
		c.lineOffset = strings.Count(string(content[:len(content)-len(rest)]), "\n")
		body := map[string]any{"type": fs.Arg(1), "content": rest, "version": version}
		if *secret {
			body["secret"] = true
		}
		return c.change("PUT", path(fs.Arg(0)), body)
	case "delete":
		return c.change("DELETE", path(fs.Arg(0)), nil)
	default: // lookup
		var res struct {
			Found bool   `json:"found"`
			Value string `json:"value"`
		}
		raw, err := c.do("POST", path(fs.Arg(0))+"/lookup", map[string]string{"key": fs.Arg(1)}, &res)
		if err != nil {
			return err
		}
		// Not found exits 1 with --json too (the answer printed first).
		if c.json {
			if err := printJSON(raw); err != nil {
				return err
			}
		}
		if !res.Found {
			return fmt.Errorf("%s: %q not found", fs.Arg(0), fs.Arg(1))
		}
		if !c.json {
			fmt.Println(res.Value)
		}
		return nil
	}
}
