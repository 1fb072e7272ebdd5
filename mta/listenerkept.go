package mta

import (
	"net"
	"strings"

	"postdeck/store"
)

// The SMTP listener a master config keeps.
//
// postdeck's SMTP listener (--smtp-listen) is where Postfix takes mail
// in, where Send Mail submits and where the open-relay probe asks. A
// master config pasted from another system (Debian's, with "smtp inet"
// on port 25, on a gateway whose listener is 127.0.0.1:2525) was saved
// without it: Postfix stopped taking mail there, and Send Mail answered
// that Postfix did not answer, while it ran. A document that drops the
// service the stored one had for the listener is refused; one stored
// without it (an import whose listener is named otherwise) is not judged.

// servesListen reports whether s is an inet service of smtpd or
// postscreen that listens on addr (host:port; an empty host is every
// address): the same port, on addr's host or on every address.
func servesListen(s masterService, addr string) bool {
	if s.Type != "inet" || (s.Command() != "smtpd" && s.Command() != "postscreen") {
		return false
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	svcHost, svcPort := "", s.Name
	if strings.Contains(s.Name, ":") {
		if svcHost, svcPort, err = net.SplitHostPort(s.Name); err != nil {
			return false
		}
	}
	if portNumber(svcPort) != portNumber(port) {
		return false
	}
	every := func(h string) bool { return h == "" || h == "*" || h == "0.0.0.0" || h == "::" }
	return every(svcHost) || strings.EqualFold(svcHost, host)
}

// portNumber is a master.cf service port as a number: "smtp" is 25,
// "submission" 587, "smtps" and "submissions" 465 (the names Postfix's
// own master.cf uses); another name is kept as it is.
func portNumber(p string) string {
	switch strings.ToLower(p) {
	case "smtp":
		return "25"
	case "submission":
		return "587"
	case "smtps", "submissions":
		return "465"
	}
	return p
}

// checkListenerKept refuses a master config document without a service
// for the SMTP listener listen when stored has one.
func checkListenerKept(doc, stored []masterService, listen string) error {
	var had *masterService
	for i := range stored {
		if servesListen(stored[i], listen) {
			had = &stored[i]
			break
		}
	}
	if had == nil {
		return nil
	}
	for _, s := range doc {
		if servesListen(s, listen) {
			return nil
		}
	}
	return store.Invalid(FieldMasterConfig, "The master config has no service for postdeck's SMTP listener %s (--smtp-listen) any more: Postfix would stop taking mail there, and Send Mail and the open-relay probe use it. Keep the service %s (%s %s ... %s), or start postdeck with the --smtp-listen of the listener this document has", listen, had.Name, had.Name, had.Type, had.Command())
}
