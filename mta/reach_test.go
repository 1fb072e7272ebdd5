package mta

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
		if !slices.Contains(res.Warnings, want) {
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
	if want := "Milter " + inet + " (non_smtpd_milters) does not answer (connection refused): until it does, Postfix rejects that mail (default_action reject)."; !slices.Contains(res.Warnings, want) {
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

// TestPolicyServiceThatDoesNotAnswerIsWarned: a policy service the
// open-relay probe does not reach (after reject_unauth_destination, in
// smtpd_data_restrictions: where postgrey and policyd-spf stand) that
// does not run was applied without a word, and smtpd then answered
// every message "451 4.3.5 Server configuration problem". It is warned
// about as a milter is, with its default_action when it has one; a
// policy service master.cf runs itself is not (master makes its socket).
func TestPolicyServiceThatDoesNotAnswerIsWarned(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	port := strconv.Itoa(postfixtest.FreePort(t))
	inet := "inet:127.0.0.1:" + port
	doc := DefaultMainConfig + "smtpd_data_restrictions = check_policy_service " + inet + "\n" +
		"smtpd_end_of_data_restrictions = check_policy_service { unix:private/greylist, default_action=DUNNO },\n" +
		"    check_policy_service unix:private/policyd-spf\n"
	master := DefaultMasterConfig(env.inst) + "policyd-spf unix - n n - 0 spawn user=nobody argv=/bin/true\n"
	if _, err := env.m.SaveMasterConfig(ctx, "tester", master, ""); err != nil {
		t.Fatal(err)
	}
	res, err := env.m.SaveMainConfig(ctx, "tester", doc, "", ApplyOptions{})
	if err != nil {
		t.Fatalf("a configuration whose policy services do not run yet was refused: %v", err)
	}
	for _, want := range []string{
		"Policy service " + inet + ` (smtpd_data_restrictions) does not answer (connection refused): until it does, Postfix's smtpd answers every client that reaches it "451 4.3.5 Server configuration problem", so that mail waits at its senders.`,
		"Policy service unix:private/greylist (smtpd_end_of_data_restrictions) does not answer (there is no socket " + filepath.Join(env.inst.QueueDir(), "private", "greylist") + "): until it does, Postfix's smtpd acts on every client that reaches it as its default_action DUNNO says.",
	} {
		if !slices.Contains(res.Warnings, want) {
			t.Errorf("warnings %q lack %q", res.Warnings, want)
		}
	}
	for _, w := range res.Warnings {
		if strings.Contains(w, "policyd-spf") {
			t.Errorf("master.cf's own policy service was warned about: %s", w)
		}
	}
	// What the warning says is what a client meets.
	c, err := smtp.Dial(env.smtp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("sender@example.net", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("someone@example.org", nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.Data()
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 || !strings.Contains(se.Message, "Server configuration problem") {
		t.Errorf("DATA with the policy service down: %v", err)
	}
}

// TestPolicyServicesAtStart: at a start with Postfix stopped, no socket
// of master.cf's own services exists yet: a policy service master.cf
// runs (unix:private/policyd-spf, a spawn service) is not warned about,
// one that runs elsewhere and does not answer is.
func TestPolicyServicesAtStart(t *testing.T) {
	env := newUnstartedEnv(t)
	inet := "inet:127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	st := DefaultState(time.Now())
	st.MainConfig += "smtpd_data_restrictions = check_policy_service unix:private/policyd-spf, check_policy_service " + inet + "\n"
	st.MasterConfig = DefaultMasterConfig(env.inst) + "policyd-spf unix - n n - 0 spawn user=nobody argv=/bin/true\n"
	if err := env.db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	res, err := env.m.Start(context.Background())
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool {
		return strings.HasPrefix(w, "Policy service "+inet+" (smtpd_data_restrictions) does not answer")
	}) {
		t.Errorf("start warnings %q lack the policy service that does not run", res.Warnings)
	}
	for _, w := range res.Warnings {
		if strings.Contains(w, "policyd-spf") {
			t.Errorf("master.cf's own policy service was warned about: %s", w)
		}
	}
}

// TestServiceMilterThatDoesNotAnswerIsWarned: an smtpd service's own
// milters and policy services (-o overrides) are tried as main.cf's are,
// with the service's own milter_default_action; a service's address that
// main.cf lists already is told once.
func TestServiceMilterThatDoesNotAnswerIsWarned(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	listener := "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	milter := "inet:127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	policy := "inet:127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	doc := DefaultMasterConfig(env.inst) + listener + " inet n - n - - smtpd\n  -o smtpd_milters=" + milter + "\n  -o milter_default_action=accept\n" +
		"  -o smtpd_client_restrictions=check_policy_service," + policy + "\n"
	res, err := env.m.SaveMasterConfig(ctx, "tester", doc, "")
	if err != nil {
		t.Fatalf("a listener whose milter does not run yet was refused: %v", err)
	}
	for _, want := range []string{
		"Milter " + milter + " (service " + listener + ", -o smtpd_milters) does not answer (connection refused): until it does, Postfix passes that mail without it (default_action accept).",
		"Policy service " + policy + " (service " + listener + ", -o smtpd_client_restrictions) does not answer (connection refused): until it does",
	} {
		if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.HasPrefix(w, want) }) {
			t.Errorf("warnings %q lack %q", res.Warnings, want)
		}
	}
	// main.cf lists the same milter: one warning, main.cf's.
	res, err = env.m.SaveMainConfig(ctx, "tester", DefaultMainConfig+"smtpd_milters = "+milter+"\n", "", ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, w := range res.Warnings {
		if strings.HasPrefix(w, "Milter "+milter+" ") {
			n++
			if !strings.HasPrefix(w, "Milter "+milter+" (smtpd_milters)") {
				t.Errorf("warning %q is not main.cf's", w)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d warnings for the milter, want 1: %q", n, res.Warnings)
	}
}
