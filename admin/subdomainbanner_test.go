package admin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSubdomainBanner: every page warns while relay domains take the
// mail of every name under them (Postfix's default
// parent_domain_matches_subdomains, in a main config older than the
// shipped line), with both ways out; the warning ends when either is
// taken. The mta test TestRelayDomainMeansThatDomainOnly shows on a real
// Postfix that such a main.cf takes the subdomains' mail.
func TestSubdomainBanner(t *testing.T) {
	base := t.TempDir()
	conf := filepath.Join(base, "etc")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(main string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(conf, "main.cf"), []byte(main), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("relay_domains = partner.example\n")
	s, _, _ := loggedService(t, withMTA(t, base, conf))
	banners := func() []Banner {
		var out []Banner
		for _, b := range s.Banners(context.Background()) {
			if strings.Contains(b.Text, "parent_domain_matches_subdomains") {
				out = append(out, b)
			}
		}
		return out
	}
	got := banners()
	if len(got) != 1 {
		t.Fatalf("banners %+v, want one", got)
	}
	want := `The relay domain partner.example also takes mail for every name under it (x@anything.partner.example is accepted and relayed to that name's MX): the main config keeps Postfix's default parent_domain_matches_subdomains, which names relay_domains. If only the listed domains are meant, add to the main config the line "parent_domain_matches_subdomains = debug_peer_list, fast_flush_domains, mynetworks, permit_mx_backup_networks, qmqpd_authorized_clients, smtpd_access_maps"; if the subdomains are meant, list .partner.example among the relay domains as well.`
	if b := got[0]; b.Kind != "warning" || b.Link != "/mta/settings" || b.Text != want {
		t.Errorf("banner %+v\nwant text %s", b, want)
	}

	write("relay_domains = partner.example, other.example\n")
	if got := banners(); len(got) != 1 || !strings.HasPrefix(got[0].Text, "The relay domains partner.example, other.example also take mail for every name under them (x@anything.partner.example ") {
		t.Errorf("two domains: %+v", got)
	}
	// Either way out ends the warning.
	for _, main := range []string{
		"relay_domains = partner.example .partner.example\n",
		"parent_domain_matches_subdomains = debug_peer_list, fast_flush_domains, mynetworks, permit_mx_backup_networks, qmqpd_authorized_clients, smtpd_access_maps\nrelay_domains = partner.example\n",
	} {
		write(main)
		if got := banners(); len(got) != 0 {
			t.Errorf("%q: banners %+v, want none", main, got)
		}
	}
}
