package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"postdeck/queue"
)

const spfUsage = `usage: postdeck spf list | refresh NAME | remove NAME
       postdeck spf add DOMAIN [--map NAME] [--schedule CRON] [--value ACTION]`

func cmdSPF(args []string) error {
	if len(args) == 0 {
		return badUsage(spfUsage)
	}
	fs := flag.NewFlagSet("spf", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	mapName := fs.String("map", "", "spf add: the map's name (default: the domain)")
	schedule := fs.String("schedule", "", "spf add: when to refresh, a cron spec in UTC (default: daily at a random minute)")
	value := fs.String("value", "", "spf add: the result for listed networks (default: OK)")
	if err := parseCommand(fs, "spf "+args[0], args[1:]); err != nil {
		return err
	}
	c := newClient(*socket, *jsonOut)
	switch args[0] {
	case "list":
		var res struct {
			Items []struct {
				Domain      string    `json:"domain"`
				Map         string    `json:"map"`
				Schedule    string    `json:"schedule"`
				LastRun     time.Time `json:"last_run"`
				LastSuccess time.Time `json:"last_success"`
				PrefixCount int       `json:"prefix_count"`
				LastError   string    `json:"last_error"`
			} `json:"items"`
		}
		raw, err := c.do("GET", "/api/v1/jobs/spf", nil, &res)
		if err != nil || c.json {
			return jsonOr(raw, err)
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "MAP\tDOMAIN\tSCHEDULE\tPREFIXES\tLAST RUN\tLAST SUCCESS\tLAST ERROR")
		for _, it := range res.Items {
			// The last error quotes the domain's DNS, a stranger's
			// records: shown as queue list shows a sender (queue.Readable).
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", it.Map, it.Domain, it.Schedule, it.PrefixCount, when(it.LastRun), when(it.LastSuccess), queue.Readable(it.LastError))
		}
		return w.Flush()
	case "refresh":
		if fs.NArg() != 1 {
			return badUsage(spfUsage)
		}
		var res struct {
			Outcome     string   `json:"outcome"`
			Error       string   `json:"error"`
			PrefixCount int      `json:"prefix_count"`
			Added       []string `json:"added"`
			Removed     []string `json:"removed"`
		}
		raw, err := c.do("POST", "/api/v1/jobs/spf/"+url.PathEscape(fs.Arg(0))+"/refresh", nil, &res)
		if err != nil {
			return err
		}
		// --json prints the answer, and a failed refresh still exits 1:
		// a script reads the exit code, as without --json.
		if err := c.printAnswer(raw, fmt.Sprintf("%s: %s, %d prefixes (+%d -%d)", fs.Arg(0), res.Outcome, res.PrefixCount, len(res.Added), len(res.Removed))); err != nil {
			return err
		}
		if res.Error != "" {
			// The error says what Postfix goes on reading (kept the live
			// map, or the map stays empty).
			return fmt.Errorf("the refresh failed: %s", queue.Readable(res.Error))
		}
		return nil
	case "add":
		if fs.NArg() != 1 {
			return badUsage(spfUsage)
		}
		in := map[string]string{"domain": fs.Arg(0), "map": *mapName, "schedule": *schedule, "value": *value}
		var res struct {
			Source struct {
				Map      string `json:"map"`
				Schedule string `json:"schedule"`
			} `json:"source"`
			Refresh struct {
				Outcome     string `json:"outcome"`
				Error       string `json:"error"`
				PrefixCount int    `json:"prefix_count"`
			} `json:"refresh"`
		}
		raw, err := c.do("POST", "/api/v1/jobs/spf", in, &res)
		if err != nil {
			return err
		}
		if err := c.printAnswer(raw, fmt.Sprintf("added %s (schedule %q); first refresh: %s, %d prefixes", res.Source.Map, res.Source.Schedule, res.Refresh.Outcome, res.Refresh.PrefixCount)); err != nil {
			return err
		}
		if res.Refresh.Error != "" {
			return fmt.Errorf("the source was added, but its first refresh failed: %s", queue.Readable(res.Refresh.Error))
		}
		return nil
	case "remove":
		if fs.NArg() != 1 {
			return badUsage(spfUsage)
		}
		raw, err := c.do("DELETE", "/api/v1/jobs/spf/"+url.PathEscape(fs.Arg(0)), nil, nil)
		if err != nil || c.json {
			return jsonOr(raw, err)
		}
		fmt.Printf("removed the source of %s; the map stays, now edited by administrators\n", fs.Arg(0))
		return nil
	}
	return badUsage(spfUsage)
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04")
}
