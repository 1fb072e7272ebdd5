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
// Postfix; the refusal still quotes them.
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
	// A line of the running Postfix's smtpd stays one.
	appendLog(t, env.m.maillogPath(), "Dec  7 14:23:27 mail postfix-postdeck/smtpd[4242]: warning: the running smtpd\n")
	time.Sleep(2 * logProblemsFresh) // past the last look's answer
	problems, err = env.m.LogProblems(100)
	if err != nil || len(problems) == 0 || !strings.HasSuffix(problems[len(problems)-1].Text, "warning: the running smtpd") {
		t.Errorf("the running smtpd's warning: %v %v", problems, err)
	}
}
