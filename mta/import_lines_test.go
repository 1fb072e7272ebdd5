package mta

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
)

// importRefusal imports a main.cf written by the test (as importText does)
// and returns the import's error.
func importRefusal(t *testing.T, text string) error {
	t.Helper()
	cf := filepath.Join(t.TempDir(), "case.cf")
	if err := os.WriteFile(cf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := importDir(t, cf)
	_, err := ImportWith(context.Background(), dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: corpusInstance()})
	return err
}

// TestImportRefusalsNameTheLine: every refusal of a main.cf value or line
// names main.cf and the line to correct, in the import's sentence form
// ("Cannot import: main.cf line N: ..."), as the other import refusals do.
func TestImportRefusalsNameTheLine(t *testing.T) {
	postfixtest.Require(t)
	const head = "compatibility_level = 3.6\n# a comment\n"
	for _, tc := range []struct{ name, text, want string }{
		{"myhostname", head + "myhostname = Mx.Audit.Example\n", "Cannot import: main.cf line 3: myhostname = Mx.Audit.Example: "},
		{"relay_transport", head + "myhostname = mx.audit.example\nrelay_transport = bad!name\n", "Cannot import: main.cf line 4: relay_transport = bad!name: "},
		{"message_size_limit", head + "myhostname = mx.audit.example\nmessage_size_limit =\n    10MB\n", "Cannot import: main.cf line 4: message_size_limit = 10MB: "},
		{"unverified_recipient_reject_code", head + "myhostname = mx.audit.example\n\nunverified_recipient_reject_code = abc\n", "Cannot import: main.cf line 5: unverified_recipient_reject_code = abc: "},
		{"reject code out of range", head + "myhostname = mx.audit.example\nunverified_recipient_reject_code = 250\n", "Cannot import: main.cf line 4: unverified_recipient_reject_code: "},
		{"relayhost", head + "myhostname = mx.audit.example\nrelayhost = [relay.audit.example\n", "Cannot import: main.cf line 4: relayhost = [relay.audit.example: "},
		{"parse error", head + "myhostname = mx.audit.example\nthis line has no equals sign\n", "Cannot import: main.cf line 4: Expected \"name = value\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := importRefusal(t, tc.text)
			if err == nil || !errors.Is(err, ErrImport) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("import: %v; want a refusal containing %q", err, tc.want)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), "import again") {
				t.Errorf("the refusal does not say what to do: %v", err)
			}
			// The parts the first start says them with (it says to
			// restart postdeck instead of importing again).
			var ie *ImportError
			if !errors.As(err, &ie) || ie.Fix == "" || err.Error() != "Cannot import: "+ie.Problem+"; "+ie.Fix+", then import again." {
				t.Errorf("refusal %q: want it to be its problem and its fix, then import again (%+v)", err, ie)
			}
		})
	}
}

// TestImportLeadingWhiteSpaceLine: a main.cf whose first parameter line
// starts with white space makes Postfix warn and ignore that logical line
// (with the lines that continue it) and read on. The import takes main.cf
// as Postfix reads it: the lines are commented out, a note names them, and
// the check finds Postfix's configuration unchanged.
func TestImportLeadingWhiteSpaceLine(t *testing.T) {
	postfixtest.Require(t)
	res, rep := importText(t, "# leftover of an edit\n  smtpd_helo_required = yes\n\n    smtpd_delay_reject = no\n"+
		"myhostname = mx.audit.example\ncompatibility_level = 3.6\n")
	for _, line := range []string{"#  smtpd_helo_required = yes\n", "#    smtpd_delay_reject = no\n"} {
		if !strings.Contains(res.State.MainConfig, line) {
			t.Errorf("%q is not in the document:\n%s", line, res.State.MainConfig)
		}
	}
	params, err := ParseMainConfig(res.State.MainConfig)
	if err != nil {
		t.Fatalf("the document does not parse: %v", err)
	}
	for _, p := range params {
		if p.Name == "smtpd_helo_required" || p.Name == "smtpd_delay_reject" {
			t.Errorf("line %d sets %s, which Postfix ignored", p.Line, p.Name)
		}
	}
	if res.State.Settings.Hostname != "mx.audit.example" {
		t.Errorf("My Host Name %q", res.State.Settings.Hostname)
	}
	found := false
	for _, n := range res.Notes {
		if strings.HasPrefix(n, "main.cf lines 2-4: ") && strings.Contains(n, "Postfix ignores it") {
			found = true
		}
	}
	if !found {
		t.Errorf("no note names main.cf lines 2-4: %q", res.Notes)
	}
	for _, d := range rep.Changed() {
		t.Errorf("%s %s: original %q, result %q", d.File, d.Name, d.Original, d.Result)
	}
}

// TestImportNotesUnsetMyhostname: a main.cf without myhostname had Postfix
// follow the host's name; the import writes this machine's value into the
// settings, and says so, as it does for mynetworks.
func TestImportNotesUnsetMyhostname(t *testing.T) {
	postfixtest.Require(t)
	if err := importRefusal(t, "compatibility_level = 3.6\n"); err != nil {
		// The corpus imports that leave myhostname unset need it too.
		t.Fatalf("this machine's name is not usable as My Host Name: %v", err)
	}
	res, _ := importText(t, "compatibility_level = 3.6\n")
	want := "myhostname was not set; this machine's name (" + res.State.Settings.Hostname + ") became My Host Name"
	found := false
	for _, n := range res.Notes {
		if strings.HasPrefix(n, want) && strings.Contains(n, "renaming the host no longer changes it") {
			found = true
		}
	}
	if !found {
		t.Errorf("no note %q...: %q", want, res.Notes)
	}
	res, _ = importText(t, "myhostname = mx.audit.example\ncompatibility_level = 3.6\n")
	for _, n := range res.Notes {
		if strings.HasPrefix(n, "myhostname was not set") {
			t.Errorf("note %q for a main.cf that sets myhostname", n)
		}
	}
}
