package store

import (
	"strings"
	"testing"
)

// TestNearest: the word meant, within two edits, for a letter left out,
// doubled, swapped or wrong; nothing when no word is that near; and a
// typed string of megabytes is not compared with words of a few letters
// (a key pasted into a request body costs no table of its length).
func TestNearest(t *testing.T) {
	words := []string{"hostname", "my_networks", "relay_domains", "helo_name", "type", "ids"}
	for _, tc := range []struct{ typed, want string }{
		{"hostnmae", "hostname"},
		{"mynetworks", "my_networks"},
		{"my_netwroks", "my_networks"},
		{"relay_domain", "relay_domains"},
		{"Type", "type"},
		{"idz", "ids"},
		{"myhostname", "hostname"},
		{"relayhost", ""},
		{"colour", ""},
		{"", ""},
	} {
		if got := Nearest(tc.typed, words); got != tc.want {
			t.Errorf("Nearest(%q) = %q, want %q", tc.typed, got, tc.want)
		}
	}
	huge := strings.Repeat("k", 1<<20)
	if got := Nearest(huge, words); got != "" {
		t.Errorf("Nearest(1 MiB) = %q", got)
	}
	if n := testing.AllocsPerRun(3, func() { Nearest(huge, words) }); n != 0 {
		t.Errorf("Nearest(1 MiB) allocates %v times: it compared the words", n)
	}
}
