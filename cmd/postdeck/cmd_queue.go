package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"postdeck/admin"
	"postdeck/queue"
)

const queueUsage = "usage: postdeck queue list [--queue Q] [--q TEXT] [--sender S] [--recipient R] [--min-age 1h] [--sort arrival|size|sender] [--offset N] [--limit N] | show ID | eml ID > FILE | delete|bounce|hold|release|requeue|retry ID... | delete|bounce|hold|release|requeue|retry [--queue Q] [--q TEXT] [--sender S] [--recipient R] [--min-age 1h] [--all] | flush"

// queueIDVerbs are the queue commands that take ids only.
var queueIDVerbs = []string{"show", "eml", "flush"}

// queueActionVerbs act on ids, or on every message a filter selects.
var queueActionVerbs = []string{"delete", "bounce", "hold", "release", "requeue", "retry"}

// actionFilters are the filter flags an action takes: the others (sort,
// offset, limit) choose a page of queue list, and an action acts on every
// message that matches.
var actionFilters = []string{"queue", "q", "sender", "recipient", "min-age"}

func cmdQueue(args []string) error {
	if len(args) == 0 {
		return badUsage(queueUsage)
	}
	fs := flag.NewFlagSet("queue", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	q := map[string]*string{}
	for _, name := range []string{"queue", "q", "sender", "recipient", "min-age", "sort", "offset", "limit"} {
		q[name] = fs.String(name, "", "filter: "+name)
	}
	all := fs.Bool("all", false, "an action: every queued message (with a filter: every message it selects)")
	if err := parseCommand(fs, "queue "+args[0], args[1:]); err != nil {
		return err
	}
	// The filter flags select what queue list shows and what an action
	// without ids acts on; show, eml and flush take ids or nothing.
	// Ignored, `queue delete --queue hold ID` deleted the message
	// wherever it was.
	verb := args[0]
	filter := map[string]string{}
	var misplaced string
	fs.Visit(func(f *flag.Flag) {
		_, isFilter := q[f.Name]
		switch {
		case misplaced != "":
		case f.Name == "all" && !slices.Contains(queueActionVerbs, verb):
			misplaced = "--all is for the queue actions (delete, bounce, hold, release, requeue, retry); queue " + verb + " does not take it"
		case isFilter && slices.Contains(queueIDVerbs, verb):
			misplaced = "--" + f.Name + " is a filter of queue list and the queue actions; queue " + verb + " takes queue ids only"
		case isFilter && slices.Contains(queueActionVerbs, verb) && !slices.Contains(actionFilters, f.Name):
			misplaced = "--" + f.Name + " chooses a page of queue list; queue " + verb + " acts on every message its filter selects"
		case isFilter && slices.Contains(queueActionVerbs, verb):
			filter[strings.ReplaceAll(f.Name, "-", "_")] = f.Value.String()
		}
	})
	if misplaced == "" && slices.Contains(queueActionVerbs, verb) && fs.NArg() > 0 && (len(filter) > 0 || *all) {
		misplaced = "give queue " + verb + " queue ids, or a filter (or --all), not both"
	}
	if misplaced == "" && len(filter) > 0 && !*all && blanks(filter) {
		// The API's sentence asks for "all": true, which the CLI
		// writes --all.
		misplaced = "this filter is blank and selects every message in the queue; add --all to " + verb + " all of them"
	}
	if misplaced != "" {
		// Typed wrong: exit 2, as for an unknown flag.
		return badUsage(misplaced + " (nothing was done)")
	}
	c := newClient(*socket, *jsonOut)
	switch verb {
	case "list":
		v := url.Values{}
		for name, p := range q {
			if *p != "" {
				v.Set(strings.ReplaceAll(name, "-", "_"), *p)
			}
		}
		var page queuePage
		raw, err := c.do("GET", "/api/v1/queue?"+v.Encode(), nil, &page)
		if err != nil || c.json {
			return jsonOr(raw, err)
		}
		return printQueuePage(os.Stdout, page)
	case "show":
		if fs.NArg() != 1 {
			return badUsage(queueUsage)
		}
		raw, err := c.do("GET", "/api/v1/queue/"+url.PathEscape(fs.Arg(0)), nil, nil)
		return jsonOr(raw, err)
	case "eml":
		// The message as an .eml file on standard output (postcat -bh,
		// CRLF line ends; an operator's or admin's right).
		if fs.NArg() != 1 {
			return badUsage(queueUsage)
		}
		raw, err := c.do("GET", "/api/v1/queue/"+url.PathEscape(fs.Arg(0))+"/eml", nil, nil)
		if err != nil {
			return err
		}
		if term.IsTerminal(int(os.Stdout.Fd())) {
			// Not redirected: the message is a stranger's bytes, and
			// the terminal would act on its escape sequences (a title,
			// a cleared screen, a rewritten line). Shown as mpa error
			// show shows one (queue.Readable); a file gets it whole.
			raw = []byte(queue.Readable(string(raw)))
		}
		_, err = os.Stdout.Write(raw)
		return err
	case "flush":
		raw, err := c.do("POST", "/api/v1/queue/flush", nil, nil)
		if err != nil || c.json {
			return jsonOr(raw, err)
		}
		fmt.Println("flushed: Postfix is retrying every queued message now")
		return nil
	case "delete", "bounce", "hold", "release", "requeue", "retry":
		if len(filter) > 0 || *all {
			return queueActionByFilter(c, verb, filter, *all)
		}
		if fs.NArg() == 0 {
			return badUsage("missing argument: postdeck queue " + verb + " " + queueActionArgs + "; nothing was done")
		}
		ids := fs.Args()
		if len(ids) == 1 && ids[0] == "-" {
			b, err := readInput("-")
			if err != nil {
				return err
			}
			ids = strings.Fields(string(b))
			if len(ids) == 0 {
				// The API's sentence for this names its filter and
				// "all", which the CLI does not take.
				return fmt.Errorf("no queue ids on standard input (nothing was done)")
			}
		}
		var res actionResult
		raw, err := c.do("POST", "/api/v1/queue/actions", map[string]any{"action": verb, "ids": ids}, &res)
		if err != nil || c.json {
			return jsonOr(raw, err)
		}
		printActionResult(os.Stdout, verb, res)
		for _, id := range ids {
			if n, ok := res.RequeuedAs[id]; ok {
				fmt.Printf("%s is now %s\n", id, n)
			}
		}
		return nil
	}
	return badUsage(queueUsage)
}

// blanks reports whether a filter selects the whole queue, as the API
// judges it (queue.Filter.Empty, after its own parsing): every value
// blank (a script's unset variable) or, for min_age, no age (0, 0s). A
// filter the API would refuse is left to its sentence.
func blanks(filter map[string]string) bool {
	v := url.Values{}
	for k, x := range filter {
		v.Set(k, x)
	}
	f, err := queue.ParseFilter(v)
	return err == nil && f.Empty()
}

// queueActionByFilter runs a queue action on every message the filter
// selects (all: every queued message, which the API asks to be said).
// The filter is matched when the action runs, message by message.
func queueActionByFilter(c *client, verb string, filter map[string]string, all bool) error {
	body := map[string]any{"action": verb, "filter": filter}
	if all {
		body["all"] = true
	}
	var res actionResult
	raw, err := c.do("POST", "/api/v1/queue/actions", body, &res)
	if err != nil || c.json {
		return jsonOr(raw, err)
	}
	fmt.Printf("%s matched\n", admin.Plural(res.Requested, "message"))
	printActionResult(os.Stdout, verb, res)
	return nil
}

// actionResult is what the queue actions read of the API's answer.
type actionResult struct {
	Requested      int               `json:"requested"`
	Affected       int               `json:"affected"`
	GoneCount      int               `json:"gone_count"`
	UnchangedCount int               `json:"unchanged_count"`
	RequeuedAs     map[string]string `json:"requeued_as"`
	// NotTriggered: a bounce or retry of more messages than
	// Postfix is asked to attempt at once.
	NotTriggeredCount int `json:"not_triggered_count"`
	// InDelivery: bounced messages in the middle of a delivery
	// attempt, returned when it ends.
	InDeliveryCount int `json:"in_delivery_count"`
}

// printActionResult writes what an action did, as the console says it.
func printActionResult(out io.Writer, verb string, res actionResult) {
	fmt.Fprintf(out, "%s: %d affected, %d gone", verb, res.Affected, res.GoneCount)
	if res.UnchangedCount > 0 {
		// Still queued, untouched: say why, as the console does
		// (releasing a message that is not on hold, retrying one
		// that is).
		fmt.Fprintf(out, ", %d unchanged (still queued, but %s does not apply to them)", res.UnchangedCount, verb)
	}
	fmt.Fprintln(out)
	if res.NotTriggeredCount > 0 {
		fmt.Fprintf(out, "%d not attempted now (one %s asks Postfix for at most %d delivery attempts): Postfix attempts them when they are due; \"queue flush\" attempts every queued message\n", res.NotTriggeredCount, verb, queue.MaxTriggerEach)
	}
	if res.InDeliveryCount > 0 {
		fmt.Fprintf(out, "%d in the middle of a delivery attempt: each is returned to its sender as soon as that attempt ends\n", res.InDeliveryCount)
	}
}

// queuePage is what queue list reads of GET /api/v1/queue.
type queuePage struct {
	Total int       `json:"total"`
	AsOf  time.Time `json:"as_of"`
	Items []struct {
		QueueID     string    `json:"queue_id"`
		QueueName   string    `json:"queue_name"`
		Sender      string    `json:"sender"`
		Subject     string    `json:"subject"`
		Size        int64     `json:"size"`
		ArrivalTime time.Time `json:"arrival_time"`
		Recipients  []struct {
			Address     string `json:"address"`
			DelayReason string `json:"delay_reason"`
		} `json:"recipients"`
	} `json:"items"`
}

// printQueuePage writes page as queue list's table: a row per
// recipient, the message's columns on its first, and one row for a
// message with no recipient listed (a file Postfix is still writing, or
// one whose recipients are all done), which is still queued.
func printQueuePage(out io.Writer, page queuePage) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "QUEUE ID\tQUEUE\tARRIVAL\tSIZE\tSENDER\tSUBJECT\tRECIPIENT\tREASON")
	for _, it := range page.Items {
		// The subject comes decoded, without control characters
		// (queue.DecodeSubject): safe on a terminal. Addresses and
		// reasons are as Postfix keeps them, which with
		// smtputf8_enable = yes is any UTF-8 a sender or a remote
		// server sent: shown as the console shows them
		// (queue.Readable), so that no bidirectional or C1 control
		// reaches the terminal.
		id, qn, arr, size, sender, subject := it.QueueID, it.QueueName, it.ArrivalTime.Local().Format("2006-01-02 15:04:05"), fmt.Sprint(it.Size), queue.Readable(it.Sender), it.Subject
		if len(it.Recipients) == 0 {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t\t\n", id, qn, arr, size, sender, subject)
			continue
		}
		for _, r := range it.Recipients {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, qn, arr, size, sender, subject, queue.Readable(r.Address), queue.Readable(r.DelayReason))
			id, qn, arr, size, sender, subject = "", "", "", "", "", ""
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "%d of %d messages (as of %s)\n", len(page.Items), page.Total, page.AsOf.Local().Format(time.TimeOnly))
	return err
}
