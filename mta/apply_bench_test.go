package mta

import (
	"context"
	"sort"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkSettingsSave measures a settings save from API call to a
// reloaded Postfix that proves it serves, against a bare `postfix reload`
// in the same run (issue 16: the median of seven saves within 2x the
// median of seven reloads), and an unchanged save (no Postfix command at
// all). Reloads and saves take turns, so that a burst of load elsewhere on
// the machine falls on both alike.
func BenchmarkSettingsSave(b *testing.B) {
	env := newTestEnv(b)
	ctx := context.Background()
	const rounds, target = 7, 2.0
	var bare, save, same []time.Duration
	s := validSettings()
	for i := 0; i < rounds; i++ {
		// The previous save's trash is removed after it answered: not
		// while the baseline runs.
		env.m.WaitTrash()
		start := time.Now()
		if _, _, err := env.m.Postfix().Run(ctx, nil, "postfix", "reload"); err != nil {
			b.Fatal(err)
		}
		bare = append(bare, time.Since(start))
		time.Sleep(100 * time.Millisecond)

		s.Hostname = []string{"a.bench.example.test", "b.bench.example.test"}[i%2]
		start = time.Now()
		res, err := env.m.SaveSettings(ctx, "bench", s, "", ApplyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if !res.Reloaded {
			b.Fatalf("save %d did not reload: %+v", i, res)
		}
		save = append(save, time.Since(start))
		time.Sleep(100 * time.Millisecond)
	}
	for i := 0; i < 3*rounds; i++ {
		start := time.Now()
		res, err := env.m.SaveSettings(ctx, "bench", s, "", ApplyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if res.Changed {
			b.Fatal("unchanged save changed files")
		}
		same = append(same, time.Since(start))
	}
	mb, ms, mu := median(bare), median(save), median(same)
	ratio := float64(ms) / float64(mb)
	b.Log(postfixtest.Judge(b, ratio <= target && mu < 50*time.Millisecond, "BENCH settings-save: median %v (baseline bare postfix reload %v) ratio %.2f target <=%.1f; unchanged save median %v target <50ms",
		ms.Round(time.Millisecond), mb.Round(time.Millisecond), ratio, target, mu.Round(100*time.Microsecond)))
}
