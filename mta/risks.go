package mta

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"postdeck/store"
)

// ConfirmField is the request field that confirms a risky change (JSON
// "confirm": true; the forms' checkbox of the same name).
const ConfirmField = "confirm"

// MinSafeMessageSize is the Message Size Limit under which a save asks
// for confirmation: below 1 MiB, ordinary mail with an attachment bounces.
const MinSafeMessageSize = 1 << 20

// Risky network widths: a public network wider than these in My Networks
// asks for confirmation (every client in it may relay).
const (
	riskyIPv4Bits = 16
	riskyIPv6Bits = 32
)

// SettingsRisks returns what a change of the MTA settings from old to new
// puts at risk, each a *store.UserError of kind store.ErrConfirm naming the
// field (nil when nothing): a public network wider than a /16 (IPv4) or
// /32 (IPv6) newly in My Networks, a Message Size Limit newly under 1 MiB,
// and the last relay domain removed. The settings are validated ones.
func SettingsRisks(old, new store.Settings) error {
	var risks []error
	for _, n := range new.MyNetworks {
		if slices.Contains(old.MyNetworks, n) {
			continue
		}
		p, err := netip.ParsePrefix(n)
		if err != nil || p.Addr().IsPrivate() || p.Addr().IsLoopback() {
			continue // a table, a file or a parameter; or a private range
		}
		if (p.Addr().Is4() && p.Bits() < riskyIPv4Bits) || (p.Addr().Is6() && p.Bits() < riskyIPv6Bits) {
			risks = append(risks, store.NeedsConfirm(FieldMyNetworks, ConfirmField,
				"My Networks: %s is a public network of %s addresses; every client in it may relay mail through this gateway. Confirm only if you manage all of it", p, addressCount(p)))
		}
	}
	if new.MessageSizeLimit < MinSafeMessageSize && new.MessageSizeLimit != old.MessageSizeLimit {
		risks = append(risks, store.NeedsConfirm(FieldMessageSizeLimit, ConfirmField,
			"Message Size Limit of %d bytes is under 1 MiB: mail with an ordinary attachment will be refused. Confirm if that is what you want", new.MessageSizeLimit))
	}
	if len(old.RelayDomains) > 0 && len(new.RelayDomains) == 0 {
		risks = append(risks, store.NeedsConfirm(FieldRelayDomains, ConfirmField,
			"Relay domains: removing the last one (%s) means this gateway accepts mail for no domain of yours. Confirm if it only sends mail", strings.Join(old.RelayDomains, ", ")))
	}
	return store.JoinFields(risks...)
}

// addressCount says how many addresses a prefix holds, in words.
func addressCount(p netip.Prefix) string {
	free := p.Addr().BitLen() - p.Bits()
	switch {
	case free >= 64:
		return "2^" + strconv.Itoa(free)
	case free >= 30:
		return "about " + strconv.Itoa(1<<(free-30)) + " billion"
	case free >= 20:
		return "about " + strconv.Itoa(1<<(free-20)) + " million"
	}
	return strconv.Itoa(1 << free)
}

// relayGuards are the restrictions that keep smtpd_relay_restrictions from
// relaying for strangers.
var relayGuards = []string{"reject_unauth_destination", "defer_unauth_destination"}

// MainConfigRisks returns what a change of the Edit Main Config document
// from old to new puts at risk (nil when nothing): the last of
// reject_unauth_destination and defer_unauth_destination removed from
// smtpd_relay_restrictions (Postfix's default has
// defer_unauth_destination; the open-relay probe still refuses a result
// that relays, this asks before a change that leans on other
// restrictions alone).
func MainConfigRisks(old, new string) error {
	is, err := ParseMainConfig(new)
	if err != nil {
		return nil // the document is refused on its own
	}
	was, err := ParseMainConfig(old)
	if err != nil {
		was = nil // read as setting nothing: each risk then takes Postfix's default
	}
	for _, risk := range []func(was, is []Param) error{relayGuardRisk, lifetimeRisk, tlsRequiredRisk, transportRisk} {
		if err := risk(was, is); err != nil {
			return err
		}
	}
	return nil
}

// relayGuardRisk asks before smtpd_relay_restrictions loses the last of
// relayGuards (was and is: the documents' parameters before and after).
func relayGuardRisk(was, is []Param) error {
	guarded := func(params []Param) (bool, int) {
		for _, p := range params {
			if p.Name == "smtpd_relay_restrictions" {
				for _, g := range relayGuards {
					if hasRestriction(p.Value, g) {
						return true, p.Line
					}
				}
				return false, p.Line
			}
		}
		return true, 0 // Postfix's default guards
	}
	if before, _ := guarded(was); before {
		if after, line := guarded(is); !after {
			return &store.UserError{Kind: store.ErrConfirm, Field: FieldMainConfig, Line: line, Confirm: ConfirmField,
				Msg: "Line " + strconv.Itoa(line) + ": " + store.Sentence("smtpd_relay_restrictions no longer has reject_unauth_destination (or defer_unauth_destination), the last restriction that keeps strangers from relaying. Confirm only if the restrictions left refuse them")}
		}
	}
	return nil
}

// tlsRequiredRisk asks before main.cf newly makes smtpd require TLS of
// every client (smtpd_tls_security_level = encrypt, or the older
// smtpd_enforce_tls = yes where the level is not set): the public
// listener then answers a sender that does not start TLS "530 5.7.0 Must
// issue a STARTTLS command first" (measured), and its mail bounces or
// waits. RFC 3207 forbids it on a public MX; the refusal without a
// certificate is the file checks' (tlstrust.go's neighbour, keypair.go).
func tlsRequiredRisk(was, is []Param) error {
	required := func(params []Param) (Param, bool) {
		var level, enforce Param
		for _, p := range params {
			switch p.Name {
			case "smtpd_tls_security_level":
				level = p
			case "smtpd_enforce_tls":
				enforce = p
			}
		}
		if v := strings.TrimSpace(level.Value); v != "" {
			return level, strings.EqualFold(v, "encrypt")
		}
		return enforce, strings.EqualFold(strings.TrimSpace(enforce.Value), "yes")
	}
	p, now := required(is)
	if _, before := required(was); !now || before {
		return nil
	}
	return &store.UserError{Kind: store.ErrConfirm, Field: FieldMainConfig, Line: p.Line, Confirm: ConfirmField,
		Msg: "Line " + strconv.Itoa(p.Line) + ": " + store.Sentence("%s = %s: Postfix's smtpd, on the public listener too, would answer every client that does not start TLS \"530 5.7.0 Must issue a STARTTLS command first\", and the mail of those senders would wait or bounce (RFC 3207: a public mail server must not require TLS). For a TLS-only submission port, set it on that service with -o in Edit Master Config. Confirm if every server that sends you mail uses TLS", p.Name, strings.TrimSpace(p.Value))}
}

// transportRisk asks before default_transport newly names Postfix's
// discard, error or retry service: every message for a domain that is not
// a relay domain (all outgoing mail) would be thrown away, bounced, or
// deferred until it bounces. An inbound-only gateway may mean it.
func transportRisk(was, is []Param) error {
	transport := func(params []Param) (Param, string) {
		for _, p := range params {
			if p.Name == "default_transport" {
				name, _, _ := strings.Cut(strings.TrimSpace(p.Value), ":")
				return p, strings.ToLower(name)
			}
		}
		return Param{}, ""
	}
	p, name := transport(is)
	what := map[string]string{"discard": "thrown away, with a line in the mail log only", "error": "bounced", "retry": "deferred until it bounces"}[name]
	if what == "" {
		return nil
	}
	if _, before := transport(was); before == name {
		return nil
	}
	return &store.UserError{Kind: store.ErrConfirm, Field: FieldMainConfig, Line: p.Line, Confirm: ConfirmField,
		Msg: "Line " + strconv.Itoa(p.Line) + ": " + store.Sentence("default_transport = %s: every message for a domain that is not a relay domain (all outgoing mail) would be %s. Confirm if this gateway only takes mail in", strings.TrimSpace(p.Value), what)}
}

// shortLifetime is the queue lifetime under which a change asks for
// confirmation: a relay host down for longer bounces the mail.
const shortLifetime = time.Hour

// lifetimeRisk asks before maximal_queue_lifetime or
// bounce_queue_lifetime newly goes under shortLifetime: 0 is not "keep
// for ever" but "try once" (postconf(5)), so that the first temporary
// failure (a partner's relay down for a minute, a greylisting server)
// bounces the mail.
func lifetimeRisk(was, is []Param) error {
	lifetime := func(params []Param, name string) (d time.Duration, p Param, ok bool) {
		for _, p := range params {
			if p.Name == name {
				d, ok := postfixTime(p.Value, 'd')
				return d, p, ok
			}
		}
		return 0, p, false // Postfix's default: 5 days
	}
	for _, name := range []string{"maximal_queue_lifetime", "bounce_queue_lifetime"} {
		d, p, ok := lifetime(is, name)
		if !ok || d >= shortLifetime {
			continue
		}
		if before, _, set := lifetime(was, name); set && before < shortLifetime {
			continue // so before the change
		}
		what := "the mail"
		if name == "bounce_queue_lifetime" {
			what = "bounce messages (the senders never learn that their mail failed)"
		}
		return &store.UserError{Kind: store.ErrConfirm, Field: FieldMainConfig, Line: p.Line, Confirm: ConfirmField,
			Msg: "Line " + strconv.Itoa(p.Line) + ": " + store.Sentence("%s = %s keeps a message that cannot be delivered for %s only (0 means one try, not for ever): a relay host that is down for longer makes Postfix give up on %s. Confirm if that is what you want; the default is 5d", name, strings.TrimSpace(p.Value), d, what)}
	}
	return nil
}

// postfixTime reads a Postfix time value: a number with an optional
// unit (s, m, h, d, w; unit is the default), as postconf(5) writes them.
func postfixTime(v string, unit byte) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if c := v[len(v)-1]; c < '0' || c > '9' {
		unit, v = c, v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	per := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[unit]
	if per == 0 || n > int64(1<<62)/int64(per) {
		return 0, false
	}
	return time.Duration(n) * per, true
}
