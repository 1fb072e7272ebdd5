package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"postdeck/queue"
	"postdeck/store"
)

const mpaUsage = "usage: postdeck mpa queue | errors [--offset N] [--limit N] | error show ID | error delete|requeue ID... | error delete|requeue --all | pipeline get | pipeline set FILE"

func cmdMPA(args []string) error {
	if len(args) == 0 {
		return badUsage(mpaUsage)
	}
	fs := flag.NewFlagSet("mpa", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	all := fs.Bool("all", false, "act on the whole error repository")
	offset := fs.String("offset", "", "errors: the first entry to list (0: the oldest)")
	limit := fs.String("limit", "", "errors: how many entries to list (default 100, at most 1000)")
	name, rest := "mpa "+args[0], args[1:]
	if (args[0] == "error" || args[0] == "pipeline") && len(rest) > 0 {
		name, rest = name+" "+rest[0], rest[1:]
	}
	if err := parseCommand(fs, name, rest); err != nil {
		return err
	}
	c := newClient(*socket, *jsonOut)
	switch args[0] {
	case "queue":
		var res struct {
			Items []struct {
				ID          string    `json:"id"`
				Sender      string    `json:"sender"`
				Recipients  []string  `json:"recipients"`
				Size        int64     `json:"size"`
				State       string    `json:"state"`
				Attempts    int       `json:"attempts"`
				NextAttempt time.Time `json:"next_attempt"`
				LastError   string    `json:"last_error"`
			} `json:"items"`
			Unreadable []string `json:"unreadable"`
		}
		raw, err := c.do("GET", "/api/v1/mpa/queue", nil, &res)
		if err != nil || c.json {
			return jsonOr(raw, err)
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tSTATE\tATTEMPTS\tSIZE\tSENDER\tRECIPIENTS\tLAST ERROR")
		for _, it := range res.Items {
			// Addresses and errors come from mail and its servers: shown
			// as queue list shows them (queue.Readable).
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", it.ID, it.State, it.Attempts, it.Size, queue.Readable(it.Sender),
				recipientsCell(it.Recipients), queue.Readable(it.LastError))
		}
		if err := w.Flush(); err != nil {
			return err
		}
		warnUnreadable(res.Unreadable, "in the MPA queue",
			"It is kept untouched with its message file and is not delivered until it is repaired or removed; the daemon's log says why.",
			"They are kept untouched with their message files and are not delivered until they are repaired or removed; the daemon's log says why.")
		return nil
	case "errors":
		var res struct {
			Total int `json:"total"`
			Items []struct {
				ID         string    `json:"id"`
				Sender     string    `json:"sender"`
				Recipients []string  `json:"recipients"`
				FailedAt   time.Time `json:"failed_at"`
				Stage      string    `json:"stage"`
				Reason     string    `json:"reason"`
			} `json:"items"`
			Unreadable []string `json:"unreadable"`
		}
		// A page, as queue list shows one: the daemon answers at most
		// 1,000 entries, and the repository may hold tens of thousands.
		q := url.Values{}
		if *offset != "" {
			q.Set("offset", *offset)
		}
		if *limit != "" {
			q.Set("limit", *limit)
		}
		path := "/api/v1/mpa/errors"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		raw, err := c.do("GET", path, nil, &res)
		if err != nil || c.json {
			return jsonOr(raw, err)
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tFAILED AT\tSTAGE\tSENDER\tRECIPIENTS\tREASON")
		for _, it := range res.Items {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", it.ID, it.FailedAt.Format(time.RFC3339), it.Stage, queue.Readable(it.Sender),
				recipientsCell(it.Recipients), queue.Readable(it.Reason))
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if _, err := fmt.Printf("%d of %d messages\n", len(res.Items), res.Total); err != nil {
			return err
		}
		// Total counts them: without this line the two numbers differed
		// and nothing said why.
		one := "It is kept untouched with its message file; the daemon's log says why. postdeck mpa error delete " + firstOr(res.Unreadable) + " deletes it."
		warnUnreadable(res.Unreadable, "on this page", one,
			"They are kept untouched with their message files; the daemon's log says why. postdeck mpa error delete ID deletes one.")
		return nil
	case "pipeline":
		if len(args) < 2 {
			return badUsage(mpaUsage)
		}
		return mpaPipeline(c, args[1], fs.Args())
	case "error":
		if len(args) < 2 {
			return badUsage(mpaUsage)
		}
		switch verb := args[1]; verb {
		case "show":
			if fs.NArg() != 1 {
				return badUsage(mpaUsage)
			}
			var d struct {
				ID         string   `json:"id"`
				Reason     string   `json:"reason"`
				Stage      string   `json:"stage"`
				Sender     string   `json:"sender"`
				Recipients []string `json:"recipients"`
				Headers    string   `json:"headers"`
				Body       string   `json:"body"`
			}
			raw, err := c.do("GET", "/api/v1/mpa/errors/"+url.PathEscape(fs.Arg(0)), nil, &d)
			if err != nil || c.json {
				return jsonOr(raw, err)
			}
			// The headers and body are a stranger's: no escape sequence
			// of theirs may reach the terminal (queue.Readable).
			// Every recipient, which mpa errors cuts to a few.
			envelope := fmt.Sprintf("sender:     %s\nrecipients: %s\n", queue.Readable(d.Sender), queue.Readable(strings.Join(d.Recipients, ",")))
			fmt.Printf("id:         %s\nstage:      %s\n%sreason:     %s\n\n%s\n%s\n", d.ID, d.Stage, envelope, queue.Readable(d.Reason), queue.Readable(d.Headers), queue.Readable(d.Body))
			return nil
		case "delete", "requeue":
			if fs.NArg() == 0 && !*all {
				return badUsage(mpaUsage)
			}
			var res struct {
				Affected int `json:"affected"`
			}
			body := map[string]any{"action": verb, "ids": fs.Args(), "all": *all}
			raw, err := c.do("POST", "/api/v1/mpa/errors/actions", body, &res)
			if err != nil || c.json {
				return jsonOr(raw, err)
			}
			fmt.Printf("%s: %d affected\n", verb, res.Affected)
			return nil
		}
	}
	return badUsage(mpaUsage)
}

// shownRecipients is how many recipients a row of mpa queue or mpa
// errors shows before "and N more": a message to 1,000 recipients made
// its row 25 KB, and a page of such rows a wall no column survived. mpa
// error show ID (and --json) has them all.
const shownRecipients = 3

// recipientsCell is the recipients column of a row: the first
// shownRecipients, shown as queue list shows addresses (queue.Readable),
// and how many more there are.
func recipientsCell(rcpts []string) string {
	if len(rcpts) <= shownRecipients {
		return queue.Readable(strings.Join(rcpts, ","))
	}
	return fmt.Sprintf("%s and %d more", queue.Readable(strings.Join(rcpts[:shownRecipients], ",")), len(rcpts)-shownRecipients)
}

// shownUnreadable is how many ids the warning about unreadable records
// names before "and N more", as the console's line does.
const shownUnreadable = 5

// warnUnreadable says on stderr, as the CLI says warnings (client.change),
// which records of where ("in the MPA queue") do not decode (another
// version's, an old backup's, damaged): how many, the first
// shownUnreadable ids and how many more, then one (for a single record)
// or many. The daemon leaves them out of the list; without this line
// they were a hole nobody was told of. Nothing is said for none, so the
// output stays as it was. The ids are the daemon's keys: shown as
// queue.Readable shows mail-derived text all the same.
func warnUnreadable(ids []string, where, one, many string) {
	if len(ids) == 0 {
		return
	}
	noun, verb, end := "messages", "are", many
	if len(ids) == 1 {
		noun, verb, end = "message", "is", one
	}
	line := fmt.Sprintf("%d %s %s could not be read and %s not listed: %s", len(ids), noun, where, verb, queue.Readable(store.NamedIDs(ids, shownUnreadable)))
	fmt.Fprintln(os.Stderr, "warning:", line+". "+end)
}

// firstOr is the first of ids, or "ID" for none.
func firstOr(ids []string) string {
	if len(ids) == 0 {
		return "ID"
	}
	return queue.Readable(ids[0])
}

// jsonOr prints raw JSON on success (for --json) or returns err.
func jsonOr(raw []byte, err error) error {
	if err != nil {
		return err
	}
	return printJSON(raw)
}

// mpaPipeline is `postdeck mpa pipeline get` (the JSON document of
// GET /api/v1/mpa/pipeline) and `postdeck mpa pipeline set FILE` (that
// document back, validated by the daemon; - reads standard input).
func mpaPipeline(c *client, verb string, args []string) error {
	switch verb {
	case "get":
		raw, err := c.do("GET", "/api/v1/mpa/pipeline", nil, nil)
		return jsonOr(raw, err)
	case "set":
		doc, err := readInput(args[0])
		if err != nil {
			return fmt.Errorf("read pipeline document: %w", err)
		}
		if !json.Valid(doc) {
			return fmt.Errorf("%s is not a JSON document: write it as `postdeck mpa pipeline get` prints it", args[0])
		}
		var res struct {
			Processors []string          `json:"processors"`
			Templates  []json.RawMessage `json:"templates"`
		}
		raw, err := c.do("PUT", "/api/v1/mpa/pipeline", json.RawMessage(doc), &res)
		if err != nil || c.json {
			return jsonOr(raw, err)
		}
		fmt.Printf("saved: processors %s, %d templates\n", strings.Join(res.Processors, ", "), len(res.Templates))
		return nil
	}
	return badUsage(mpaUsage)
}
