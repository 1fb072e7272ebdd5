package mta

import (
	"context"
	"fmt"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// BenchmarkApplySafetyChecks prints what the checks of issue 13 cost an
// apply: settings saves with the open-relay probe and without it,
// alternating in the same run (target: the probe adds at most 150 ms), the
// probe alone (one smtpd -S session), and the check that Postfix serves
// after a reload (a greeting and EHLO on each listener), which every save
// here includes.
func BenchmarkApplySafetyChecks(b *testing.B) {
	env := newTestEnv(b)
	ctx := context.Background()
	const rounds = 9
	var with, without, probe, serve []time.Duration
	s := validSettings()
	for i := 0; i < rounds; i++ {
		for _, skip := range []bool{false, true} {
			env.m.skipRelayProbe = skip
			s.Hostname = fmt.Sprintf("h%d-%v.bench.example.test", i, skip)
			start := time.Now()
			res, err := env.m.SaveSettings(ctx, "bench", s, "", ApplyOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if !res.Reloaded {
				b.Fatalf("save did not reload: %+v", res)
			}
			if skip {
				without = append(without, time.Since(start))
			} else {
				with = append(with, time.Since(start))
			}
		}
	}
	env.m.skipRelayProbe = false
	for i := 0; i < rounds; i++ {
		start := time.Now()
		v, err := env.m.probeRelay(ctx, env.inst.ConfigDir)
		if err != nil || v.relays() {
			b.Fatalf("probe: %+v %v", v, err)
		}
		probe = append(probe, time.Since(start))
		start = time.Now()
		if said, _ := env.m.checkServes(ctx, env.m.maillogSize()); said != "" {
			b.Fatal(said)
		}
		serve = append(serve, time.Since(start))
	}
	mw, mo := median(with), median(without)
	diff := mw - mo
	b.Log(postfixtest.Judge(b, diff <= 150*time.Millisecond, "BENCH relay-probe: apply with the probe median %v, without %v: the probe adds %v; the probe alone median %v; the serve check alone median %v; target <=150ms",
		mw.Round(time.Millisecond), mo.Round(time.Millisecond), diff.Round(time.Millisecond),
		median(probe).Round(100*time.Microsecond), median(serve).Round(100*time.Microsecond)))
}
