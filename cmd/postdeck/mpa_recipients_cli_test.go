package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestCLIMPAErrorsShowFewRecipients: a row of `mpa errors` printed every
// recipient of its message, a wall of text for a message to a thousand;
// it prints the first three and "and N more". `mpa error show ID` and
// --json keep every one.
func TestCLIMPAErrorsShowFewRecipients(t *testing.T) {
	d, ok, smtpAddr := startFailingPipeline(t)
	const n = 12
	var rcpts []string
	for i := range n {
		rcpts = append(rcpts, fmt.Sprintf("r%02d@example.net", i))
	}
	sendTo(t, smtpAddr, "many@example.org", rcpts, "Subject: boom\r\n\r\nbody\r\n")
	id := waitErrorEntry(t, d, ok, fmt.Sprintf("with %d recipients", n), func(_ string, got []string) bool { return len(got) == n })
	table := ok("", "mpa", "errors")
	if !strings.Contains(table, "r00@example.net,r01@example.net,r02@example.net and 9 more") || strings.Contains(table, "r03@") {
		t.Errorf("mpa errors, want three recipients and 9 more:\n%s", table)
	}
	show := ok("", "mpa", "error", "show", id)
	if !strings.Contains(show, "r00@example.net,") || !strings.Contains(show, ",r11@example.net") {
		t.Errorf("mpa error show, want every recipient:\n%s", show)
	}
}
