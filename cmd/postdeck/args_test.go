package main

import (
	"bytes"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseArgsTakesFlagsAnywhere(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		mp   string
		json bool
	}{
		{[]string{"DOMAIN", "--map", "x"}, []string{"DOMAIN"}, "x", false},
		{[]string{"--map", "x", "DOMAIN"}, []string{"DOMAIN"}, "x", false},
		{[]string{"a", "--json", "b", "--map=y", "c"}, []string{"a", "b", "c"}, "y", true},
		{[]string{"a", "--", "--map", "z"}, []string{"a", "--map", "z"}, "", false},
		{nil, nil, "", false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		mp := fs.String("map", "", "")
		js := fs.Bool("json", false, "")
		if err := parseArgs(fs, tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if !slices.Equal(fs.Args(), tc.pos) || *mp != tc.mp || *js != tc.json {
			t.Errorf("%v: args %v map %q json %v", tc.args, fs.Args(), *mp, *js)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := parseArgs(fs, []string{"a", "--nope"}); err == nil {
		t.Error("an unknown flag after a positional argument was accepted")
	}
}

func TestServeTableDirs(t *testing.T) {
	f, err := parseServeFlags([]string{"--table-dirs", "/srv/tables, /etc/postfix-extra/,", "--data", "/var/lib/postdeck"})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.tableDirs) != 2 || f.tableDirs[0] != "/srv/tables" || f.tableDirs[1] != "/etc/postfix-extra" {
		t.Fatalf("table dirs %q", f.tableDirs)
	}
	if f, err = parseServeFlags(nil); err != nil || len(f.tableDirs) != 0 {
		t.Fatalf("default table dirs %q, %v", f.tableDirs, err)
	}
}

// TestPrivatePostfixNeedsItsOwnConfig: --private-postfix without
// --postfix-config would make the system's /etc/postfix the private
// instance's (its main.cf replaced, /etc/spool and /etc/data made).
func TestPrivatePostfixNeedsItsOwnConfig(t *testing.T) {
	for _, args := range [][]string{
		{"--private-postfix", "--data", "/tmp/x/data"},
		{"--private-postfix", "--postfix-config", "/etc/postfix/"},
		{"--private-postfix", "--postfix-config", "/etc/../etc/postfix"},
	} {
		_, err := parseServeFlags(args)
		if err == nil || !strings.Contains(err.Error(), "--private-postfix needs --postfix-config") {
			t.Errorf("%q: %v, want the refusal", args, err)
		}
	}
	f, err := parseServeFlags([]string{"--private-postfix", "--postfix-config", "/tmp/x/postfix/etc", "--data", "/tmp/x/data"})
	if err != nil || !f.private || f.postfixConfig != "/tmp/x/postfix/etc" {
		t.Fatalf("%+v %v", f, err)
	}
	if _, err := parseServeFlags(nil); err != nil {
		t.Fatalf("the system's instance: %v", err)
	}
}

// TestServeReadsPostfixUnit: --postfix-unit, or POSTDECK_POSTFIX_UNIT from
// /etc/default/postdeck, names the unit serve starts and stops Postfix
// through; none by default.
func TestServeReadsPostfixUnit(t *testing.T) {
	if f, err := parseServeFlags(nil); err != nil || f.postfixUnit != "" {
		t.Fatalf("default: %q %v, want none", f.postfixUnit, err)
	}
	if f, err := parseServeFlags([]string{"--postfix-unit", "postfix.service"}); err != nil || f.postfixUnit != "postfix.service" {
		t.Fatalf("flag: %q %v", f.postfixUnit, err)
	}
	t.Setenv("POSTDECK_POSTFIX_UNIT", "postfix@-.service")
	if f, err := parseServeFlags(nil); err != nil || f.postfixUnit != "postfix@-.service" {
		t.Fatalf("environment: %q %v", f.postfixUnit, err)
	}
}

// TestUnreadableMaillogIsSaid: a system Postfix whose log the MPA cannot
// read (Debian 12 without a syslog daemon has no /var/log/mail.log) is
// said at start with the way out; a readable one is not.
func TestUnreadableMaillogIsSaid(t *testing.T) {
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	missing := filepath.Join(t.TempDir(), "mail.log")
	warnUnreadableMaillog(log, missing)
	if !strings.Contains(logged.String(), "apt install rsyslog") || !strings.Contains(logged.String(), missing) {
		t.Errorf("no warning for a missing maillog:\n%s", logged.String())
	}
	logged.Reset()
	if err := os.WriteFile(missing, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	warnUnreadableMaillog(log, missing)
	if logged.Len() != 0 {
		t.Errorf("a warning for a readable maillog:\n%s", logged.String())
	}
}

// TestAPIReferenceHasTheUsage: docs/api.md quotes `postdeck help`
// whole; it lagged behind the commands this binary has (postfix, audit,
// the queue actions' filter) until this test.
func TestAPIReferenceHasTheUsage(t *testing.T) {
	raw, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), strings.TrimSuffix(usage, "\n")) {
		t.Error("docs/api.md does not quote postdeck's usage (const usage in main.go) as it is")
	}
}
