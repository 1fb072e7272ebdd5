package mta

import (
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
	st := store.State{Settings: store.DefaultSettings(), MainConfig: DefaultMainConfig}
	for _, name := range DefaultMapNames {
		st.Maps = append(st.Maps, store.Map{Name: name, Type: "hash", Owner: store.OwnerAdmin, Updated: now.UTC()})
	}
	return st
}
