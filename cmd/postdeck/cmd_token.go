package main

import (
	"flag"
	"fmt"
)

func cmdToken(args []string) error {
	if len(args) < 2 || args[0] != "create" {
		return fmt.Errorf("usage: postdeck token create NAME [--role admin|operator|auditor]")
	}
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	role := fs.String("role", "admin", "the token's role")
	if err := parseArgs(fs, args[2:]); err != nil {
		return err
	}
	c := newClient(*socket, *jsonOut)
	var res struct {
		Token string `json:"token"`
	}
	raw, err := c.do("POST", "/api/v1/tokens", map[string]string{"name": args[1], "role": *role}, &res)
	if err != nil {
		return err
	}
	if c.json {
		return printJSON(raw)
	}
	fmt.Println(res.Token)
	return nil
}
