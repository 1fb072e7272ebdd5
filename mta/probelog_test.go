package mta

import (
	"strings"
	"testing"
	"time"
)

// TestProbeLinesAreNotPostfixProblems: the open-relay probe runs a staged
// configuration in a stand-alone smtpd, and a refused change's "fatal:
// invalid smtpd_timeout: 0 (min 1)" went into the mail log as
// postfix-postdeck/smtpd[PID] and onto the dashboard's latest warnings,
// as if the running Postfix had it. The probe's smtpd logs as
// NAME/postdeck-probe, and its lines are not problems of the running
// Postfix; the refusal still quotes them. Likewise the checks' postmap
// on a staged map: a pasted regexp's "Unmatched ( or \(" showed as a
// warning of the running Postfix.
func TestProbeLinesAreNotPostfixProblems(t *testing.T) {
	env := newTestEnv(t)
	start := env.m.maillogSize()
	next := strings.Count(DefaultMainConfig, "\n") + 1
	refusedLine(t, env, DefaultMainConfig+"smtpd_timeout = 0\n", next, "fatal: invalid smtpd_timeout: 0 (min 1)")
	if log := readFile(env.m.maillogPath())[start:]; !strings.Contains(log, "postfix-postdeck/"+probeLogName+"/smtpd[") || !strings.Contains(log, "]: fatal: invalid smtpd_timeout") {
		t.Fatalf("the probe's fatal in the mail log:\n%s", log)
	}
	problems, err := env.m.LogProblems(100)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.Contains(p.Text, "smtpd_timeout") {
			t.Errorf("a refused change's probe line is a Postfix problem: %s", p.Text)
		}
	}
	// A pasted regular expression that does not compile: the check's
	// postmap on the staged map logs a warning that names the staged
	// file, which the running Postfix never reads.
	start = env.m.maillogSize()
	refusedField(t, env, FieldMapContent, 1, "Unmatched ( or \\(", saveMap(env, "subject-checks", "regexp", "/^Subject: (foo/ REJECT bad\n"))
	if log := readFile(env.m.maillogPath())[start:]; !strings.Contains(log, "/"+stagingName+"/maps.d/regexp.subject-checks.map, line 1: Unmatched ( or \\(") {
		t.Fatalf("the staged map's warning in the mail log:\n%s", log)
	}
	// A line of the running Postfix's smtpd stays one, and so does a
	// warning about a live map.
	appendLog(t, env.m.maillogPath(), "Dec  7 14:23:27 mail postfix-postdeck/smtpd[4242]: warning: the running smtpd\n"+
		"Dec  7 14:23:28 mail postfix-postdeck/cleanup[4243]: warning: regexp map "+env.inst.ConfigDir+"/maps.d/regexp.live.map, line 1: Unmatched ( or \\(\n")
	time.Sleep(2 * logProblemsFresh) // past the last look's answer
	problems, err = env.m.LogProblems(100)
	if err != nil || len(problems) < 2 || !strings.HasSuffix(problems[len(problems)-2].Text, "warning: the running smtpd") ||
		!strings.Contains(problems[len(problems)-1].Text, "regexp.live.map, line 1: Unmatched") {
		t.Errorf("the running Postfix's warnings: %v %v", problems, err)
	}
	for _, p := range problems {
		if strings.Contains(p.Text, stagingName) {
			t.Errorf("a refused change's check is a Postfix problem: %s", p.Text)
		}
	}
}
