package mta

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"postdeck/store"
)

// Misspelled restrictions that the open-relay probe does not reach.
//
// A restriction name smtpd does not know passes postconf, postfix check
// and the reload; smtpd then answers "451 4.3.5 Server configuration
// error" to every session that reaches the word. The open-relay probe
// reaches the words before the relay decision (checkRelay refuses them,
// restrictionError), but not the ones after reject_unauth_destination
// nor smtpd_data_restrictions: smtpd_recipient_restrictions =
// permit_mynetworks, reject_unauth_destination, check_recipient_acess
// hash:... passes the probe, and every message from outside to the relay
// domains is then deferred.
//
// So the words of the restriction lists are read too: a bare word that
// is neither one of the names below nor a restriction class is a
// suspect, and smtpd itself decides (confirmRestriction): the probe runs
// again with the word alone as smtpd_client_restrictions, which smtpd
// evaluates first, and only its "451 4.3.5 Server configuration error"
// refuses the configuration. The list only spares an smtpd run for the
// names it holds; a name missing from it costs a run, never a refusal.

// restrictionNames are the restriction names of Postfix 3.7's smtpd
// (src/smtpd/smtpd_check.c; TestRestrictionNamesAreSMTPD's): lower
// case, as smtpd compares them without regard to case.
var restrictionNames = map[string]bool{}

// restrictionNameList is restrictionNames sorted, for the "did you mean"
// of a refusal (the same answer for a tie every time).
var restrictionNameList []string

func init() {
	for _, n := range strings.Fields(`
		permit reject defer defer_if_permit defer_if_reject warn_if_reject sleep
		reject_unauth_pipelining reject_plaintext_session reject_multi_recipient_bounce
		permit_mynetworks permit_inet_interfaces permit_sasl_authenticated
		permit_tls_clientcerts permit_tls_all_clientcerts permit_naked_ip_address
		permit_auth_destination reject_unauth_destination defer_unauth_destination
		permit_mx_backup permit_mx_primary check_relay_domains
		reject_unknown_client reject_unknown_client_hostname reject_unknown_reverse_client_hostname
		reject_invalid_hostname reject_invalid_helo_hostname reject_unknown_hostname
		reject_unknown_helo_hostname reject_non_fqdn_hostname reject_non_fqdn_helo_hostname
		reject_non_fqdn_sender reject_non_fqdn_recipient reject_unknown_sender_domain
		reject_unknown_recipient_domain reject_unlisted_sender reject_unlisted_recipient
		reject_unverified_sender reject_unverified_recipient reject_unverified_address
		reject_unknown_address reject_non_fqdn_address
		reject_sender_login_mismatch reject_authenticated_sender_login_mismatch
		reject_known_sender_login_mismatch reject_unauthenticated_sender_login_mismatch
		reject_rbl reject_rbl_client reject_maps_rbl reject_rhsbl_client reject_rhsbl_helo
		reject_rhsbl_sender reject_rhsbl_recipient reject_rhsbl_reverse_client
		permit_dnswl_client permit_rhswl_client check_policy_service
		check_client_access check_client_a_access check_client_mx_access check_client_ns_access
		check_reverse_client_hostname_access check_reverse_client_hostname_a_access
		check_reverse_client_hostname_mx_access check_reverse_client_hostname_ns_access
		check_helo_access check_helo_a_access check_helo_mx_access check_helo_ns_access
		check_sender_access check_sender_a_access check_sender_mx_access check_sender_ns_access
		check_recipient_access check_recipient_a_access check_recipient_mx_access
		check_recipient_ns_access check_ccert_access check_sasl_access check_etrn_access
	`) {
		restrictionNames[n] = true
		restrictionNameList = append(restrictionNameList, n)
	}
	slices.Sort(restrictionNameList)
}

// restrictionArg is what a restriction name (lower case) takes as the
// word after it ("" for none): a table, a policy server, a DNS list,
// seconds.
func restrictionArg(name string) string {
	switch {
	case strings.HasPrefix(name, "check_") && strings.HasSuffix(name, "_access"):
		return argTable
	case name == "check_policy_service":
		return argPolicy
	case name == "sleep":
		return argSeconds
	case strings.HasPrefix(name, "reject_rbl"), strings.HasPrefix(name, "reject_rhsbl_"),
		name == "permit_dnswl_client", name == "permit_rhswl_client":
		return argDNSList
	}
	return ""
}

// What a restriction takes after it, as a refusal names it.
const (
	argTable   = "a table (type:name, such as hash:$config_directory/maps.d/hash.NAME.map)"
	argPolicy  = "a policy server (inet:host:port or unix:path)"
	argSeconds = "a number of seconds"
	argDNSList = "a DNS list (such as zen.spamhaus.org)"
)

// argFits reports whether word (the one after a restriction, "" when the
// list ends) can be what the restriction takes: smtpd answers every
// session that reaches a table restriction without a type:name after it
// "451 4.3.5 Server configuration error" (check_sender_access, reject: a
// forgotten table, the next restriction taken for it). A $parameter or
// a brace group may stand for anything; a DNS list is any word.
func argFits(need, word string) bool {
	switch {
	case word == "":
		return false
	case strings.HasPrefix(word, "$"), strings.HasPrefix(word, "{"):
		return true
	case need == argTable || need == argPolicy:
		return strings.Contains(word, ":")
	case need == argSeconds:
		return strings.Trim(word, "0123456789") == ""
	}
	return true
}

// restrictionWord is a word of a restriction list that may not be a
// restriction smtpd knows.
type restrictionWord struct {
	Param string
	Line  int
	Word  string
	Near  string // the known name it is closest to, or ""
	// Need is what the restriction Word takes and is not given (the list
	// ends, or a word that cannot be it follows: Arg), "" for a word
	// that is not a restriction name.
	Need, Arg string
	// Service is the master.cf service whose -o override holds the word
	// ("" for main.cf).
	Service string
}

// asked is what smtpd is asked about as the client restrictions: the
// word, with the word that follows it when that cannot be its argument.
func (w restrictionWord) asked() string {
	if w.Arg != "" {
		return w.Word + "," + w.Arg
	}
	return w.Word
}

// key tells a suspect from another, as the running configuration's.
func (w restrictionWord) key() string {
	if w.Need != "" {
		return strings.ToLower(w.asked()) + ","
	}
	return strings.ToLower(w.Word)
}

// maxRestrictionSuspects bounds the suspects confirmRestriction asks
// smtpd about (an smtpd run each).
const maxRestrictionSuspects = 8

// restrictionSuspects returns the words of params' restriction lists
// (parameters named *_restrictions and the restriction classes) that are
// neither a restriction name nor a class, in document order, each once.
// Only bare words are suspects: a table (type:name), a DNS list
// (domain=pattern), a $parameter, a number and what stands inside
// braces are arguments, not restrictions. A restriction name that takes
// an argument (restrictionArg) is a suspect too when the list ends after
// it or the word after it cannot be that argument (argFits).
func restrictionSuspects(params []Param) []restrictionWord {
	return restrictionSuspectsOf(params, params)
}

// restrictionSuspectsOf is restrictionSuspects for the lists among
// params, with the restriction classes all defines.
func restrictionSuspectsOf(params, all []Param) []restrictionWord {
	classes := restrictionClasses(all)
	lower := map[string]bool{}
	for c := range classes {
		lower[strings.ToLower(c)] = true
	}
	var out []restrictionWord
	seen := map[string]bool{}
	for _, p := range params {
		if !strings.HasSuffix(p.Name, "_restrictions") && !classes[p.Name] {
			continue
		}
		words := refTokens(p.Value)
		for i := 0; i < len(words); i++ {
			w := words[i]
			name := strings.ToLower(w)
			if restrictionNames[name] {
				need := restrictionArg(name)
				if need == "" {
					continue
				}
				next := ""
				if i+1 < len(words) {
					next = words[i+1]
				}
				if argFits(need, next) {
					i++ // its argument
					continue
				}
				// The word after it, when there is one, is read on its own.
				if key := name + "," + strings.ToLower(next); !seen[key] {
					seen[key] = true
					out = append(out, restrictionWord{Param: p.Name, Line: p.Line, Word: w, Need: need, Arg: next})
				}
				continue
			}
			if lower[name] || !bareWordRe.MatchString(w) || seen[name] {
				continue
			}
			seen[name] = true
			out = append(out, restrictionWord{Param: p.Name, Line: p.Line, Word: w, Near: store.Nearest(name, restrictionNameList)})
		}
	}
	return out
}

// bareWordRe matches what could only be a restriction name: letters,
// digits and '_', starting with a letter.
var bareWordRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// checkRestrictionWords refuses a configuration in dir whose restriction
// lists hold a word smtpd answers with a configuration error, on the
// line of the word's parameter (where its "name =" stands: a word on a
// continuation line is not placed closer). A word the running
// configuration has too is left alone: an earlier version (or an
// import) applied it, and a later change that does not touch it is not
// refused for it.
func (m *Manager) checkRestrictionWords(ctx context.Context, dir, masterDoc string, params []Param) error {
	masterCF, err := os.ReadFile(filepath.Join(dir, "master.cf"))
	if err != nil {
		return fmt.Errorf("restriction check: %w", err)
	}
	services := parseMasterCF(string(masterCF))
	suspects := restrictionSuspects(params)
	for _, svc := range services {
		suspects = append(suspects, serviceRestrictionSuspects(svc, params, masterDoc)...)
	}
	if len(suspects) == 0 {
		return nil
	}
	live := map[string]bool{}
	if lp, lservices, ok := m.liveConfig(); ok {
		for _, w := range restrictionSuspects(lp) {
			live[w.key()] = true
		}
		for _, svc := range lservices {
			for _, w := range serviceRestrictionSuspects(svc, lp, "") {
				live[w.key()] = true
			}
		}
	}
	public, err := m.publicSMTPD(string(masterCF))
	if err != nil {
		return err
	}
	asked := 0
	for _, s := range suspects {
		if live[s.key()] {
			continue
		}
		if asked == maxRestrictionSuspects {
			break
		}
		asked++
		// Asked of the public service, for a service's word too:
		// whether smtpd knows a name does not depend on the service,
		// and a class the service defines for itself is no suspect.
		v, err := m.confirmRestriction(ctx, dir, public, s.asked())
		if err != nil {
			m.log.Warn("restriction check: the probe could not run", "word", s.Word, "err", err)
			continue
		}
		if v.configError() {
			var why string
			switch {
			case s.Need != "" && s.Arg == "":
				why = fmt.Sprintf("%s needs %s after it: Postfix's smtpd would answer every session that reaches it %q. Give it one, or remove it", s.Word, s.Need, oneLine(v.Said))
			case s.Need != "":
				why = fmt.Sprintf("%s needs %s after it, not %q: Postfix's smtpd would answer every session that reaches it %q. Give it one, or remove it", s.Word, s.Need, s.Arg, oneLine(v.Said))
			default:
				near := ""
				if s.Near != "" {
					near = " (did you mean " + s.Near + "?)"
				}
				why = fmt.Sprintf("%q is not a restriction Postfix knows%s: Postfix's smtpd would answer every session that reaches it %q. Fix the name, or define it as a restriction class (smtpd_restriction_classes)", s.Word, near, oneLine(v.Said))
			}
			if s.Service != "" {
				name, _, _ := strings.Cut(s.Service, "/")
				return store.InvalidLine(FieldMasterConfig, s.Line, "Service %s, -o %s: %s", name, s.Param, why)
			}
			return store.InvalidLine(FieldMainConfig, s.Line, "Parameter %s: %s", s.Param, why)
		}
	}
	return nil
}

// serviceRestrictionSuspects are the suspects (restrictionSuspects) of
// the -o overrides of an smtpd service of master.cf: a submission port's
// -o smtpd_client_restrictions=permit_sasl_authenticated,reject misspelled
// answers every client of that port "451 4.3.5 Server configuration
// error". The classes are main.cf's (params) and the service's own. The
// line of each is its override's in the master config document masterDoc
// (docOptLine), 0 when the document does not have it (postdeck's own
// services).
func serviceRestrictionSuspects(svc masterService, params []Param, masterDoc string) []restrictionWord {
	if svc.Command() != "smtpd" {
		return nil
	}
	opts := svc.OptParams()
	if len(opts) == 0 {
		return nil
	}
	out := restrictionSuspectsOf(opts, append(slices.Clone(params), opts...))
	for i := range out {
		out[i].Service, out[i].Line = svc.Key(), docOptLine(masterDoc, svc.Key(), out[i].Param)
	}
	return out
}

// confirmRestriction asks smtpd, with the configuration in dir, about
// word alone as the client restrictions, which smtpd evaluates first (at
// RCPT, the rejection delayed): a word it does not know answers the
// RCPT "451 4.3.5 Server configuration error". The other lists are
// emptied but for the relay decision smtpd requires, so that a word
// that decides nothing is followed by a refusal of the probe's
// recipient, never by another restriction's 451.
func (m *Manager) confirmRestriction(ctx context.Context, dir string, svc masterService, word string) (relayVerdict, error) {
	probe := svc
	probe.Opts = append(slices.Clone(svc.Opts),
		masterOpt{Name: "smtpd_delay_reject", Value: "yes"},
		masterOpt{Name: "smtpd_client_restrictions", Value: word},
		masterOpt{Name: "smtpd_helo_restrictions"},
		masterOpt{Name: "smtpd_sender_restrictions"},
		masterOpt{Name: "smtpd_relay_restrictions", Value: "reject_unauth_destination"},
		masterOpt{Name: "smtpd_recipient_restrictions"})
	return m.probeRelayService(ctx, dir, probe)
}
