package mta

import (
	"os"
	"strings"
	"time"

	"postdeck/store"
)

// DefaultMainConfig is the shipped Edit Main Config document. It references
// the default maps through $config_directory, so the same text works for
// /etc/postfix and for a private instance.
const DefaultMainConfig = `# Postfix main configuration managed by postdeck.
# The parameters of the MTA Settings page (host name, relay domains, relay
# hosts, networks, size limit, HELO name, recipient verification) are set
# there and must not appear here. See postconf(5) for every parameter.

compatibility_level = 3.6
biff = no
append_dot_mydomain = no
readme_directory = no
smtpd_banner = $myhostname ESMTP
enable_long_queue_ids = yes
smtputf8_enable = no

# A relay domain means that domain only; ".example.com" in Relay domains
# means its subdomains. Postfix's own default list also names
# relay_domains, with which example.com takes mail for every
# anything.example.com too, and relays it to that name's MX.
parent_domain_matches_subdomains = debug_peer_list, fast_flush_domains,
    mynetworks, permit_mx_backup_networks, qmqpd_authorized_clients,
    smtpd_access_maps

# Relay control: only My Networks may relay to other domains.
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,
    check_recipient_access hash:$config_directory/maps.d/hash.check-recipient-access.map

# Default maps (MTA > Maps)
virtual_alias_maps = hash:$config_directory/maps.d/hash.virtual-alias-maps.map
transport_maps = hash:$config_directory/maps.d/hash.transport-maps.map

# Outgoing TLS: opportunistic, with per-domain policies
smtp_tls_security_level = may
smtp_tls_policy_maps = hash:$config_directory/maps.d/hash.tls-policy.map
smtp_tls_loglevel = 1
# Trust anchors for the verify and secure policies: the system's CA bundle
smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt

# Outgoing SMTP authentication for relay hosts that need it
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = hash:$config_directory/maps.d/hash.smtp-sasl-password_maps.map
smtp_sasl_security_options = noanonymous
smtp_sasl_tls_security_options = noanonymous
`

// DefaultMapNames are the maps created at first start, all hash maps.
var DefaultMapNames = []string{
	"virtual-alias-maps", "tls-policy", "smtp-sasl-password_maps",
	"check-recipient-access", "transport-maps",
}

// DefaultState is what a new database is seeded with.
func DefaultState(now time.Time) store.State {
	st := store.State{Settings: store.DefaultSettings(), MainConfig: defaultMainConfigHere()}
	for _, name := range DefaultMapNames {
		st.Maps = append(st.Maps, store.Map{Name: name, Type: "hash", Owner: store.OwnerAdmin, Updated: now.UTC()})
	}
	return st
}

// debianCABundle is the CA bundle DefaultMainConfig names.
const debianCABundle = "/etc/ssl/certs/ca-certificates.crt"

// caBundles are where distributions keep the system's CA bundle, one
// PEM file (as crypto/x509 looks for it): Debian and Ubuntu, Fedora and
// RHEL, RHEL 7 and later, openSUSE, Alpine. A file is read before the
// smtp client enters a chroot jail, a directory (smtp_tls_CApath) is read
// inside it, so the bundle is a file.
var caBundles = []string{
	debianCABundle,
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// defaultCABundle is the first CA bundle of caBundles this machine has,
// Debian's path when it has none.
func defaultCABundle() string {
	for _, p := range caBundles {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return debianCABundle
}

// defaultMainConfigHere is DefaultMainConfig with this machine's CA
// bundle, and without the line when it has none (the check of the files
// main.cf names would refuse every change for a missing one; the
// verify policies then say what is missing).
func defaultMainConfigHere() string {
	bundle := defaultCABundle()
	line := "smtp_tls_CAfile = " + debianCABundle + "\n"
	if _, err := os.Stat(bundle); err != nil {
		comment := "# Trust anchors for the verify and secure policies: the system's CA bundle\n"
		return strings.Replace(DefaultMainConfig, comment+line, "", 1)
	}
	return strings.Replace(DefaultMainConfig, line, "smtp_tls_CAfile = "+bundle+"\n", 1)
}
