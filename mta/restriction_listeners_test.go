package mta

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
)

// TestListenerRestrictionTypoIsRefused: the restriction lists of a
// master.cf service's -o overrides went unread. A submission port with
// -o smtpd_client_restrictions=permit_sasl_authnticated,reject was
// applied (its probe was refused, not relayed, so it passed), and that
// port then answered every client "451 4.3.5 Server configuration
// error", its users' own mail included. The words of every smtpd
// service's -o restriction lists are read as main.cf's are, and smtpd
// decides; the refusal names the service and the override, on the
// override's line of the document. A configuration error the probe meets
// on a listener without a misspelled word (an access table's answer
// smtpd does not know) is refused on that listener too.
func TestListenerRestrictionTypoIsRefused(t *testing.T) {
	env := newTestEnv(t)
	base := DefaultMasterConfig(env.inst)
	port := strconv.Itoa(postfixtest.FreePort(t))
	svcLine := strings.Count(base, "\n") + 1
	listener := base + port + " inet n - n - - smtpd\n"

	// The probe reaches it: the client restrictions.
	refusedMasterLine(t, env, listener+"  -o smtpd_client_restrictions=permit_sasl_authnticated,reject\n", svcLine+1,
		`Service `+port+`, -o smtpd_client_restrictions: "permit_sasl_authnticated" is not a restriction Postfix knows (did you mean permit_sasl_authenticated?)`)
	// A submission port that wants TLS first (the probe's session goes
	// without: relayProbeOverrides).
	cert, key, _ := writeKeyPair(t, postfixtest.Dir(t), 0o600)
	tls := "  -o smtpd_tls_security_level=encrypt\n  -o smtpd_tls_cert_file=" + cert + "\n  -o smtpd_tls_key_file=" + key + "\n"
	refusedMasterLine(t, env, listener+tls+"  -o smtpd_relay_restrictions=permit_sasl_authenticated,rejct\n", svcLine+4,
		`Service `+port+`, -o smtpd_relay_restrictions: "rejct" is not a restriction Postfix knows (did you mean reject?)`)
	// The probe does not reach it: the data restrictions, a list after
	// the relay decision.
	refusedMasterLine(t, env, listener+"  -o smtpd_relay_restrictions=permit_mynetworks,reject\n  -o smtpd_data_restrictions=reject_unauth_pipelinig\n", svcLine+2,
		`Service `+port+`, -o smtpd_data_restrictions: "reject_unauth_pipelinig" is not a restriction Postfix knows (did you mean reject_unauth_pipelining?)`)
	// The public listener's own override, which the open-relay probe
	// meets: refused on the override, not blamed on main.cf.
	pub := strings.Index(base, " inet n - n - - smtpd\n")
	if pub < 0 {
		t.Fatal("the default master config has no public smtpd line")
	}
	pubEnd := pub + len(" inet n - n - - smtpd\n")
	pubLine := strings.Count(base[:pubEnd], "\n")
	name := base[strings.LastIndexByte(base[:pub], '\n')+1 : pub]
	refusedMasterLine(t, env, base[:pubEnd]+"  -o smtpd_client_restrictions=permit_mynetwork,reject\n"+base[pubEnd:], pubLine+1,
		`Service `+name+`, -o smtpd_client_restrictions: Postfix's smtpd would answer every client outside My Networks "451 4.3.5 Server configuration error"`)
	// A known restriction without its table.
	refusedMasterLine(t, env, listener+"  -o smtpd_client_restrictions=check_client_access\n", svcLine+1,
		`Service `+port+`, -o smtpd_client_restrictions: check_client_access needs a table (type:name, such as hash:$config_directory/maps.d/hash.NAME.map) after it`)
	// A configuration error on another listener that no word shows (a
	// table's answer smtpd does not know): the probe's 451 refuses it,
	// on the service's line.
	refusedMasterLine(t, env, listener+"  -o smtpd_client_restrictions=check_client_access,static:OKK\n", svcLine,
		`Service `+port+`: Postfix's smtpd would answer every client outside My Networks "451 4.3.5 Server configuration error": warning: unknown smtpd restriction: "OKK"`)

	// Right names, and a class the service defines for itself, are
	// applied.
	good := listener + "  -o smtpd_client_restrictions=PERMIT_MYNETWORKS,reject\n  -o smtpd_restriction_classes=insiders\n  -o insiders=permit_mynetworks,reject\n  -o smtpd_data_restrictions=insiders,reject_unauth_pipelining\n"
	if _, err := env.m.SaveMasterConfig(context.Background(), "tester", good, ""); err != nil {
		t.Fatalf("a listener with known restrictions and its own class: %v", err)
	}

	// The running master.cf has the word already (applied before this
	// check): a change that keeps it is not refused for it; a new one
	// beside it is.
	live := filepath.Join(env.inst.ConfigDir, "master.cf")
	text, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}
	old := "  -o smtpd_data_restrictions=insiders,reject_unauth_pipelining\n"
	if !strings.Contains(string(text), old) {
		t.Fatalf("the live master.cf lacks the listener's overrides:\n%s", text)
	}
	if err := os.WriteFile(live, []byte(strings.Replace(string(text), old, "  -o smtpd_data_restrictions=reject_unauth_pipelinig\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	kept := listener + "  -o smtpd_data_restrictions=reject_unauth_pipelinig\n"
	if _, err := env.m.SaveMasterConfig(context.Background(), "tester", kept, ""); err != nil {
		t.Fatalf("a word the running master.cf has: %v", err)
	}
	refusedMasterLine(t, env, kept+"  -o smtpd_end_of_data_restrictions=rejct\n", svcLine+2,
		`Service `+port+`, -o smtpd_end_of_data_restrictions: "rejct" is not a restriction Postfix knows (did you mean reject?)`)
}
