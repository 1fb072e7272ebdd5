package webui

import (
	"errors"
	"html"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"postdeck/admin"
)

// TestRelayTablesThroughAPIAndConsole: Relay domains and My Networks given
// as tables (a postdeck map by name, a table of any type by its path) are
// saved through the API and the console, applied, and shown back; Postfix
// then accepts mail for a domain the table lists and refuses relaying for
// one it does not, and relays for a client the networks table lists.
func TestRelayTablesThroughAPIAndConsole(t *testing.T) {
	st := newStack(t)
	for name, m := range map[string]map[string]string{
		"relay-domains": {"type": "hash", "content": "allowed.example.test OK\n"},
		"trusted-nets":  {"type": "cidr", "content": "10.99.0.0/16 OK\n"},
	} {
		if r := st.socketDo(t, "PUT", "/api/v1/maps/"+name, m); r.Status != 200 {
			t.Fatalf("map %s: %d %s", name, r.Status, r.Body)
		}
	}

	// Through the API: both lists are postdeck maps; the test client
	// (127.0.0.1) is not in My Networks.
	var s admin.SettingsDoc
	st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &s)
	s.RelayDomains = []string{"map:relay-domains"}
	s.MyNetworks = []string{"map:trusted-nets"}
	if r := st.socketDo(t, "PUT", "/api/v1/settings", s); r.Status != 200 {
		t.Fatalf("settings with tables: %d %s", r.Status, r.Body)
	}
	var back admin.SettingsDoc
	st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &back)
	if strings.Join(back.RelayDomains, ",") != "map:relay-domains" || strings.Join(back.MyNetworks, ",") != "map:trusted-nets" {
		t.Errorf("shown back: %v %v", back.RelayDomains, back.MyNetworks)
	}
	if got := postconfX(t, st, "relay_domains"); got != "hash:"+filepath.Join(st.inst.MapsDir(), "hash.relay-domains.map") {
		t.Errorf("relay_domains = %q", got)
	}
	if got := rcpt(t, st.smtp, "user@allowed.example.test"); got != 250 {
		t.Errorf("a domain the relay domains table lists: RCPT %d, want 250", got)
	}
	c, err := smtp.Dial(st.smtp)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("sender@example.org", []string{"user@allowed.example.test"}, strings.NewReader("Subject: relayed\r\n\r\nfor a relay domain the table lists\r\n")); err != nil {
		t.Errorf("mail for a domain the table lists: %v", err)
	}
	_ = c.Close()
	if got := rcpt(t, st.smtp, "user@elsewhere.example.test"); got != 554 {
		t.Errorf("a domain the table does not list, from a client outside My Networks: RCPT %d, want 554", got)
	}

	// Through the console: a table given by type and path, names and
	// networks beside it; the client is in My Networks now.
	cidr := "cidr:" + filepath.Join(st.inst.MapsDir(), "cidr.trusted-nets.map")
	adm := st.login(t, "admin")
	form := url.Values{
		"hostname": {s.Hostname}, "relay_domains": {"map:relay-domains\nexample.org"},
		"external_relay_host": {s.ExternalRelayHost}, "internal_relay_host": {""}, "relay_transport": {""},
		"unverified_recipient_reject_code": {"554"}, "my_networks": {cidr + "\n127.0.0.0/8"},
		"message_size_limit": {"10240000"}, "helo_name": {""}, "version": {back.Version},
	}
	if r := adm.postForm("/mta/settings", form, true); r.Status != 303 {
		t.Fatalf("settings form: %d %s", r.Status, r.Body)
	}
	page := html.UnescapeString(string(adm.get("/mta/settings").Body))
	for _, want := range []string{"map:relay-domains\nexample.org", cidr + "\n127.0.0.0/8", `value="554"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the settings page does not show %q", want)
		}
	}
	if got := postconfX(t, st, "mynetworks"); got != cidr+", 127.0.0.0/8" {
		t.Errorf("mynetworks = %q", got)
	}
	if got := rcpt(t, st.smtp, "user@elsewhere.example.test"); got != 250 {
		t.Errorf("relaying for a client in My Networks: RCPT %d, want 250", got)
	}
	// A map the settings use cannot be deleted.
	if r := st.socketDo(t, "DELETE", "/api/v1/maps/relay-domains", nil); r.Status != 409 || !strings.Contains(string(r.Body), "relay_domains") {
		t.Errorf("deleting a map Relay domains uses: %d %s", r.Status, r.Body)
	}
}

// rcpt returns the SMTP code Postfix answers RCPT TO with.
func rcpt(t *testing.T, addr, to string) int {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("sender@example.org", nil); err != nil {
		t.Fatal(err)
	}
	err = c.Rcpt(to, nil)
	if err == nil {
		return 250
	}
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatal(err)
	}
	return se.Code
}
