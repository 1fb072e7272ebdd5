package main

import (
	"reflect"
	"strings"
	"testing"
)

// TestConvertSetting: settings set turns KEY=VALUE into the JSON type of
// the setting. A boolean takes Postfix's yes and no as well as true and
// false; a word that is neither, a number too large for the API or not
// whole is refused with a sentence that says which, not Go's parse error.
func TestConvertSetting(t *testing.T) {
	for _, c := range []struct {
		old  any
		in   string
		want any
	}{
		{false, "yes", true}, {false, "YES", true}, {true, "no", false}, {true, "false", false}, {false, "True", true},
		{float64(1), "52428800", int64(52428800)}, {float64(1), " 10 ", int64(10)},
		{[]any{}, "a.example, b.example", []string{"a.example", "b.example"}},
		{"", "relay", "relay"},
	} {
		got, err := convertSetting(c.old, c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %#v, want %#v", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		old  any
		in   string
		want string
	}{
		{false, "maybe", `"maybe" is neither true nor false (yes or no)`},
		{false, "", `"" is neither true nor false (yes or no)`},
		{float64(1), "99999999999999999999", `"99999999999999999999" is too large a number`},
		{float64(1), "1.5", `"1.5" is not a whole number`},
		{float64(1), "1e6", `"1e6" is not a whole number`},
	} {
		got, err := convertSetting(c.old, c.in)
		if err == nil || err.Error() != c.want {
			t.Errorf("%q: got %v, %v; want the error %q", c.in, got, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "strconv") {
			t.Errorf("%q: Go's parse error reaches the administrator: %v", c.in, err)
		}
	}
}
