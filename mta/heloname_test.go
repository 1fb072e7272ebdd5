package mta

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// TestUnresolvableHeloNameWarns: "localhost.localdomain", a machine's
// default name, was saved as My Host Name without a word, and the
// gateway then introduced itself in HELO with a name no DNS resolves.
// The save warns (it is not refused: a gateway that only talks to
// internal servers may mean it), naming the field that gives the name.
func TestUnresolvableHeloNameWarns(t *testing.T) {
	env := newTestEnv(t)
	s := validSettings()
	s.Hostname = "localhost.localdomain"
	res, err := env.m.SaveSettings(context.Background(), "tester", s, "", ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "My Host Name (the HELO name while Helo Name is empty) localhost.localdomain ends in .localdomain, a name no public DNS resolves: mail servers that check the name a client gives in HELO (Postfix's reject_unknown_helo_hostname, several large providers) refuse or mark this gateway's mail. Give the gateway's public name"
	if !slices.Contains(res.Warnings, want) {
		t.Errorf("warnings %q, want %q", res.Warnings, want)
	}
	if got := env.postconf(t, "myhostname"); got != "localhost.localdomain" {
		t.Errorf("myhostname = %q: the warning refused the save", got)
	}
	for _, c := range []struct {
		host, helo, want string
	}{
		{"localhost.localdomain", "mail.example.com", ""},
		{"mail.example.com", "gw.corp.internal", "Helo Name gw.corp.internal ends in .internal"},
		{"gw.example.local", "", "My Host Name (the HELO name while Helo Name is empty) gw.example.local ends in .local,"},
		{"mail.example.com", "[192.0.2.25]", ""},
		{"mail.locality.example", "", ""},
	} {
		s := validSettings()
		s.Hostname, s.HeloName = c.host, c.helo
		_, warnings, err := ValidateSettings(s)
		if err != nil {
			t.Fatalf("%s/%s: %v", c.host, c.helo, err)
		}
		got := ""
		for _, w := range warnings {
			if strings.Contains(w, "no public DNS resolves") {
				got = w
			}
		}
		if (c.want == "") != (got == "") || !strings.HasPrefix(got, c.want) {
			t.Errorf("%s/%s: %q, want %q", c.host, c.helo, got, c.want)
		}
	}
}
