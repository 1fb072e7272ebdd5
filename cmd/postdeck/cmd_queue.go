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

	"postdeck/queue"
)

const queueUsage = "usage: postdeck queue list [--queue Q] [--q TEXT] [--sender S] [--recipient R] [--min-age 1h] [--sort arrival|size|sender] [--offset N] [--limit N] | show ID | eml ID > FILE | delete|bounce|hold|release|requeue|retry ID... | flush"

// queueIDVerbs are the queue commands that take ids, not a filter.
var queueIDVerbs = []string{"show", "eml", "flush", "delete", "bounce", "hold", "release", "requeue", "retry"}

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
	if err := parseCommand(fs, "queue "+args[0], args[1:]); err != nil {
		return err
	}
	// The filter flags select what queue list shows; the other commands
	// take ids. Ignored, `queue delete --queue hold ID` deleted the
	// message wherever it was.
	var misplaced string
	fs.Visit(func(f *flag.Flag) {
		if _, isFilter := q[f.Name]; isFilter && slices.Contains(queueIDVerbs, args[0]) && misplaced == "" {
			misplaced = f.Name
		}
	})
	if misplaced != "" {
		return fmt.Errorf("--%s is a filter of queue list; queue %s takes queue ids only (nothing was done)", misplaced, args[0])
	}
	c := newClient(*socket, *jsonOut)
	switch verb := args[0]; verb {
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
		if fs.NArg() == 0 {
			return badUsage(queueUsage)
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
		var res struct {
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
		raw, err := c.do("POST", "/api/v1/queue/actions", map[string]any{"action": verb, "ids": ids}, &res)
		if err != nil || c.json {
			return jsonOr(raw, err)
		}
		fmt.Printf("%s: %d affected, %d gone", verb, res.Affected, res.GoneCount)
		if res.UnchangedCount > 0 {
			// Still queued, untouched: say why, as the console does
			// (releasing a message that is not on hold, retrying one
			// that is).
			fmt.Printf(", %d unchanged (still queued, but %s does not apply to them)", res.UnchangedCount, verb)
		}
		fmt.Println()
		if res.NotTriggeredCount > 0 {
			fmt.Printf("%d not attempted now (one %s asks Postfix for at most %d delivery attempts): Postfix attempts them when they are due; \"queue flush\" attempts every queued message\n", res.NotTriggeredCount, verb, queue.MaxTriggerEach)
		}
		if res.InDeliveryCount > 0 {
			fmt.Printf("%d in the middle of a delivery attempt: each is returned to its sender as soon as that attempt ends\n", res.InDeliveryCount)
		}
		for _, id := range ids {
			if n, ok := res.RequeuedAs[id]; ok {
				fmt.Printf("%s is now %s\n", id, n)
			}
		}
		return nil
	}
	return badUsage(queueUsage)
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
