package mta

import (
	"strings"
	"testing"
)

// TestRestrictionTypoIsRefused: a restriction smtpd cannot run (a typo
// such as check_sender_acess, or check_helo_access without its table)
// passes postconf and the reload; smtpd then answers every stranger's
// RCPT "451 4.3.5 Server configuration error", and the gateway takes no
// mail. It was applied with a warning about the probe's "temporary
// answer". It is refused on the restriction's line with Postfix's words,
// the live files left as they were.
func TestRestrictionTypoIsRefused(t *testing.T) {
	env := newTestEnv(t)
	next := strings.Count(DefaultMainConfig, "\n") + 1
	refusedLine(t, env, DefaultMainConfig+"smtpd_sender_restrictions = reject_non_fqdn_sender, check_sender_acess hash:$config_directory/"+MapFile("hash", "check-recipient-access")+"\n", next,
		`Parameter smtpd_sender_restrictions: Postfix's smtpd would answer every client outside My Networks "451 4.3.5 Server configuration error": warning: unknown smtpd restriction: "check_sender_acess"`)
	refusedLine(t, env, DefaultMainConfig+"smtpd_helo_required = yes\nsmtpd_helo_restrictions = permit_mynetworks, check_helo_access\n", next+1,
		`bad argument "check_helo_access": need maptype:mapname`)
	// Spelled right, with its table, it is applied.
	accepted(t, env, DefaultMainConfig+"smtpd_sender_restrictions = reject_non_fqdn_sender, check_sender_access hash:$config_directory/"+MapFile("hash", "check-recipient-access")+"\n")
}
