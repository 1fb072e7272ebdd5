package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"
)

func cmdAdmin(args []string) error {
	if len(args) < 2 || (args[0] != "add" && args[0] != "passwd") {
		return fmt.Errorf("usage: postdeck admin add USER [--role admin|operator|auditor] | passwd USER (password from the terminal or standard input)")
	}
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	role := fs.String("role", "admin", "the user's role (admin add)")
	if err := parseArgs(fs, args[2:]); err != nil {
		return err
	}
	password, err := readPassword()
	if err != nil {
		return err
	}
	c := newClient(*socket, *jsonOut)
	body := map[string]string{"username": args[1], "password": password, "role": *role}
	raw, err := c.do("POST", "/api/v1/users", body, nil)
	if err != nil {
		return err
	}
	if c.json {
		return printJSON(raw)
	}
	fmt.Printf("user %s saved\n", args[1])
	return nil
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
