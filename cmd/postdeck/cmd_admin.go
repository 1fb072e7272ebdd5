package main

import (
	"bufio"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
)

const adminUsage = `usage: postdeck admin COMMAND
  list                          the console users, their roles and tokens
  add USER --role ROLE          a new user (role: admin, operator or auditor); password from the terminal or stdin
  passwd USER                   set a user's password (the role is kept); password from the terminal or stdin
  role USER ROLE                change a user's role: their sessions end, their tokens are lowered to ROLE
  delete USER                   delete a user: their sessions end, their tokens are revoked
The last administrator can be neither demoted nor deleted.`

func cmdAdmin(args []string) error {
	if len(args) < 1 {
		return badUsage(adminUsage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("admin "+sub, flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	role := ""
	if sub == "add" {
		fs.StringVar(&role, "role", "", "the new user's role: admin, operator or auditor (required)")
	}
	if err := parseCommand(fs, "admin "+sub, args[1:]); err != nil {
		return err
	}
	rest := fs.Args()
	c := newClient(*socket, *jsonOut)
	switch sub {
	case "list":
		return adminList(c)
	case "role":
		var res struct {
			Username string   `json:"username"`
			Role     string   `json:"role"`
			OldRole  string   `json:"old_role"`
			Capped   []string `json:"capped_tokens"`
		}
		raw, err := c.do("PUT", "/api/v1/users/"+url.PathEscape(rest[0])+"/role", map[string]string{"role": rest[1]}, &res)
		if err != nil || c.json {
			return jsonOr(raw, err)
		}
		fmt.Printf("user %s: role %s (was %s)\n", res.Username, res.Role, res.OldRole)
		if len(res.Capped) > 0 {
			fmt.Printf("tokens lowered to %s: %s\n", res.Role, strings.Join(res.Capped, ", "))
		}
		return nil
	case "delete":
		var res struct {
			Username string   `json:"username"`
			Revoked  []string `json:"revoked_tokens"`
		}
		raw, err := c.do("DELETE", "/api/v1/users/"+url.PathEscape(rest[0]), nil, &res)
		if err != nil || c.json {
			return jsonOr(raw, err)
		}
		fmt.Printf("user %s deleted\n", res.Username)
		if len(res.Revoked) > 0 {
			fmt.Printf("tokens revoked: %s\n", strings.Join(res.Revoked, ", "))
		}
		return nil
	}
	// add, passwd
	if sub == "add" && role == "" {
		return fmt.Errorf("admin add needs --role admin|operator|auditor")
	}
	password, err := readPassword()
	if err != nil {
		return err
	}
	body := map[string]string{"username": rest[0], "password": password}
	if role != "" {
		body["role"] = role
	}
	var res struct {
		Role    string `json:"role"`
		Created bool   `json:"created"`
	}
	raw, err := c.do("POST", "/api/v1/users", body, &res)
	if err != nil || c.json {
		return jsonOr(raw, err)
	}
	if res.Created {
		fmt.Printf("user %s created with role %s\n", rest[0], res.Role)
	} else {
		fmt.Printf("password of %s changed; role %s kept\n", rest[0], res.Role)
	}
	return nil
}

func adminList(c *client) error {
	var users []struct {
		Username   string    `json:"username"`
		Role       string    `json:"role"`
		Created    time.Time `json:"created"`
		MustChange bool      `json:"must_change_password"`
		Tokens     int       `json:"tokens"`
	}
	raw, err := c.do("GET", "/api/v1/users", nil, &users)
	if err != nil || c.json {
		return jsonOr(raw, err)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "USER\tROLE\tCREATED\tTOKENS\tNOTE")
	for _, u := range users {
		note := ""
		if u.MustChange {
			note = "one-time password not yet replaced"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", u.Username, u.Role, u.Created.UTC().Format("2006-01-02 15:04"), u.Tokens, note)
	}
	return w.Flush()
}

// readPassword prompts twice on a terminal, or reads one line of stdin.
func readPassword() (string, error) {
	fd := int(os.Stdin.Fd())
	if term.IsTerminal(fd) {
		fmt.Fprint(os.Stderr, "password: ")
		p1, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(os.Stderr, "again: ")
		p2, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", err
		}
		if string(p1) != string(p2) {
			return "", fmt.Errorf("the passwords differ")
		}
		return string(p1), nil
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
