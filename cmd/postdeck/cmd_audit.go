package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"postdeck/queue"
)

// maxAuditLimit is the most entries GET /api/v1/audit answers.
const maxAuditLimit = 10001

// cmdAudit prints the audit log, newest first, as the console's audit
// page lists it (the whole entries, diffs included, with --json).
func cmdAudit(args []string) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	q := map[string]*string{}
	for _, name := range []string{"who", "what", "result", "since", "until", "limit"} {
		q[name] = fs.String(name, "", "filter: "+name)
	}
	if err := parseCommand(fs, "audit", args); err != nil {
		return err
	}
	// The API reads a limit it does not take as its default, 100: a
	// terminal says so instead of printing fewer entries than asked.
	if l := *q["limit"]; l != "" {
		if n, err := strconv.Atoi(l); err != nil || n < 1 || n > maxAuditLimit {
			return badUsage(fmt.Sprintf("--limit must be 1 to %d (nothing was done)", maxAuditLimit))
		}
	}
	v := url.Values{}
	for name, p := range q {
		if *p != "" {
			v.Set(name, *p)
		}
	}
	c := newClient(*socket, *jsonOut)
	var res struct {
		Items []struct {
			Time   time.Time `json:"time"`
			Actor  string    `json:"actor"`
			Action string    `json:"action"`
			Result string    `json:"result"`
			Detail string    `json:"detail"`
			Node   string    `json:"node"`
		} `json:"items"`
	}
	raw, err := c.do("GET", "/api/v1/audit?"+v.Encode(), nil, &res)
	if err != nil || c.json {
		return jsonOr(raw, err)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TIME\tWHO\tACTION\tRESULT\tDETAIL")
	for _, e := range res.Items {
		who := e.Actor
		if e.Node != "" {
			who += " on " + e.Node
		}
		// Details quote Postfix and what administrators typed (a map's
		// lines, a refused value): readable, one line per entry.
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", auditTime(e.Time), queue.Readable(who), queue.Readable(e.Action), e.Result, oneLine(e.Detail))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Printf("%d entries, newest first (--limit, 100 by default; --json has the diffs)\n", len(res.Items))
	return nil
}

// auditTime is an entry's time to the second, "-" for the row of an
// entry that could not be read.
func auditTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
