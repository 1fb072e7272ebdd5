package mta

import (
	"strings"

	"postdeck/store"
)

// MapRow is one rule of a map as the console's table view shows it: a
// logical line (continuation lines joined) with its lookup key (or network,
// or /pattern/flags) and its result. IF and ENDIF lines of cidr, pcre and
// regexp tables are rows too, with the whole line as the key.
type MapRow struct {
	Line    int    `json:"line"`     // the rule's first physical line (1-based)
	EndLine int    `json:"end_line"` // its last physical line
	Key     string `json:"key"`
	Value   string `json:"value"`
	Cond    bool   `json:"cond,omitempty"` // an IF or ENDIF line
}

// MapRows splits a map's content into its rules; comments and blank lines
// are not rows (they stay in the content, untouched by row edits).
func MapRows(typ, content string) []MapRow {
	var rows []MapRow
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	if content == "" {
		lines = nil
	}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if line == "" || line[0] == '#' || line[0] == ' ' || line[0] == '\t' {
			continue // a comment, a blank line, or a stray continuation
		}
		text := strings.TrimRight(line, " \t")
		end := i
		for end+1 < len(lines) {
			next := lines[end+1]
			if next == "" || (next[0] != ' ' && next[0] != '\t') {
				break
			}
			trimmed := strings.TrimSpace(next)
			end++
			if trimmed == "" || trimmed[0] == '#' {
				continue
			}
			text += " " + trimmed
		}
		row := MapRow{Line: i + 1, EndLine: end + 1}
		kw, _ := keyword(text)
		switch {
		case typ != "hash" && typ != "btree" && (kw == "IF" || kw == "ENDIF"):
			row.Key, row.Cond = text, true
		case typ == "pcre" || typ == "regexp":
			if pattern, rest, msg := splitPattern(text, typ); msg == "" {
				row.Key, row.Value = pattern, rest
			} else {
				row.Key, row.Value = splitRule(text)
			}
		default:
			row.Key, row.Value = splitRule(text)
		}
		rows = append(rows, row)
		i = end
	}
	return rows
}

// Row edits of EditMapRows.
const (
	RowAdd     = "add"
	RowReplace = "replace"
	RowDelete  = "delete"
)

// EditMapRows applies one row edit to a map's content and returns the new
// content: add appends "key value" (or, before the row at line, inserts
// it), replace puts "key value" in place of the rule at line (its
// continuation lines included), delete removes that rule. The result is
// validated like any map when it is saved.
func EditMapRows(typ, content, op string, line int, key, value string) (string, error) {
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	if op != RowDelete {
		if key == "" {
			return "", store.Invalid("key", "The key is empty")
		}
		if strings.ContainsAny(key+value, "\r\n\x00") {
			return "", store.Invalid("value", "A key or value must be on one line")
		}
	}
	text := key
	if value != "" {
		text += " " + value
	}
	// The line must read back as the rule typed: a hash key with a blank
	// ("a@x b@x") is another key with a longer value, and one starting
	// with '#' a comment; either would be saved without a word.
	if op != RowDelete {
		rows := MapRows(typ, text+"\n")
		if len(rows) != 1 || (rows[0].Cond && rows[0].Key != text) || (!rows[0].Cond && (rows[0].Key != key || rows[0].Value != value)) {
			return "", store.Invalid("key", "The key %q is not one key of a %s map: it holds a blank, or starts with '#' (a comment)", truncate(key, 60), typ)
		}
	}
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	if content == "" {
		lines = nil
	}
	if op == RowAdd && line == 0 {
		return strings.Join(append(lines, text), "\n") + "\n", nil
	}
	var row *MapRow
	for _, r := range MapRows(typ, content) {
		if r.Line == line {
			row = &r
			break
		}
	}
	if row == nil {
		return "", store.Conflict("There is no rule on line %d any more: the map changed; reload it", line)
	}
	var out []string
	out = append(out, lines[:row.Line-1]...)
	switch op {
	case RowAdd:
		out = append(out, text)
		out = append(out, lines[row.Line-1:]...)
	case RowReplace:
		out = append(out, text)
		out = append(out, lines[row.EndLine:]...)
	case RowDelete:
		out = append(out, lines[row.EndLine:]...)
	default:
		return "", store.Invalid("op", "The row edit %q is not add, replace or delete", truncate(op, 20))
	}
	if len(out) == 0 {
		return "", nil
	}
	return strings.Join(out, "\n") + "\n", nil
}
