package main

import (
	"errors"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"postdeck/admin"
	"postdeck/mta"
	"postdeck/store"
)

func cmdSettings(args []string) error {
	if len(args) == 0 {
		return badUsage("usage: postdeck settings get | set [--force] [--confirm] KEY=VALUE")
	}
	fs := flag.NewFlagSet("settings", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	force := fs.Bool("force", false, "set: save even when the settings changed since they were read")
	confirm := fs.Bool("confirm", false, "set: apply risky values (a wide public network in my_networks, a size limit under 1 MiB, no relay domain left)")
	if err := parseCommand(fs, "settings "+args[0], args[1:]); err != nil {
		return err
	}
	c := newClient(*socket, *jsonOut)
	var cur map[string]any
	raw, err := c.do("GET", "/api/v1/settings", nil, &cur)
	if err != nil {
		return err
	}
	switch args[0] {
	case "get":
		if c.json {
			return printJSON(raw)
		}
		delete(cur, "version")
		printSettings(cur)
		return nil
	case "set":
		version, _ := cur["version"].(string)
		delete(cur, "version")
		if fs.NArg() == 0 {
			return badUsage(fmt.Sprintf("usage: postdeck settings set KEY=VALUE... (keys: %s)", strings.Join(sortedKeys(cur), ", ")))
		}
		for _, kv := range fs.Args() {
			key, value, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("%q: expected KEY=VALUE", kv)
			}
			old, known := cur[key]
			if !known {
				return unknownSetting(key, sortedKeys(cur))
			}
			v, err := convertSetting(old, value)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			cur[key] = v
		}
		if !*force {
			cur["version"] = version // refused if someone saved between our read and write
		}
		if *confirm {
			cur["confirm"] = true
		}
		return c.change("PUT", "/api/v1/settings", cur)
	}
	return badUsage("usage: postdeck settings get | set [--force] [--confirm] KEY=VALUE")
}

// unknownSetting refuses a key the settings do not have, as typed wrong
// (exit 2, nothing sent), with the key meant: the one that sets Postfix's
// parameter of that name (an administrator types mynetworks), or the
// nearest (my_netwroks).
func unknownSetting(key string, keys []string) error {
	hint := ""
	if fields := mta.SettingFields(key); len(fields) > 0 {
		hint = fmt.Sprintf(": Postfix's %s is %s here", strings.ToLower(key), strings.Join(fields, " and "))
	} else if near := store.Nearest(strings.ToLower(key), keys); near != "" {
		hint = fmt.Sprintf(": did you mean %s?", near)
	}
	return badUsage(fmt.Sprintf("unknown setting %q%s (keys: %s)", key, hint, strings.Join(keys, ", ")))
}

// convertSetting parses value into the JSON type of the current value:
// lists are comma-separated (as Postfix splits them: a table's braces,
// unionmap:{...}, stay whole), booleans true/false, numbers decimal.
func convertSetting(old any, value string) (any, error) {
	switch old.(type) {
	case []any, nil:
		return append([]string{}, admin.SplitList(value)...), nil
	case bool:
		// Postfix writes its booleans yes and no; the API's JSON has
		// true and false. Either is taken.
		switch strings.ToLower(strings.TrimSpace(value)) {
		case "true", "yes":
			return true, nil
		case "false", "no":
			return false, nil
		}
		return nil, fmt.Errorf("%q is neither true nor false (yes or no)", value)
	case float64:
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("%q is too large a number", value)
		}
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", value)
		}
		return n, nil
	}
	return value, nil
}

func printSettings(m map[string]any) {
	for _, k := range sortedKeys(m) {
		v := m[k]
		if list, ok := v.([]any); ok {
			parts := make([]string, len(list))
			for i, x := range list {
				parts[i] = fmt.Sprint(x)
			}
			v = strings.Join(parts, ",")
		}
		if f, ok := v.(float64); ok {
			v = strconv.FormatInt(int64(f), 10)
		}
		fmt.Printf("%s=%v\n", k, v)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
