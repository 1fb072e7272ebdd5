package mta

import (
	"strings"
	"testing"
)

// TestGlobalParameterOutOfRangeIsNamed: header_size_limit = 0 (or
// line_length_limit under 512) is fatal to every Postfix program before
// its logging starts, so that the probe's smtpd exited with no word in
// the mail log and the refusal said only "smtpd exited: exit status 1",
// with no line. postmap, which reads the same parameters and writes to
// stderr, now gives Postfix's words, and the refusal names the line.
func TestGlobalParameterOutOfRangeIsNamed(t *testing.T) {
	env := newTestEnv(t)
	next := strings.Count(DefaultMainConfig, "\n") + 1
	refusedLine(t, env, DefaultMainConfig+"header_size_limit = 0\n", next, "Postfix says: smtpd cannot serve with the new configuration: fatal: invalid header_size_limit parameter value 0 < 1")
	refusedLine(t, env, DefaultMainConfig+"# a note\nline_length_limit = 1\n", next+1, "fatal: invalid line_length_limit parameter value 1 < 512")
}
