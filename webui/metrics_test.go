package webui

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
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
		if accepted >= 2 && delivered >= 2 && deferred >= 2 && reqs >= 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics did not move: accepted +%v delivered +%v deferred +%v metrics requests %v", accepted, delivered, deferred, reqs)
		}
		time.Sleep(time.Second)
	}
}
