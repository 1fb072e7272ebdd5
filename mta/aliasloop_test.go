package mta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"postdeck/store"
)

// TestAliasLoop: loops through addresses and catch-alls are found on the
// line that closes them; an address that expands to itself, a chain that
// ends, and a domain key are not loops; a chain longer than Postfix's
// recursion limit is refused as cleanup refuses it.
func TestAliasLoop(t *testing.T) {
	for _, c := range []struct {
		name, content string
		line          int
		loop          string
	}{
		{"two addresses", "a@x.example b@x.example\nb@x.example a@x.example\n", 2, "a@x.example -> b@x.example -> a@x.example is a loop"},
		{"case", "A@X.example b@x.example\nb@x.example a@x.EXAMPLE\n", 2, "a@x.example -> b@x.example -> a@x.example is a loop"},
		{"three, in a list", "a@x.example keep@y.example, b@x.example\nb@x.example c@x.example\nc@x.example a@x.example\n", 3, "a@x.example -> b@x.example -> c@x.example -> a@x.example is a loop"},
		{"through a catch-all", "@x.example a@y.example\na@y.example b@x.example\n", 1, "a@y.example -> b@x.example -> a@y.example is a loop"},
		{"catch-alls only", "@x.example a@y.example\n@y.example b@x.example\n", 1, "a@y.example -> b@x.example -> a@y.example is a loop"},
		{"itself and a copy", "a@x.example a@x.example, archive@y.example\n", 0, ""},
		{"a chain that ends", "a@x.example b@x.example\nb@x.example c@y.example\n", 0, ""},
		{"an exact key before the catch-all", "@x.example b@y.example\nb@y.example real@x.example\nreal@x.example real@x.example\n", 0, ""},
		{"a catch-all to its own domain", "@x.example other@x.example\n", 0, ""},
		{"a domain key", "x.example anything\na@x.example b@y.example\n", 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			entries, lerr := parseTable("hash", c.content, false)
			if lerr != nil {
				t.Fatal(lerr.msg)
			}
			line, loop := aliasLoop(entries)
			if line != c.line || loop != c.loop {
				t.Errorf("aliasLoop = %d %q, want %d %q", line, loop, c.line, c.loop)
			}
		})
	}
	var chain strings.Builder
	for i := range aliasRecursionLimit + 1 {
		fmt.Fprintf(&chain, "a%d@x.example a%d@x.example\n", i, i+1)
	}
	entries, _ := parseTable("hash", chain.String(), false)
	if line, loop := aliasLoop(entries); line != aliasRecursionLimit+1 || loop != "the chain of aliases from a0@x.example is longer than 1000" {
		t.Errorf("a chain of %d: %d %q", aliasRecursionLimit+1, line, loop)
	}
	// A save is refused on the line, a pcre table is not judged.
	mc := newMapContext("", nil)
	err := validateMapContent(store.Map{Name: MapVirtualAlias, Type: "hash", Content: "a@x.example b@x.example\nb@x.example a@x.example\n"}, mc)
	var ue *store.UserError
	if !errors.As(err, &ue) || ue.Field != FieldMapContent || ue.Line != 2 || !strings.Contains(ue.Msg, "a@x.example -> b@x.example -> a@x.example is a loop: Postfix's cleanup would give up on it (\"unreasonable virtual_alias_maps map nesting\") and answer every message to these addresses \"451 4.6.0 Alias expansion error\"") {
		t.Errorf("a loop saved: %v", err)
	}
	if err := validateMapContent(store.Map{Name: MapVirtualAlias, Type: "pcre", Content: "/^a@x\\.example$/ b@x.example\n/^b@x\\.example$/ a@x.example\n"}, mc); err != nil {
		t.Errorf("a pcre table: %v", err)
	}
}

// TestVirtualAliasLoopIsRefused: a save of the virtual alias map that
// makes a loop is refused on its line with the files unchanged; the same
// table put live behind postdeck's back makes smtpd answer every message
// to those addresses "451 4.6.0 Alias expansion error".
func TestVirtualAliasLoopIsRefused(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	loop := "a@loop.example b@loop.example\nb@loop.example a@loop.example\n"
	refusedField(t, env, FieldMapContent, 2, "virtual-alias-maps: a@loop.example -> b@loop.example -> a@loop.example is a loop", func() error {
		_, err := env.m.PutMap(ctx, "tester", store.Map{Name: MapVirtualAlias, Type: "hash", Content: loop}, "")
		return err
	})

	src := env.inst.MapPath("hash", MapVirtualAlias)
	if err := os.WriteFile(src, []byte(loop), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := env.m.Postfix().Run(ctx, nil, "postmap", "hash:"+src); err != nil {
		t.Fatalf("postmap: %v %s", err, stderr)
	}
	c, err := smtp.Dial(env.smtp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.SendMail("x@example.org", []string{"a@loop.example"}, strings.NewReader("Subject: loop\r\n\r\nhi\r\n"))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 6, 0}) || se.Message != "Alias expansion error" {
		t.Fatalf("a message to an address in the loop: %v", err)
	}
}
