package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"postdeck/store"
)

// usageError is a command typed wrong: an unknown sub-command, an
// argument too many or too few, an unknown flag. main says it and exits
// 2, as for an unknown command, so that a script tells a mistyped line
// (nothing was sent) from an operation the daemon refused or that
// failed (exit 1).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// badUsage is the error of a command typed wrong, saying msg.
func badUsage(msg string) error { return usageError{msg} }

// positional is what a client command takes besides its flags: at least
// min arguments and at most max (many: any number), written as what in
// the sentence that refuses others.
type positional struct {
	min, max int
	what     string
	// hint is where an administrator who gave an argument the command
	// does not take most likely meant to go.
	hint string
}

const many = -1

// commandArgs is every client command's positional arguments, by its
// name with its sub-commands: the one rule parseCommand applies to all
// of them. A command that ignored an argument it does not use did
// something else than what was typed: `queue list ID` printed the whole
// queue, `sendmail --to a@example.org b@example.org` mailed a alone.
var commandArgs = map[string]positional{
	"status": {0, 0, "", ""},

	"postfix start":   {0, 0, "", ""},
	"postfix stop":    {0, 0, "", ""},
	"postfix restart": {0, 0, "", ""},
	"postfix log":     {0, 0, "", ""},
	"audit":           {0, 0, "", "to search: postdeck audit --what TEXT --who NAME --since 2026-12-01"},

	"settings get": {0, 0, "", ""},
	// set says which keys there are when none is given.
	"settings set": {0, many, "KEY=VALUE...", ""},

	"mainconfig get": {0, 0, "", "to save a file: postdeck mainconfig set FILE"},
	"mainconfig set": {1, 1, "FILE", ""},
	"mastercfg get":  {0, 0, "", "to save a file: postdeck mastercfg set FILE"},
	"mastercfg set":  {1, 1, "FILE", ""},

	"maps list":   {0, 0, "", "to see one map: postdeck maps get NAME"},
	"maps get":    {1, 1, "NAME", ""},
	"maps set":    {3, 3, "NAME TYPE FILE", ""},
	"maps delete": {1, 1, "NAME", ""},
	"maps lookup": {2, 2, "NAME KEY", ""},

	"queue list":    {0, 0, "", "to see one message: postdeck queue show ID; to search: postdeck queue list --q TEXT"},
	"queue show":    {1, 1, "ID", ""},
	"queue eml":     {1, 1, "ID", ""},
	"queue flush":   {0, 0, "", "to retry some messages: postdeck queue retry ID..."},
	"queue delete":  {0, many, queueActionArgs, ""},
	"queue bounce":  {0, many, queueActionArgs, ""},
	"queue hold":    {0, many, queueActionArgs, ""},
	"queue release": {0, many, queueActionArgs, ""},
	"queue requeue": {0, many, queueActionArgs, ""},
	"queue retry":   {0, many, queueActionArgs, ""},

	"sendmail": {0, 0, "", "recipients go in --to, comma-separated; the body on standard input"},

	"mpa queue":         {0, 0, "", ""},
	"mpa errors":        {0, 0, "", "to see one entry: postdeck mpa error show ID"},
	"mpa error show":    {1, 1, "ID", ""},
	"mpa error delete":  {0, many, "ID... (or --all)", ""},
	"mpa error requeue": {0, many, "ID... (or --all)", ""},
	"mpa pipeline get":  {0, 0, "", "to save a document: postdeck mpa pipeline set FILE"},
	"mpa pipeline set":  {1, 1, "FILE", ""},

	"spf list":    {0, 0, "", "to refresh one source: postdeck spf refresh NAME"},
	"spf refresh": {1, 1, "NAME", ""},
	"spf add":     {1, 1, "DOMAIN", ""},
	"spf remove":  {1, 1, "NAME", ""},

	"backup":  {1, 1, "FILE", ""},
	"restore": {1, 1, "FILE", ""},

	"token list":   {0, 0, "", ""},
	"token create": {1, 1, "NAME", ""},
	"token revoke": {1, 1, "NAME", ""},

	"admin list":   {0, 0, "", ""},
	"admin add":    {1, 1, "USER", ""},
	"admin passwd": {1, 1, "USER", ""},
	"admin role":   {2, 2, "USER ROLE", ""},
	"admin delete": {1, 1, "USER", ""},

	"cluster status": {0, 0, "", ""},
}

// queueActionArgs is what a queue action takes: ids, or a filter.
const queueActionArgs = "ID... (or - for ids on standard input), or a filter (--queue, --q, --sender, --recipient, --min-age), or --all"

// parseCommand parses the arguments of the client command name ("queue
// list", "mpa error show", "status"): flags wherever they stand
// (parseArgs), then the positional arguments against commandArgs. An
// unknown sub-command, an unknown flag, or arguments the command does
// not take are a usageError naming them, before anything is sent.
func parseCommand(fs *flag.FlagSet, name string, args []string) error {
	want, known := commandArgs[name]
	if !known {
		return unknownCommand(name)
	}
	// The flag package's own words ("flag provided but not defined:
	// -reason") and its list of every flag of the set went to stderr
	// before the error: a page of filter flags for a typo in queue hold.
	fs.SetOutput(io.Discard)
	if err := parseArgs(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Println(strings.TrimSpace("usage: postdeck " + name + " [flags] " + want.what))
			fmt.Println("flags:")
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			return errHelped
		}
		return flagError(name, err)
	}
	n := fs.NArg()
	switch {
	case want.max != many && n > want.max:
		extra := fs.Args()[want.max:]
		msg := fmt.Sprintf("unexpected argument %q: %s takes ", extra[0], name)
		if want.max == 0 {
			msg += "no argument"
		} else {
			msg += want.what
		}
		if want.hint != "" {
			msg += " (" + want.hint + ")"
		}
		return badUsage(msg + "; nothing was done")
	case n < want.min:
		return badUsage(fmt.Sprintf("missing argument: postdeck %s %s; nothing was done", name, want.what))
	}
	return nil
}

// errHelped is what a command returns after printing its help (-h):
// main exits 0 without saying more.
var errHelped = errors.New("help printed")

// flagError says a flag the command refused, with the command's name
// and the flag as typed (--name): parseArgs takes flags anywhere, so
// `queue hold ID --reason x` names a flag queue hold does not have.
func flagError(name string, err error) error {
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return badUsage(fmt.Sprintf("%s has no flag --%s; nothing was done", name, strings.TrimLeft(f, "-")))
	}
	if f, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return badUsage(fmt.Sprintf("flag --%s of %s needs a value; nothing was done", strings.TrimLeft(f, "-"), name))
	}
	return badUsage(fmt.Sprintf("%s: %s; nothing was done", name, msg))
}

// unknownCommand is the error of a sub-command commandArgs does not
// have: name's last word under the words before it ("queue lsit"), or
// a command that needs a sub-command and got none ("mpa error").
func unknownCommand(name string) error {
	parent, typed, _ := cutLast(name)
	if subs := subcommands(name); len(subs) > 0 {
		return badUsage(fmt.Sprintf("%s needs a command: %s", name, strings.Join(subs, ", ")))
	}
	subs := subcommands(parent)
	if strings.HasPrefix(typed, "-") {
		// `postdeck queue --json list`: the command comes first.
		return badUsage(fmt.Sprintf("%s needs a command before its flags: %s", parent, strings.Join(subs, ", ")))
	}
	msg := fmt.Sprintf("unknown command %q", typed)
	if near := store.Nearest(typed, subs); near != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", near)
	}
	return badUsage(fmt.Sprintf("%s; the commands of %s: %s", msg, parent, strings.Join(subs, ", ")))
}

// cutLast splits name at its last space.
func cutLast(name string) (string, string, bool) {
	i := strings.LastIndexByte(name, ' ')
	if i < 0 {
		return "", name, false
	}
	return name[:i], name[i+1:], true
}

// subcommands are the words that follow parent in commandArgs, sorted.
func subcommands(parent string) []string {
	var subs []string
	for k := range commandArgs {
		if rest, ok := strings.CutPrefix(k, parent+" "); ok {
			w, _, _ := strings.Cut(rest, " ")
			if !slices.Contains(subs, w) {
				subs = append(subs, w)
			}
		}
	}
	slices.Sort(subs)
	return subs
}
