package mta

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestSASLKeyThatPostfixDoesNotLookUpIsRefused: credentials for the relay
// host under a spelling Postfix does not look up ("127.0.0.1:PORT" for
// the relay host [127.0.0.1]:PORT) were saved, Postfix sent no AUTH, and
// the relay host's "530 5.7.0 Authentication required" bounced every
// message. Such a key is refused on its line, and so is a relay host
// change that leaves the credentials behind; the spelling of the relay
// host, or its host name, is taken, and then the mail goes out with AUTH.
func TestSASLKeyThatPostfixDoesNotLookUpIsRefused(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	sink := postfixtest.NewAuthSink(t, "gw", "s3cret-pass")
	port := strconv.Itoa(sink.Port)
	relay := "[127.0.0.1]:" + port
	settings := store.DefaultSettings()
	settings.ExternalRelayHost = relay
	if _, err := env.m.SaveSettings(ctx, "tester", settings, "", ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	putSASL := func(content string) error {
		_, err := env.m.PutMap(ctx, "tester", store.Map{Name: MapSASLPasswords, Type: "hash", Content: content}, "")
		return err
	}
	wrong := "127.0.0.1:" + port
	refusedField(t, env, FieldMapContent, 2, "Postfix looks up the credentials of the relay host "+relay+" as \""+relay+"\" (as the MTA Settings page writes it) or as the host name of the server it reaches, never as \""+wrong+"\"", func() error {
		return putSASL("[other.example.net]:587 x:y\n" + wrong + " gw:s3cret-pass\n")
	})

	// What Postfix does with it: the map put live behind postdeck's back.
	src := env.inst.MapPath("hash", MapSASLPasswords)
	if err := os.WriteFile(src, []byte(wrong+" gw:s3cret-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := env.m.Postfix().Run(ctx, nil, "postmap", "hash:"+src); err != nil {
		t.Fatalf("postmap: %v %s", err, stderr)
	}
	logStart := env.m.maillogSize()
	sendPlain(t, env.smtp, "a@example.org", "user@outside.example", "Subject: unauthenticated\r\n\r\nhi\r\n")
	waitLog(t, env, logStart, "Authentication required", 30*time.Second)
	if sink.Count() != 0 {
		t.Fatalf("the relay host took %d messages without a login", sink.Count())
	}

	// The spelling of the relay host is taken, and the mail goes out.
	if err := putSASL(relay + " gw:s3cret-pass\n"); err != nil {
		t.Fatalf("the relay host's own spelling: %v", err)
	}
	sendPlain(t, env.smtp, "a@example.org", "user@outside.example", "Subject: authenticated\r\n\r\nhi\r\n")
	// (The first message's bounce may go out too, now that it can.)
	waitSinkSubject(t, env, sink, "authenticated", "the relay host did not get the message after the login")
	// So is the host name alone.
	if err := putSASL("127.0.0.1 gw:s3cret-pass\n"); err != nil {
		t.Fatalf("the host name: %v", err)
	}

	// A relay host change that leaves the credentials behind.
	if err := putSASL(relay + " gw:s3cret-pass\n"); err != nil {
		t.Fatal(err)
	}
	moved := settings
	moved.ExternalRelayHost = "[127.0.0.1]:" + strconv.Itoa(postfixtest.FreePort(t))
	refusedField(t, env, FieldExternalRelay, 0, "External Relay Host "+moved.ExternalRelayHost+": map smtp-sasl-password_maps has its credentials under "+relay+".", func() error {
		_, err := env.m.SaveSettings(ctx, "tester", moved, "", ApplyOptions{})
		return err
	})
}

// TestSASLKeyMiss: which spellings of a relay host's key Postfix looks
// up.
func TestSASLKeyMiss(t *testing.T) {
	for _, c := range []struct {
		key, relay string
		miss       bool
	}{
		{"[smtp.example.com]:587", "[smtp.example.com]:587", false},
		{"[SMTP.example.com]:587", "[smtp.example.com]:587", false},
		{"smtp.example.com", "[smtp.example.com]:587", false},
		{"smtp.example.com:587", "[smtp.example.com]:587", true},
		{"[smtp.example.com]", "[smtp.example.com]:587", true},
		{"[smtp.example.com]:25", "[smtp.example.com]:587", true},
		{"example.com:587", "example.com:587", false},
		{"[example.com]:587", "example.com:587", true},
		{"[other.example.com]:587", "[smtp.example.com]:587", false},
		{"@example.org", "[smtp.example.com]:587", false},
		{"[smtp.example.com]:587", "", false},
	} {
		if got := saslKeyMiss(c.key, c.relay) != ""; got != c.miss {
			t.Errorf("key %q for relay %q: miss %v, want %v", c.key, c.relay, got, c.miss)
		}
	}
}
