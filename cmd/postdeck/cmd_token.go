package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"text/tabwriter"
	"time"
)

const tokenUsage = `usage: postdeck token COMMAND
  list                                          the API's bearer tokens (never their secrets)
  create NAME --role ROLE [--expires WHEN]      a token (role: admin, operator or auditor); prints its secret, once
                                                WHEN: 90d, 12h, 30m, a date 2027-01-31 (to the end of that day, UTC)
                                                or an RFC 3339 time; default: never
  revoke NAME                                   revoke a token: requests with it fail from now on
Tokens made here belong to root; tokens made in the console belong to their
user and are capped by that user's role and revoked with the user.`

func cmdToken(args []string) error {
	if len(args) < 1 {
		return badUsage(tokenUsage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("token "+sub, flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	var role, expires string
	if sub == "create" {
		fs.StringVar(&role, "role", "", "the token's role: admin, operator or auditor (required)")
		fs.StringVar(&expires, "expires", "", "when the token stops working: 90d, 12h, 2027-01-31, ... (default: never)")
	}
	if err := parseCommand(fs, "token "+sub, args[1:]); err != nil {
		return err
	}
	rest := fs.Args()
	c := newClient(*socket, *jsonOut)
	switch sub {
	case "list":
		return tokenList(c)
	case "revoke":
		raw, err := c.do("DELETE", "/api/v1/tokens/"+url.PathEscape(rest[0]), nil, nil)
		if err != nil || c.json {
			return jsonOr(raw, err)
		}
		fmt.Printf("token %s revoked\n", rest[0])
		return nil
	}
	if role == "" {
		return fmt.Errorf("token create needs --role admin|operator|auditor")
	}
	var res struct {
		Token string `json:"token"`
	}
	raw, err := c.do("POST", "/api/v1/tokens", map[string]string{"name": rest[0], "role": role, "expires": expires}, &res)
	if err != nil || c.json {
		return jsonOr(raw, err)
	}
	fmt.Println(res.Token)
	return nil
}

func tokenList(c *client) error {
	var tokens []struct {
		Name     string     `json:"name"`
		Role     string     `json:"role"`
		Owner    string     `json:"owner"`
		Created  time.Time  `json:"created"`
		Expires  *time.Time `json:"expires"`
		LastUsed *time.Time `json:"last_used"`
		Expired  bool       `json:"expired"`
	}
	raw, err := c.do("GET", "/api/v1/tokens", nil, &tokens)
	if err != nil || c.json {
		return jsonOr(raw, err)
	}
	at := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04")
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOKEN\tROLE\tOWNER\tCREATED\tEXPIRES\tLAST USED")
	for _, t := range tokens {
		owner := t.Owner
		if owner == "" {
			owner = "root"
		}
		exp := at(t.Expires)
		if t.Expired {
			exp += " (expired)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Role, owner, t.Created.UTC().Format("2006-01-02 15:04"), exp, at(t.LastUsed))
	}
	return w.Flush()
}
