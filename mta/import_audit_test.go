package mta

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
)

// importText imports a main.cf and master.cf (after masterMarker, with
// @debian-services) written by the test, the way importDir lays out a
// corpus file, and checks the result as `postdeck import --check` does.
func importText(t *testing.T, text string) (*ImportResult, *CheckReport) {
	t.Helper()
	cf := filepath.Join(t.TempDir(), "case.cf")
	if err := os.WriteFile(cf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := importDir(t, cf)
	ctx := context.Background()
	res, err := ImportWith(ctx, dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: corpusInstance()})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	rep, err := CheckImport(ctx, postfixtest.SbinDir, dir, res)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return res, rep
}

// TestImportIgnoredMasterOptionIsNoChange: a master.cf -o option Postfix
// does not know (a parameter of a newer Postfix, a typo) is ignored by
// Postfix ("unused parameter"); the import comments it out, and its check
// must not count that as a change of what Postfix does, or the import
// refuses its own edit (`import --check` exits 1, the first start holds).
func TestImportIgnoredMasterOptionIsNoChange(t *testing.T) {
	postfixtest.Require(t)
	res, rep := importText(t, "myhostname = mx.audit.example\ncompatibility_level = 3.6\n"+masterMarker+
		"smtp      inet  n       -       y       -       -       smtpd\n"+
		"  -o smtpd_not_a_parameter=yes\n"+
		"  -o { smtpd_neither_one = a b }\n"+
		"  -o smtpd_helo_required=yes\n@debian-services")
	for _, line := range []string{"#  -o smtpd_not_a_parameter=yes\n", "#  -o { smtpd_neither_one = a b }\n"} {
		if !strings.Contains(res.State.MasterConfig, line) {
			t.Errorf("%q is not in the master config document:\n%s", line, res.State.MasterConfig)
		}
	}
	for _, opt := range []string{"smtpd_not_a_parameter", "smtpd_neither_one"} {
		found := false
		for _, d := range rep.Differences {
			if d.Name == "smtp/inet/"+opt {
				found = true
				if d.Kind != DiffSame {
					t.Errorf("%s: kind %q, want %q (Postfix ignored it)", d.Name, d.Kind, DiffSame)
				}
			}
		}
		if !found {
			t.Errorf("the check does not list smtp/inet/%s", opt)
		}
	}
	for _, d := range rep.Changed() {
		t.Errorf("%s %s: original %q, result %q", d.File, d.Name, d.Original, d.Result)
	}
	if !strings.Contains(res.State.MasterConfig, "  -o smtpd_helo_required=yes") {
		t.Errorf("a known option was dropped:\n%s", res.State.MasterConfig)
	}
}

// TestImportKeepsCommentsInsideTakenValues: the comment lines inside a
// multi-line value are the administrator's notes (which network is whose);
// when the import takes the parameter out of the document (into MTA
// Settings, the installation part, or commented out as unused), the
// comments stay in the document.
func TestImportKeepsCommentsInsideTakenValues(t *testing.T) {
	postfixtest.Require(t)
	mainCF := "myhostname = mx.audit.example\ncompatibility_level = 3.6\n" +
		"mynetworks = 127.0.0.0/8\n    # office, 3rd floor\n    192.0.2.0/24\n# vpn: ask Bob before removing\n    198.51.100.0/24\n" +
		"relay_domains = audit.example\n    # the second customer\n    customer.example\n" +
		"sendmail_path =\n    # Debian's path\n    /usr/sbin/sendmail\n" +
		"audit_not_a_parameter = a\n    # a leftover\n    b\n"
	res, rep := importText(t, mainCF)
	for _, line := range strings.Split(mainCF, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") && !strings.Contains(res.State.MainConfig, line+"\n") {
			t.Errorf("comment %q was lost", line)
		}
	}
	if t.Failed() {
		t.Logf("document:\n%s", res.State.MainConfig)
	}
	if _, err := ParseMainConfig(res.State.MainConfig); err != nil {
		t.Errorf("the document does not parse: %v", err)
	}
	for _, d := range rep.Changed() {
		t.Errorf("%s %s: original %q, result %q", d.File, d.Name, d.Original, d.Result)
	}
	if got := strings.Join(res.State.Settings.MyNetworks, " "); got != "127.0.0.0/8 192.0.2.0/24 198.51.100.0/24" {
		t.Errorf("My Networks %q", got)
	}
}

// TestImportIgnoredOptionOnServiceLine: an -o option Postfix ignores that
// shares its line with the service (`smtp inet ... smtpd -o x=1`) is taken
// out of the line, as one on a line of its own is commented out: the
// first apply refuses a master.cf Postfix warns about, so an import that
// kept it would be stored and then held. The result applies to a private
// Postfix, and the check counts no change.
func TestImportIgnoredOptionOnServiceLine(t *testing.T) {
	postfixtest.Require(t)
	res, rep := importText(t, "myhostname = mx.audit.example\ncompatibility_level = 3.6\n"+masterMarker+
		"smtp      inet  n       -       y       -       -       smtpd -o smtpd_not_a_parameter=yes -o smtpd_helo_required=yes\n"+
		"  -o smtpd_delay_reject=no\n@debian-services")
	for _, d := range rep.Changed() {
		t.Errorf("%s %s: original %q, result %q", d.File, d.Name, d.Original, d.Result)
	}
	if strings.Contains(res.State.MasterConfig, "smtpd_not_a_parameter") || !strings.Contains(res.State.MasterConfig, "smtpd -o smtpd_helo_required=yes\n  -o smtpd_delay_reject=no\n") {
		t.Errorf("master config document:\n%s", res.State.MasterConfig)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool {
		return strings.Contains(n, "master.cf line 1: Postfix ignores -o smtpd_not_a_parameter")
	}) {
		t.Errorf("no note names master.cf line 1: %q", res.Notes)
	}
	inst := res.Instance
	inst.MPAListen = "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	inst.ReinjectListen = "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	res.Instance = inst
	res.State.Wiring.MPAListen, res.State.Wiring.ReinjectListen = inst.MPAListen, inst.ReinjectListen
	run := applyPrivately(t, res, res.Instance.ConfigDir, res.Instance.ConfigDir)
	answersSMTP(t, run.smtp, filepath.Join(run.inst.BaseDir, "maillog"))
}

// TestImportIgnoredOptionSplitAcrossLines: an ignored -o whose value is on
// the next line cannot be taken out of either line alone; the import
// refuses it, naming master.cf and the line, instead of storing what the
// first apply refuses.
func TestImportIgnoredOptionSplitAcrossLines(t *testing.T) {
	postfixtest.Require(t)
	cf := filepath.Join(t.TempDir(), "case.cf")
	text := "myhostname = mx.audit.example\ncompatibility_level = 3.6\n" + masterMarker +
		"smtp      inet  n       -       y       -       -       smtpd -o\n  smtpd_not_a_parameter=yes\n@debian-services"
	if err := os.WriteFile(cf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := importDir(t, cf)
	_, err := ImportWith(context.Background(), dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: corpusInstance()})
	if err == nil || !errors.Is(err, ErrImport) || !strings.Contains(err.Error(), "master.cf line 2: Postfix ignores -o smtpd_not_a_parameter") {
		t.Fatalf("import: %v; want a refusal naming master.cf line 2", err)
	}
}
