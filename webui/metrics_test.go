package webui

import (
	"bufio"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/admin"
	"postdeck/postfix/postfixtest"
)

// scrape returns the value of each series line of /metrics.
func scrape(t *testing.T, st *stack, token string) map[string]float64 {
	t.Helper()
	r := doJSON(t, http.DefaultClient, "GET", st.base+"/metrics", nil, map[string]string{"Authorization": "Bearer " + token})
	if r.Status != 200 {
		t.Fatalf("/metrics: %d %s", r.Status, r.Body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(r.Body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsChangeWhenMailFlows: /metrics needs a token, has the series
// of the packaging issue, and its values move when mail flows.
func TestMetricsChangeWhenMailFlows(t *testing.T) {
	st := newStack(t)
	if r := doJSON(t, http.DefaultClient, "GET", st.base+"/metrics", nil, nil); r.Status != 401 {
		t.Fatalf("/metrics without a token: %d", r.Status)
	}
	r := st.socketDo(t, "POST", "/api/v1/tokens", map[string]string{"name": "prom", "role": "auditor"})
	var tok struct {
		Token string `json:"token"`
	}
	r.decode(t, &tok)
	before := scrape(t, st, tok.Token)
	for _, series := range []string{
		`postdeck_queue_messages{queue="deferred"}`, `postdeck_queue_bytes{queue="active"}`,
		`postdeck_queue_oldest_message_age_seconds`, `postdeck_mpa_spool_messages`,
		`postdeck_mpa_error_repository_messages`, `postdeck_mpa_accepted_messages_total`,
		`postdeck_mpa_delivered_recipients_total`, `postdeck_mpa_failed_recipients_total`,
		`postdeck_spf_last_success_timestamp_seconds{map="gmail.com"}`,
		`postdeck_spf_last_refresh_failed{map="spf.protection.outlook.com"}`,
		`postdeck_apply_total{result="applied"}`, `postdeck_panics_total{component="mpa"}`,
		`postdeck_postfix_up`,
	} {
		if _, ok := before[series]; !ok {
			t.Errorf("series %s missing", series)
		}
	}
	if before[`postdeck_postfix_up`] != 1 {
		t.Errorf("postdeck_postfix_up = %v", before[`postdeck_postfix_up`])
	}
	for i := 0; i < 2; i++ {
		r := st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{
			"subject": "metrics", "from": "m@example.org", "recipients": "x@remote.example.net", "body": "x\n",
		})
		if r.Status != 200 {
			t.Fatalf("sendmail: %d %s", r.Status, r.Body)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st.queue.Refresh()
		after := scrape(t, st, tok.Token)
		accepted := after[`postdeck_mpa_accepted_messages_total`] - before[`postdeck_mpa_accepted_messages_total`]
		delivered := after[`postdeck_mpa_delivered_recipients_total`] - before[`postdeck_mpa_delivered_recipients_total`]
		deferred := after[`postdeck_queue_messages{queue="deferred"}`] - before[`postdeck_queue_messages{queue="deferred"}`]
		reqs := 0.0
		for k, v := range after {
			if strings.HasPrefix(k, `postdeck_http_requests_total{code="200",method="GET",route="/metrics"}`) {
				reqs = v
			}
		}
		// The deferred messages arrived before this scrape: the oldest
		// message of the queue has an age.
		oldest := after[`postdeck_queue_oldest_message_age_seconds`]
		if accepted >= 2 && delivered >= 2 && deferred >= 2 && reqs >= 1 && oldest > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics did not move: accepted +%v delivered +%v deferred +%v metrics requests %v oldest age %v", accepted, delivered, deferred, reqs, oldest)
		}
		time.Sleep(time.Second)
	}
}

// TestAPIReferenceListsEveryMetric keeps the series table of docs/api.md
// honest: every postdeck_* series a scrape exposes is in it with its type,
// and every series it names exists. A server certificate in the main
// config gives its end's series (the value checked too). An administrator who alerts on the
// error repository's quota or on in-doubt deliveries learns their names
// from that table.
func TestAPIReferenceListsEveryMetric(t *testing.T) {
	raw, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(raw), "## 6. Public routes and /metrics")
	section, _, _ = strings.Cut(section, "\n## ")
	documented := map[string]string{} // name -> type
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`postdeck_") {
			continue
		}
		documented[strings.Trim(strings.TrimSpace(cells[1]), "`")] = strings.TrimSpace(cells[2])
	}
	if len(documented) == 0 {
		t.Fatal("docs/api.md: no series table in section 6")
	}

	st := newStack(t)
	r := st.socketDo(t, "POST", "/api/v1/tokens", map[string]string{"name": "prom", "role": "auditor"})
	var tok struct {
		Token string `json:"token"`
	}
	r.decode(t, &tok)
	// A server certificate, so that its series is exposed: its end,
	// to the second, for where main.cf names it.
	notAfter := time.Now().Add(40 * 24 * time.Hour).Truncate(time.Second)
	cert, key := postfixtest.WriteCertificate(t, t.TempDir(), "gw.example.test", notAfter)
	var doc admin.MainConfigDoc
	st.socketDo(t, "GET", "/api/v1/mainconfig", nil).decode(t, &doc)
	if r := st.socketDo(t, "PUT", "/api/v1/mainconfig", map[string]string{"text": doc.Text + "smtpd_tls_cert_file = " + cert + "\nsmtpd_tls_key_file = " + key + "\n"}); r.Status != 200 {
		t.Fatalf("main config with a certificate: %d %s", r.Status, r.Body)
	}
	// A request first, so that postdeck_http_requests_total has a series.
	series := scrape(t, st, tok.Token)
	if got := series[`postdeck_tls_certificate_expiry_timestamp_seconds{path="`+cert+`",where="smtpd_tls_cert_file"}`]; got != float64(notAfter.Unix()) {
		t.Errorf("the certificate's end: %v, want %d", got, notAfter.Unix())
	}
	r = doJSON(t, http.DefaultClient, "GET", st.base+"/metrics", nil, map[string]string{"Authorization": "Bearer " + tok.Token})
	if r.Status != 200 {
		t.Fatalf("/metrics: %d %s", r.Status, r.Body)
	}
	exposed := map[string]string{}
	for _, line := range strings.Split(string(r.Body), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[1] == "TYPE" && strings.HasPrefix(f[2], "postdeck_") {
			exposed[f[2]] = f[3]
		}
	}
	for name, typ := range exposed {
		if documented[name] != typ {
			t.Errorf("%s (%s) is exposed; docs/api.md says %q", name, typ, documented[name])
		}
	}
	for name := range documented {
		// A standalone daemon has no cluster series:
		// TestDashboardNamesANodeThatIsDown (cmd/postdeck) checks them
		// on a cluster node.
		if _, ok := exposed[name]; !ok && !strings.HasPrefix(name, "postdeck_cluster_") {
			t.Errorf("docs/api.md names %s; /metrics has no such series", name)
		}
	}
}
