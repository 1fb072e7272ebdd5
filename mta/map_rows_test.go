package mta

import (
	"errors"
	"testing"

	"postdeck/store"
)

func TestMapRows(t *testing.T) {
	content := "# partners\na.example smtp:[a]\n\nb.example\n  smtp:[b]:25\nc.example relay:\n"
	rows := MapRows("hash", content)
	if len(rows) != 3 || rows[1].Line != 4 || rows[1].EndLine != 5 || rows[1].Key != "b.example" || rows[1].Value != "smtp:[b]:25" {
		t.Fatalf("rows %+v", rows)
	}
	re := MapRows("pcre", "IF /^a/\n/^a b$/i REJECT spaces\nENDIF\n")
	if len(re) != 3 || !re[0].Cond || re[1].Key != "/^a b$/i" || re[1].Value != "REJECT spaces" {
		t.Fatalf("pcre rows %+v", re)
	}
	for _, tc := range []struct {
		op         string
		line       int
		key, value string
		want       string
	}{
		{RowReplace, 4, "b.example", "smtp:[new]", "# partners\na.example smtp:[a]\n\nb.example smtp:[new]\nc.example relay:\n"},
		{RowDelete, 2, "", "", "# partners\n\nb.example\n  smtp:[b]:25\nc.example relay:\n"},
		{RowAdd, 0, "d.example", "discard:", content + "d.example discard:\n"},
		{RowAdd, 6, "z.example", "error:", "# partners\na.example smtp:[a]\n\nb.example\n  smtp:[b]:25\nz.example error:\nc.example relay:\n"},
	} {
		got, err := EditMapRows("hash", content, tc.op, tc.line, tc.key, tc.value)
		if err != nil || got != tc.want {
			t.Errorf("%s %d: %q %v, want %q", tc.op, tc.line, got, err, tc.want)
		}
	}
	var ue *store.UserError
	if _, err := EditMapRows("hash", content, RowReplace, 3, "x", "y"); !errors.As(err, &ue) || !errors.Is(err, store.ErrConflict) {
		t.Errorf("a blank line is no rule: %v", err)
	}
	if _, err := EditMapRows("hash", content, RowAdd, 0, "a\nb", "c"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a key with a line break: %v", err)
	}
}
