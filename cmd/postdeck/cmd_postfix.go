package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"postdeck/queue"
)

const postfixUsage = "usage: postdeck postfix start | stop | restart | log [--lines N]"

// cmdPostfix starts, stops or restarts the managed Postfix, or prints the
// last warnings and errors of its log: the dashboard's buttons and list,
// for an administrator at a terminal (a private instance has no unit of
// its own to ask systemctl).
func cmdPostfix(args []string) error {
	if len(args) == 0 {
		return badUsage(postfixUsage)
	}
	fs := flag.NewFlagSet("postfix", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	lines := fs.Int("lines", 50, "log: how many of the last problem lines (1 to 1000)")
	if err := parseCommand(fs, "postfix "+args[0], args[1:]); err != nil {
		return err
	}
	verb := args[0]
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "lines" })
	if set && verb != "log" {
		return badUsage("--lines is for postfix log; postfix " + verb + " does not take it (nothing was done)")
	}
	c := newClient(*socket, *jsonOut)
	switch verb {
	case "start", "stop", "restart":
		var res struct {
			Running bool `json:"running"`
		}
		raw, err := c.do("POST", "/api/v1/postfix/"+verb, nil, &res)
		if err != nil || c.json {
			return jsonOr(raw, err)
		}
		if res.Running {
			fmt.Println("Postfix is running")
		} else {
			fmt.Println("Postfix is stopped: no mail is received or delivered until postdeck postfix start")
		}
		return nil
	case "log":
		if *lines < 1 || *lines > 1000 {
			return badUsage("--lines must be 1 to 1000 (nothing was done)")
		}
		var res struct {
			Items []struct {
				Text  string `json:"text"`
				Level string `json:"level"`
			} `json:"items"`
		}
		raw, err := c.do("GET", "/api/v1/postfix/log?lines="+strconv.Itoa(*lines), nil, &res)
		if err != nil || c.json {
			return jsonOr(raw, err)
		}
		if len(res.Items) == 0 {
			fmt.Println("no warnings or errors in Postfix's log")
			return nil
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		for _, it := range res.Items {
			// Postfix quotes peers and the configuration: shown as
			// the console shows them.
			fmt.Fprintf(w, "%s\t%s\n", it.Level, oneLine(it.Text))
		}
		return w.Flush()
	}
	return badUsage(postfixUsage)
}

// oneLine is text from Postfix or a person as one readable table cell.
func oneLine(s string) string {
	return strings.Join(strings.Fields(queue.Readable(s)), " ")
}
