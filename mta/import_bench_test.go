package mta

import (
	"context"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
)

// BenchmarkImportCheckMailcow measures what `postdeck import --check` does
// with the largest real configuration (mailcow: 174 lines of main.cf,
// 144 of master.cf, 20 mysql tables through proxymap): the import (postconf,
// the tables it manages read and rebuilt by postmap) and the check (the
// imported state rendered, postconf -n, -n -x, -F and -P on both sides). It
// prints the median of several runs against the 1 s target, beside the
// time of one bare postconf -n in the same run.
func BenchmarkImportCheckMailcow(b *testing.B) {
	postfixtest.Require(b)
	projects := corpusProjects(b)
	found := false
	for _, p := range projects {
		found = found || p == "mailcow"
	}
	if !found {
		b.Skip("the real corpus has no mailcow configuration")
	}
	ctx := context.Background()
	dir := corpusHost(b, "mailcow", postfixtest.Dir(b))
	opts := ImportOptions{SbinDir: postfixtest.SbinDir, Instance: corpusInstance()}
	const rounds = 7
	var bare, full []time.Duration
	for i := 0; i < rounds; i++ {
		start := time.Now()
		if _, err := takeSnapshot(ctx, postfixtest.SbinDir, dir); err != nil {
			b.Fatal(err)
		}
		bare = append(bare, time.Since(start)/4) // a snapshot is four postconf runs
		start = time.Now()
		res, err := ImportWith(ctx, dir, opts)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := CheckImport(ctx, postfixtest.SbinDir, dir, res)
		if err != nil {
			b.Fatal(err)
		}
		full = append(full, time.Since(start))
		if n := len(rep.Changed()); n != 0 {
			b.Fatalf("the check finds %d differences besides the wiring and the map paths", n)
		}
	}
	mf, mb := median(full), median(bare)
	b.Log(postfixtest.Judge(b, mf < time.Second, "BENCH import-check-mailcow: median %v (baseline one postconf run %v) ratio %.1f target <1s",
		mf.Round(time.Millisecond), mb.Round(100*time.Microsecond), float64(mf)/float64(mb)))
	b.ReportMetric(mf.Seconds(), "s/import+check")
}
