package jobs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkRefreshBothSources refreshes spf.protection.outlook.com and
// gmail.com against the local DNS server, from empty maps, and checks the
// 100 ms target. The baseline is the same questions asked one after the
// other with a plain miekg/dns client: the cost of the DNS traffic alone.
func BenchmarkRefreshBothSources(b *testing.B) {
	e := newEnv(b, RefresherConfig{})
	microsoftTree(e.dns)
	googleTree(e.dns)
	ctx := context.Background()
	if err := e.ref.Start(ctx); err != nil {
		b.Fatal(err)
	}
	var elapsed time.Duration
	var queries int
	var asked map[string]int
	for b.Loop() {
		e.maps.mu.Lock()
		clear(e.maps.maps)
		e.maps.mu.Unlock()
		e.dns.reset()
		start := time.Now()
		queries = 0
		for _, name := range []string{"spf.protection.outlook.com", "gmail.com"} {
			res, err := e.ref.RefreshNow(ctx, "bench", name)
			if err != nil || res.Outcome != OutcomeUpdated {
				b.Fatalf("%s: %+v %v", name, res, err)
			}
			queries += res.Queries
		}
		elapsed = time.Since(start)
		asked = e.dns.reset()
	}
	if e.maps.content("gmail.com") != googleMap || e.maps.content("spf.protection.outlook.com") != microsoftMap {
		b.Fatal("maps differ from the expected ones")
	}
	sent := 0
	var questions []string
	for q, n := range asked {
		sent += n
		questions = append(questions, q)
		if n > 1 {
			b.Errorf("query %q repeated %d times within one run", q, n)
		}
	}
	if sent != queries {
		b.Errorf("server saw %d queries, refresher counted %d", sent, queries)
	}

	// Baseline: the same questions, sequentially, with a bare client.
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	start := time.Now()
	for _, q := range questions {
		f := strings.Fields(q)
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(f[0]), dns.StringToType[f[1]])
		if _, _, err := c.ExchangeContext(ctx, m, e.dns.Addr); err != nil {
			b.Fatal(err)
		}
	}
	baseline := time.Since(start)

	const target = 100 * time.Millisecond
	verdict := "PASS"
	if elapsed >= target {
		verdict = "FAIL"
		b.Errorf("refresh of both sources took %v, target %v", elapsed, target)
	}
	line := fmt.Sprintf("BENCH spf_refresh_both_sources: %.2fms %d DNS queries (baseline %.2fms) ratio %.2f target <100ms %s",
		ms(elapsed), queries, ms(baseline), ms(elapsed)/ms(baseline), verdict)
	b.Log(line)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
