package mta

import (
	"errors"
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
)

// TestImportRelayTransportRefusalQuotesTheValue: a refused next hop in
// relay_transport is quoted with its transport, as main.cf writes it. The
// refusal quoted only the part after the colon ("relay_transport =
// [10.0.0.1]:2525x"), which the administrator does not find in main.cf.
// relayhost has no transport: its value is quoted as it is.
func TestImportRelayTransportRefusalQuotesTheValue(t *testing.T) {
	postfixtest.Require(t)
	const head = "compatibility_level = 3.6\nmyhostname = mx.audit.example\n"
	for _, tc := range []struct{ name, text, want, fix string }{
		{"bad port", head + "relay_transport = relay:[10.0.0.1]:2525x\n", "Cannot import: main.cf line 3: relay_transport = relay:[10.0.0.1]:2525x: ", "correct it in main.cf"},
		{"written differently", head + "relay_transport = smtp:10.0.0.1\n", "Cannot import: main.cf line 3: relay_transport = smtp:10.0.0.1: the MTA Settings page would write it as smtp:[10.0.0.1]", "write smtp:[10.0.0.1] in main.cf if that is meant"},
		{"relayhost", head + "relayhost = [10.0.0.1]:2525x\n", "Cannot import: main.cf line 3: relayhost = [10.0.0.1]:2525x: ", "correct it in main.cf"},
		// Not "brackets turn off MX lookups": the page drops the dot.
		{"trailing dot", head + "relayhost = [relay.example.com.]:25\n", "Cannot import: main.cf line 3: relayhost = [relay.example.com.]:25: the host name ends in a dot, which Postfix's smtp does not take", "write [relay.example.com]:25 in main.cf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := importRefusal(t, tc.text)
			var ie *ImportError
			if !errors.As(err, &ie) || !errors.Is(err, ErrImport) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("import: %v; want a refusal starting %q", err, tc.want)
			}
			t.Log(err)
			if ie.Fix != tc.fix || !strings.HasSuffix(err.Error(), "; "+tc.fix+", then import again.") {
				t.Errorf("refusal %q (fix %q): want it to end with the fix %q, then import again", err, ie.Fix, tc.fix)
			}
		})
	}
}
