package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"postdeck/admin"
	"postdeck/mpa"
	"postdeck/mta"
	"postdeck/queue"
)

// statusAnswer is what status reads of GET /api/v1/status.
type statusAnswer struct {
	PostfixRunning bool            `json:"postfix_running"`
	PostfixVersion string          `json:"postfix_version"`
	LastApply      mta.ApplyReport `json:"last_apply"`
	// MPA and Queue are absent when they could not be read (a problem
	// says so) or the daemon runs no MPA.
	MPA   *mpa.Counts    `json:"mpa"`
	Queue *queue.Summary `json:"queue"`
	// Problems are the parts the daemon could not read (the queue,
	// the MPA's counts), one sentence each: the rest is still shown.
	Problems []string `json:"problems"`
	// Warnings are the console's banners.
	Warnings []admin.Banner `json:"warnings"`
}

func cmdStatus(args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	if err := parseCommand(fs, "status", args); err != nil {
		return err
	}
	c := newClient(*socket, *jsonOut)
	var st statusAnswer
	raw, err := c.do("GET", "/api/v1/status", nil, &st)
	if err != nil {
		return err
	}
	if c.json {
		if err := printJSON(raw); err != nil {
			return err
		}
	} else {
		printStatus(os.Stdout, st)
	}
	return st.health()
}

// health is the status's exit: nil (exit 0) when it shows no error, an
// error (exit 1) when Postfix is stopped, a console banner is an error
// (the error repository full, a disk nearly full, a certificate expired,
// the cluster failing) or a part could not be read. Warnings alone exit
// 0. A monitoring check runs `postdeck status` and alerts on its exit,
// with --json or without.
func (st statusAnswer) health() error {
	n := len(st.Problems)
	for _, w := range st.Warnings {
		if w.Kind != "error" {
			continue
		}
		n++
	}
	if !st.PostfixRunning && n == 0 {
		n = 1 // the banner says so; an older daemon's answer may not
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("the gateway needs attention: %s above", admin.Plural(n, "error"))
}

// printStatus writes the status as the dashboard shows it, a line per
// part: what an administrator on a terminal needs on a bad day (how much
// mail waits and for which domains, the MPA's backlog and error
// repository, and every banner the console shows).
func printStatus(out io.Writer, st statusAnswer) {
	running := "stopped"
	if st.PostfixRunning {
		running = "running"
	}
	fmt.Fprintf(out, "postfix:     %s (version %s)\n", running, st.PostfixVersion)
	// The message is Postfix's words, which quote the configuration
	// (values another administrator typed, a map's lines): shown as the
	// console shows them (queue.Readable).
	if st.LastApply.Action == "" {
		fmt.Fprintln(out, "last apply:  none yet")
	} else {
		fmt.Fprintf(out, "last apply:  %s %s by %s at %s: %s\n", st.LastApply.Action, st.LastApply.Result, st.LastApply.Actor, st.LastApply.Time.Local().Format("2006-01-02 15:04:05"), queue.Readable(st.LastApply.Message))
	}
	if q := st.Queue; q != nil {
		var parts []string
		for _, c := range q.Queues {
			if c.Count > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", c.Name, c.Count))
			}
		}
		if q.Total.Count == 0 {
			fmt.Fprintln(out, "queue:       empty")
		} else {
			fmt.Fprintf(out, "queue:       %s, %s: %s\n", admin.Plural(q.Total.Count, "message"), admin.SizeText(q.Total.Bytes), strings.Join(parts, ", "))
		}
		// Domain names are the senders' words (a recipient's domain):
		// readable, as in queue list.
		for _, row := range q.Shape {
			fmt.Fprintf(out, "waiting:     %s %s, %s\n", queue.Readable(row.Domain), admin.Plural(row.Total, "recipient"), oldestBucket(row, q.ShapeBucketMinutes))
		}
	}
	if m := st.MPA; m != nil {
		fmt.Fprintf(out, "mpa:         %d in its queue (%d being processed); error repository %d of %d entries, %s of %s",
			m.Spool, m.Processing, m.Errors, m.ErrorQuotaEntries, admin.SizeText(m.ErrorBytes), admin.SizeText(m.ErrorQuotaBytes))
		if m.FreeBytes >= 0 {
			fmt.Fprintf(out, "; %s free for its spool", admin.SizeText(m.FreeBytes))
		}
		fmt.Fprintln(out)
	}
	for _, w := range st.Warnings {
		kind := "warning:"
		if w.Kind == "error" {
			kind = "error:"
		}
		fmt.Fprintf(out, "%-13s%s\n", kind, queue.Readable(w.Text))
	}
	for _, p := range st.Problems {
		fmt.Fprintf(out, "problem:     %s\n", p)
	}
}

// oldestBucket says how old a domain's oldest waiting recipients are,
// by the summary's age buckets (qshape's).
func oldestBucket(row queue.ShapeRow, bounds []int) string {
	for i := len(row.Buckets) - 1; i >= 0; i-- {
		if row.Buckets[i] == 0 {
			continue
		}
		switch {
		case i >= len(bounds) && len(bounds) > 0:
			return "the oldest over " + minutes(bounds[len(bounds)-1])
		case i < len(bounds):
			return "the oldest under " + minutes(bounds[i])
		}
	}
	return "the oldest of unknown age"
}

// minutes writes m minutes as "20 min", "2 h" or "21 h 20 min".
func minutes(m int) string {
	switch {
	case m < 60:
		return fmt.Sprintf("%d min", m)
	case m%60 == 0:
		return fmt.Sprintf("%d h", m/60)
	}
	return fmt.Sprintf("%d h %d min", m/60, m%60)
}
