package mta

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
)

// TestRestrictionSuspects: the words of the restriction lists that may
// not be restrictions are the bare words that are neither a known name
// nor a restriction class; tables, DNS lists, $parameters, numbers, the
// word after a restriction that takes an argument and what stands inside
// braces are not. A restriction that takes an argument is one when the
// list ends after it or the word after it cannot be its argument (a bare
// word for a table, a word that is no number for sleep).
func TestRestrictionSuspects(t *testing.T) {
	doc := strings.Join([]string{
		"smtpd_restriction_classes = greylist, Strict",
		"greylist = check_policy_service { inet:127.0.0.1:10023, timeout = 10s, default_action = DUNNO }, permit",
		"strict = reject_unknown_sender_domain, permit_mynetwork",
		"smtpd_relay_restrictions = PERMIT_MYNETWORKS, reject_unauth_destination, permit_mynetwork",
		"smtpd_recipient_restrictions = permit_mynetworks reject_unauth_destination",
		"    check_recipient_acess hash:/etc/postfix/access, greylist, strict,",
		"    reject_rbl_client zen.spamhaus.org=127.0.0.[2..11], sleep 1, check_client_access cidrlist,",
		"    $extra_restrictions, ${stress?{reject_nonsense}}, check_sender_access ${indexed}sender_access, permit",
		"smtpd_data_restrictions = reject_unauth_pipelinig",
		"smtpd_etrn_restrictions =",
		"mua_client_restrictions = permit_sasl_authenticated, rejct",
		"smtpd_tls_mandatory_protocols = !SSLv2, !SSLv3",
		"smtpd_discard_ehlo_keywords = chunking, silent_discard",
		"smtpd_end_of_data_restrictions = check_sender_access, sleep x, check_policy_service unix:private/policy, sleep 2, permit_dnswl_client localwl, reject_rbl_client",
	}, "\n") + "\n"
	params, err := ParseMainConfig(doc)
	if err != nil {
		t.Fatal(err)
	}
	var got []restrictionWord
	got = append(got, restrictionSuspects(params)...)
	want := []restrictionWord{
		{Param: "smtpd_relay_restrictions", Line: 4, Word: "permit_mynetwork", Near: "permit_mynetworks"},
		{Param: "smtpd_recipient_restrictions", Line: 5, Word: "check_recipient_acess", Near: "check_recipient_access"},
		{Param: "smtpd_recipient_restrictions", Line: 5, Word: "check_client_access", Need: argTable, Arg: "cidrlist"},
		{Param: "smtpd_recipient_restrictions", Line: 5, Word: "cidrlist"},
		{Param: "smtpd_data_restrictions", Line: 9, Word: "reject_unauth_pipelinig", Near: "reject_unauth_pipelining"},
		{Param: "mua_client_restrictions", Line: 11, Word: "rejct", Near: "reject"},
		{Param: "smtpd_end_of_data_restrictions", Line: 14, Word: "check_sender_access", Need: argTable, Arg: "sleep"},
		{Param: "smtpd_end_of_data_restrictions", Line: 14, Word: "sleep", Need: argSeconds, Arg: "x"},
		{Param: "smtpd_end_of_data_restrictions", Line: 14, Word: "x"},
		{Param: "smtpd_end_of_data_restrictions", Line: 14, Word: "reject_rbl_client", Need: argDNSList},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("suspects:\n got %+v\nwant %+v", got, want)
	}
	if w := refTokens("a,{b c},d{e}f , ${x?{y}}z\tcheck_sender_access ${indexed}sender_access"); !reflect.DeepEqual(w, []string{"a", "{b c}", "d{e}f", "${x?{y}}z", "check_sender_access", "${indexed}sender_access"}) {
		t.Errorf("top-level words %q", w)
	}
}

// TestRestrictionSuspectsInRealConfigs: the restriction lists of the
// corpus's configurations (eleven projects, written by others) have no
// suspect: every word is a name the list knows, a class, or an argument,
// in main.cf and in their smtpd services' -o overrides.
// A suspect costs an smtpd run at every apply.
func TestRestrictionSuspectsInRealConfigs(t *testing.T) {
	words, optWords := 0, 0
	for _, project := range corpusProjects(t) {
		f := filepath.Join(realCorpus, project, "main.cf")
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		params, err := parseMainCF(NormalizeDocument(string(text)), true)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range params {
			if strings.HasSuffix(p.Name, "_restrictions") {
				words += len(refTokens(p.Value))
			}
		}
		if s := restrictionSuspects(params); len(s) > 0 {
			t.Errorf("%s: suspects %+v", f, s)
		}
		// And the -o restriction lists of their master.cf services.
		mf := filepath.Join(realCorpus, project, "master.cf")
		master, err := os.ReadFile(mf)
		if err != nil {
			t.Fatal(err)
		}
		for _, svc := range parseMasterCF(string(master)) {
			for _, o := range svc.Opts {
				if svc.Command() == "smtpd" && strings.HasSuffix(o.Name, "_restrictions") {
					optWords += len(refTokens(o.Value))
				}
			}
			if s := serviceRestrictionSuspects(svc, params, ""); len(s) > 0 {
				t.Errorf("%s: service %s: suspects %+v", mf, svc.Key(), s)
			}
		}
	}
	t.Logf("%d restriction words in main.cf files, %d in master.cf overrides", words, optWords)
	if words < 100 || optWords < 50 {
		t.Errorf("only %d restriction words in the corpus's main.cf files and %d in its master.cf overrides: the lists were not read", words, optWords)
	}
}

// TestRestrictionNamesAreSMTPD: every name of restrictionNames is in the
// smtpd program of the Postfix installed here (as the end of one of its
// strings: the linker shares "reject_unlisted_sender" with
// "smtpd_reject_unlisted_sender"), so the list holds no name smtpd would
// answer with a configuration error.
func TestRestrictionNamesAreSMTPD(t *testing.T) {
	postfixtest.Require(t)
	env := newTestEnv(t)
	bin, err := os.ReadFile(filepath.Join(env.m.catalog.defaults["daemon_directory"], "smtpd"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range restrictionNames {
		if !bytes.Contains(bin, []byte(name+"\x00")) {
			t.Errorf("%s is not in smtpd", name)
		}
	}
}

// TestRestrictionTypoPastTheProbeIsRefused: a misspelled restriction the
// open-relay probe never reaches (after reject_unauth_destination, in
// the DATA restrictions, in a restriction class) passed the probe, and
// smtpd then answered "451 4.3.5 Server configuration error" to all the
// mail from outside to the relay domains. smtpd itself confirms the word
// and the document is refused on its line, the live files as they were;
// real classes and arguments pass, and a word the running configuration
// already has does not block a later change.
func TestRestrictionTypoPastTheProbeIsRefused(t *testing.T) {
	env := newTestEnv(t)
	base := DefaultMainConfig
	replace := func(old, new string) string {
		t.Helper()
		if !strings.Contains(base, old) {
			t.Fatalf("the default main.cf has no %q", old)
		}
		return strings.Replace(base, old, new, 1)
	}
	relayLine := lineOf(t, base, "smtpd_relay_restrictions")
	refusedLine(t, env, replace("permit_mynetworks, reject_unauth_destination\n", "permit_mynetworks, reject_unauth_destination, permit_mynetwork\n"), relayLine,
		`Parameter smtpd_relay_restrictions: "permit_mynetwork" is not a restriction Postfix knows (did you mean permit_mynetworks?): Postfix's smtpd would answer every session that reaches it "451 4.3.5 Server configuration error"`)
	next := strings.Count(base, "\n") + 1
	refusedLine(t, env, base+"smtpd_data_restrictions = reject_unauth_pipelinig\n", next,
		`Parameter smtpd_data_restrictions: "reject_unauth_pipelinig" is not a restriction Postfix knows (did you mean reject_unauth_pipelining?)`)
	refusedLine(t, env, base+"smtpd_restriction_classes = partners\npartners = permit_mynetwork\n", next+1,
		`Parameter partners: "permit_mynetwork" is not a restriction Postfix knows`)
	// A restriction without what it takes: the list ends, or the next
	// restriction stands where its table should.
	refusedLine(t, env, base+"smtpd_data_restrictions = check_sender_access\n", next,
		`Parameter smtpd_data_restrictions: check_sender_access needs a table (type:name, such as hash:$config_directory/maps.d/hash.NAME.map) after it: Postfix's smtpd would answer every session that reaches it "451 4.3.5 Server configuration error"`)
	refusedLine(t, env, base+"smtpd_data_restrictions = CHECK_SENDER_ACCESS, reject\n", next,
		`Parameter smtpd_data_restrictions: CHECK_SENDER_ACCESS needs a table (type:name, such as hash:$config_directory/maps.d/hash.NAME.map) after it, not "reject"`)
	refusedLine(t, env, base+"smtpd_data_restrictions = permit_mynetworks, check_policy_service\n", next,
		`Parameter smtpd_data_restrictions: check_policy_service needs a policy server (inet:host:port or unix:path) after it`)
	refusedLine(t, env, base+"smtpd_data_restrictions = sleep\n", next,
		`Parameter smtpd_data_restrictions: sleep needs a number of seconds after it`)
	// A table of a type this Postfix does not have is named where it
	// lives, not where the apply staged it.
	refusedLine(t, env, base+"smtpd_data_restrictions = check_sender_access hsh:$config_directory/"+MapFile("hash", "check-recipient-access")+"\n", next,
		`smtpd_data_restrictions refers to hsh:`+filepath.Join(env.inst.ConfigDir, MapFile("hash", "check-recipient-access"))+`, but this Postfix does not support table type "hsh"`)
	// With what they take, they are applied.
	accepted(t, env, base+"smtpd_data_restrictions = check_sender_access hash:$config_directory/"+MapFile("hash", "check-recipient-access")+", sleep 0,\n"+
		"    check_policy_service { unix:private/nonexistent-policy, default_action=DUNNO }, reject_rbl_client zen.example.invalid\n")
	// A known name in upper case and a class are accepted, and so is a
	// name the list does not hold that smtpd knows (check_recipient_maps:
	// smtpd was asked).
	accepted(t, env, base+"smtpd_restriction_classes = partners\npartners = permit_mynetworks, reject\n"+
		"smtpd_data_restrictions = REJECT_UNAUTH_PIPELINING, partners, check_recipient_maps\n")

	// The running configuration has the word already (written before
	// this check existed): a change that keeps it is not refused for it.
	live := filepath.Join(env.inst.ConfigDir, "main.cf")
	text, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}
	// It also has a misspelled sender restriction, which answers
	// strangers 451 already: smtpd is asked about a new word with the
	// other lists emptied, so that check_recipient_maps, which decides
	// nothing, is not blamed for that one's 451.
	if err := os.WriteFile(live, append(text, "smtpd_data_restrictions = reject_unauth_pipelinig\nsmtpd_sender_restrictions = rejct_sender\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	accepted(t, env, base+"smtpd_data_restrictions = reject_unauth_pipelinig\nsmtpd_sender_restrictions = rejct_sender\n")
	accepted(t, env, base+"smtpd_data_restrictions = reject_unauth_pipelinig, check_recipient_maps\nsmtpd_sender_restrictions = rejct_sender\n")
	if _, err := env.m.SaveMainConfig(context.Background(), "tester", base+"smtpd_data_restrictions = reject_unauth_pipelinig, rejct\n", "", ApplyOptions{}); err == nil ||
		!strings.Contains(err.Error(), `"rejct" is not a restriction Postfix knows (did you mean reject?)`) {
		t.Fatalf("a new misspelled word beside the running one: %v", err)
	}
}
