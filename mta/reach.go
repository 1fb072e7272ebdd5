package mta

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"postdeck/store"
)

// Milters and policy services that do not answer.
//
// A milter Postfix cannot reach passes every check and the reload:
// smtpd_milters = inet:127.0.0.1:8892 (OpenDKIM listens on 8891) was
// applied without a word, and smtpd then answered every client "451
// 4.7.1 Service unavailable - try again later" (milter_default_action =
// tempfail, the default), deferring all mail. A policy service that does
// not run (check_policy_service after reject_unauth_destination, where
// the open-relay probe does not reach) makes smtpd answer "451 4.3.5
// Server configuration problem". Both are programs of their own that may
// start after the change, so the apply warns instead of refusing: each
// on this machine is connected to once (and the connection closed
// before a word), and one that does not answer is named with what
// Postfix does meanwhile. (With milter_default_action = reject, smtpd
// greets every client with 554 and the serve check refuses the change.)

// milterDialTimeout bounds the connection to one milter or policy
// service; they are tried at once.
const milterDialTimeout = 2 * time.Second

// maxMilters bounds the milters and policy services tried in one apply.
const maxMilters = 16

// milterSpec is one milter of a milter list, or a policy service of a
// restriction list (Policy).
type milterSpec struct {
	Param  string // smtpd_milters, non_smtpd_milters, the restriction list
	Addr   string // inet:host:port or unix:path, as written
	Action string // its default_action (the { } form), else milter_default_action
	Policy bool
}

// policyServices are the policy services of the restriction lists of
// params (check_policy_service ADDR or { ADDR, name=value, ... }), each
// once; Action is the { } form's default_action, else "".
func policyServices(params []Param) []milterSpec {
	classes := restrictionClasses(params)
	seen := map[string]bool{}
	var out []milterSpec
	for _, p := range params {
		if !strings.HasSuffix(p.Name, "_restrictions") && !classes[p.Name] {
			continue
		}
		words := refTokens(p.Value)
		for i := 0; i+1 < len(words); i++ {
			if !strings.EqualFold(words[i], "check_policy_service") {
				continue
			}
			i++
			s := milterOf(p.Name, words[i], "")
			s.Policy = true
			if !seen[s.Addr] {
				seen[s.Addr] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// policyMeanwhile is what smtpd answers the clients that reach a policy
// service that does not answer.
func policyMeanwhile(s milterSpec) string {
	if s.Action != "" {
		return "Postfix's smtpd acts on every client that reaches it as its default_action " + s.Action + " says"
	}
	return `Postfix's smtpd answers every client that reaches it "451 4.3.5 Server configuration problem", so that mail waits at its senders`
}

// parseMilters reads a milter list (postconf(5) smtpd_milters): milters
// separated by commas or white space, each an address or, since Postfix
// 3.0, { address, name=value, ... }. action is milter_default_action.
func parseMilters(param, value, action string) []milterSpec {
	var out []milterSpec
	for _, tok := range refTokens(value) {
		out = append(out, milterOf(param, tok, action))
	}
	return out
}

// milterOf is the milter (or policy service) of one list element: an
// address, or a { address, name=value, ... } group, whose default_action
// wins over action.
func milterOf(param, tok, action string) milterSpec {
	s := milterSpec{Param: param, Addr: tok, Action: action}
	group, ok := strings.CutPrefix(tok, "{")
	if !ok {
		return s
	}
	for i, f := range strings.Split(strings.TrimSuffix(group, "}"), ",") {
		f = strings.TrimSpace(f)
		if i == 0 {
			s.Addr = f
			continue
		}
		if name, v, ok := strings.Cut(f, "="); ok && strings.TrimSpace(name) == "default_action" {
			s.Action = strings.TrimSpace(v)
		}
	}
	return s
}

// reachWarnings tries each milter and policy service of the staged
// configuration (expanded: postconf -n -x; masterCF: its master.cf) on
// this machine (a loopback address, localhost, a unix socket) and returns
// a warning for each that does not answer. A unix: path is the queue
// directory's when relative, and the queue directory's or the system's
// when absolute (a chrooted smtpd reads it below the queue directory):
// either that answers will do. A policy service of master.cf's own
// (unix:private/policyd-spf, a spawn service) is left alone: master
// makes its socket at the reload.
func (m *Manager) reachWarnings(ctx context.Context, expanded, masterCF string) []string {
	vals := map[string]string{"milter_default_action": "tempfail"}
	var params []Param
	for _, line := range strings.Split(expanded, "\n") {
		if name, value, ok := strings.Cut(line, " = "); ok {
			vals[name] = value
			params = append(params, Param{Name: name, Value: value})
		}
	}
	var specs []milterSpec
	for _, param := range []string{"smtpd_milters", "non_smtpd_milters"} {
		specs = append(specs, parseMilters(param, vals[param], vals["milter_default_action"])...)
	}
	own := map[string]bool{}
	services := parseMasterCF(masterCF)
	for _, svc := range services {
		own["unix:private/"+svc.Name], own["unix:public/"+svc.Name] = true, true
	}
	for _, s := range policyServices(params) {
		if !own[s.Addr] {
			specs = append(specs, s)
		}
	}
	// An smtpd service's own milters and policy services (-o overrides:
	// a submission port with its own OpenDKIM signer), where main.cf's
	// lists do not have them already.
	known := map[string]bool{}
	for _, s := range specs {
		known[s.Addr] = true
	}
	for _, svc := range services {
		if svc.Command() != "smtpd" {
			continue
		}
		where := "service " + svc.Name + ", -o "
		action := vals["milter_default_action"]
		if a, ok := svc.Opt("milter_default_action"); ok {
			action = a
		}
		var more []milterSpec
		if v, ok := svc.Opt("smtpd_milters"); ok && !strings.Contains(v, "$") {
			more = parseMilters(where+"smtpd_milters", v, action)
		}
		for _, s := range policyServices(svc.OptParams()) {
			s.Param = where + s.Param
			more = append(more, s)
		}
		for _, s := range more {
			if !known[s.Addr] && !own[s.Addr] && !strings.Contains(s.Addr, "$") {
				known[s.Addr] = true
				specs = append(specs, s)
			}
		}
	}
	if len(specs) > maxMilters {
		specs = specs[:maxMilters]
	}
	queueDir := m.QueueDirectory()
	why := make([]string, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			why[i] = milterUnreachable(ctx, s.Addr, queueDir)
		}()
	}
	wg.Wait()
	var out []string
	for i, s := range specs {
		if why[i] == "" {
			continue
		}
		if s.Policy {
			out = append(out, store.Sentence("Policy service %s (%s) does not answer (%s): until it does, %s", s.Addr, s.Param, why[i], policyMeanwhile(s)))
			continue
		}
		out = append(out, store.Sentence("Milter %s (%s) does not answer (%s): until it does, %s", s.Addr, s.Param, why[i], milterMeanwhile(s)))
	}
	return out
}

// milterMeanwhile is what Postfix does with the mail a milter that does
// not answer would see.
func milterMeanwhile(s milterSpec) string {
	action := strings.ToLower(s.Action)
	switch action {
	case "accept":
		return "Postfix passes that mail without it (default_action accept)"
	case "reject":
		return "Postfix rejects that mail (default_action reject)"
	case "quarantine":
		return "Postfix accepts that mail and puts it on hold (default_action quarantine)"
	}
	if s.Param == "smtpd_milters" {
		return `Postfix's smtpd answers every client "451 4.7.1 Service unavailable - try again later", so all mail from outside waits at its senders (default_action ` + action + ")"
	}
	return "Postfix defers the mail submitted on this machine (default_action " + action + ")"
}

// milterUnreachable connects to a milter address and says why it does not
// answer, "" when it does or when the address is not one this check
// knows (Postfix's own checks have the last word on its syntax).
func milterUnreachable(ctx context.Context, addr, queueDir string) string {
	var d net.Dialer
	ctx, cancel := context.WithTimeout(ctx, milterDialTimeout)
	defer cancel()
	try := func(network, a string) error {
		c, err := d.DialContext(ctx, network, a)
		if err == nil {
			_ = c.Close()
		}
		return err
	}
	kind, rest, ok := strings.Cut(addr, ":")
	if !ok {
		return ""
	}
	switch kind {
	case "inet":
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return ""
		}
		// A milter on this machine only: the apply does not reach out
		// to other hosts (nor ask DNS about a container's name).
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return ""
		}
		return dialWhy(try("tcp", net.JoinHostPort(host, port)), "")
	case "unix", "local":
		var paths []string
		switch {
		case filepath.IsAbs(rest):
			paths = append(paths, rest)
			if queueDir != "" {
				paths = append(paths, filepath.Join(queueDir, rest))
			}
		case queueDir != "":
			paths = append(paths, filepath.Join(queueDir, rest))
		default:
			return ""
		}
		var first error
		for _, p := range paths {
			err := try("unix", p)
			if err == nil {
				return ""
			}
			if first == nil {
				first = err
			}
		}
		return dialWhy(first, paths[0])
	}
	return ""
}

// dialWhy says why a connection failed, in words for the administrator
// (never the Go error's text).
func dialWhy(err error, path string) string {
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, syscall.ECONNREFUSED):
		if path != "" {
			return "no program listens on the socket " + path
		}
		return "connection refused"
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ENOENT):
		return "there is no socket " + path
	case errors.Is(err, os.ErrPermission):
		return "the socket " + path + " may not be opened"
	case errors.As(err, &dnsErr):
		return "localhost does not resolve"
	case errors.Is(err, context.DeadlineExceeded), os.IsTimeout(err):
		return fmt.Sprintf("no answer within %s", milterDialTimeout)
	}
	return "it cannot be reached"
}
