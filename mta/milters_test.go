package mta

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"postdeck/postfix/postfixtest"
)

// TestParseMilters: a milter list is addresses separated by commas or
// white space, each alone or in a { } group with its own default_action.
func TestParseMilters(t *testing.T) {
	got := parseMilters("smtpd_milters", "inet:127.0.0.1:8891, unix:/run/opendkim/opendkim.sock\n  { inet:[::1]:11332, connect_timeout=10s, default_action = accept },inet:localhost:8893", "tempfail")
	want := []milterSpec{
		{Param: "smtpd_milters", Addr: "inet:127.0.0.1:8891", Action: "tempfail"},
		{Param: "smtpd_milters", Addr: "unix:/run/opendkim/opendkim.sock", Action: "tempfail"},
		{Param: "smtpd_milters", Addr: "inet:[::1]:11332", Action: "accept"},
		{Param: "smtpd_milters", Addr: "inet:localhost:8893", Action: "tempfail"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("milters:\n got %+v\nwant %+v", got, want)
	}
	if got := parseMilters("smtpd_milters", "", "tempfail"); len(got) != 0 {
		t.Errorf("an empty list holds %+v", got)
	}
	// Only milters on a loopback address, localhost or a socket are
	// tried: another address or a name is not connected to (nor looked
	// up). 0.0.0.0 stands for another address here; tried, it would
	// reach this machine, where nothing listens on the port.
	other := "inet:0.0.0.0:" + strconv.Itoa(postfixtest.FreePort(t))
	for _, addr := range []string{other, "inet:nonsense", "tcp:x"} {
		if why := milterUnreachable(context.Background(), addr, t.TempDir()); why != "" {
			t.Errorf("%s was tried: %s", addr, why)
		}
	}
}

// TestMilterThatDoesNotAnswerIsWarned: smtpd_milters naming a milter that
// does not run was applied without a word, and smtpd then answered every
// client "451 4.7.1 Service unavailable - try again later". The apply
// now connects to each milter and warns about each that does not answer,
// with what Postfix does meanwhile (its default_action); the change is
// applied (a milter may start after it). Once the milters listen, the
// warnings are gone.
func TestMilterThatDoesNotAnswerIsWarned(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	port := strconv.Itoa(postfixtest.FreePort(t))
	inet := "inet:127.0.0.1:" + port
	socket := filepath.Join(env.inst.QueueDir(), "private", "nodkim")
	doc := DefaultMainConfig + "smtpd_milters = " + inet + ", { unix:private/nodkim, default_action=accept }\n" +
		"non_smtpd_milters = " + inet + "\n"
	res, err := env.m.SaveMainConfig(ctx, "tester", doc, "", ApplyOptions{})
	if err != nil {
		t.Fatalf("a configuration whose milters do not run yet was refused: %v", err)
	}
	for _, want := range []string{
		"Milter " + inet + ` (smtpd_milters) does not answer (connection refused): until it does, Postfix's smtpd answers every client "451 4.7.1 Service unavailable - try again later", so all mail from outside waits at its senders (default_action tempfail).`,
		"Milter unix:private/nodkim (smtpd_milters) does not answer (there is no socket " + socket + "): until it does, Postfix passes that mail without it (default_action accept).",
		"Milter " + inet + " (non_smtpd_milters) does not answer (connection refused): until it does, Postfix defers the mail submitted on this machine (default_action tempfail).",
	} {
		if !containsString(res.Warnings, want) {
			t.Errorf("warnings %q lack %q", res.Warnings, want)
		}
	}
	// What the warning says is what a client meets.
	c, err := smtp.Dial(env.smtp)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Mail("sender@example.net", nil)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 || !strings.Contains(se.Message, "Service unavailable - try again later") {
		t.Errorf("MAIL FROM with the milter down: %v", err)
	}
	_ = c.Close()

	// With milter_default_action = reject, smtpd greets every client
	// with 554: the serve check refuses the change and rolls it back, as
	// for any listener that does not serve.
	_, err = env.m.SaveMainConfig(ctx, "tester", doc+"milter_default_action = reject\n", "", ApplyOptions{})
	var ae *ApplyError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "554") || !strings.Contains(err.Error(), "connect to Milter service "+inet) {
		t.Errorf("smtpd milters down with default_action reject: %v", err)
	}
	// A milter of mail submitted on this machine with reject is warned
	// about as such.
	res, err = env.m.SaveMainConfig(ctx, "tester", DefaultMainConfig+"non_smtpd_milters = "+inet+"\nmilter_default_action = reject\n", "", ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Milter " + inet + " (non_smtpd_milters) does not answer (connection refused): until it does, Postfix rejects that mail (default_action reject)."; !containsString(res.Warnings, want) {
		t.Errorf("warnings %q lack %q", res.Warnings, want)
	}

	// The milters listen: no warning.
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	un, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer un.Close()
	for _, l := range []net.Listener{ln, un} {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_ = c.Close()
			}
		}()
	}
	res, err = env.m.SaveMainConfig(ctx, "tester", doc, "", ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		if strings.Contains(w, "Milter") {
			t.Errorf("a milter that listens was warned about: %s", w)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
