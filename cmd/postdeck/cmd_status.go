package main

import (
	"flag"
	"fmt"

	"postdeck/queue"
)

func cmdStatus(args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	if err := parseCommand(fs, "status", args); err != nil {
		return err
	}
	c := newClient(*socket, *jsonOut)
	var st struct {
		PostfixRunning bool   `json:"postfix_running"`
		PostfixVersion string `json:"postfix_version"`
		LastApply      struct {
			Time    string `json:"time"`
			Actor   string `json:"actor"`
			Action  string `json:"action"`
			Result  string `json:"result"`
			Message string `json:"message"`
		} `json:"last_apply"`
		// Problems are the parts the daemon could not read (the queue,
		// the MPA's counts), one sentence each: the rest is still shown.
		Problems []string `json:"problems"`
	}
	raw, err := c.do("GET", "/api/v1/status", nil, &st)
	if err != nil {
		return err
	}
	if c.json {
		return printJSON(raw)
	}
	running := "stopped"
	if st.PostfixRunning {
		running = "running"
	}
	fmt.Printf("postfix:     %s (version %s)\n", running, st.PostfixVersion)
	// The message is Postfix's words, which quote the configuration
	// (values another administrator typed, a map's lines): shown as the
	// console shows them (queue.Readable).
	fmt.Printf("last apply:  %s %s by %s at %s: %s\n", st.LastApply.Action, st.LastApply.Result, st.LastApply.Actor, st.LastApply.Time, queue.Readable(st.LastApply.Message))
	for _, p := range st.Problems {
		fmt.Printf("problem:     %s\n", p)
	}
	return nil
}
