package queue

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postdeck/panics"
	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
)

// qbMainCF makes the benchmark instance fill fast and then sit still:
// smtpd puts every message on hold as it is received (no delivery attempt
// per message, which is what makes Postfix slow to fill), and after the
// fill `postsuper -H` moves them to the deferred queue, whose next scan is
// a day away. The queue files are Postfix's own, written by smtpd and
// cleanup from real SMTP sessions.
const qbMainCF = `smtpd_client_restrictions = check_client_access static:HOLD
queue_run_delay = 1d
minimal_backoff_time = 1d
maximal_backoff_time = 1d
`

// qbFill sends n messages from sender with smtp-source (20 sessions,
// several messages per connection), waits until they are all in the hold
// queue and releases them to deferred.
func qbFill(b *testing.B, inst *postfixtest.Instance, p postfix.Runner, n int, sender string, want int) {
	b.Helper()
	start := time.Now()
	cmd := exec.Command(filepath.Join(postfixtest.SbinDir, "smtp-source"), "-d", "-s", "20", "-l", "600",
		"-m", strconv.Itoa(n), "-f", sender, "-t", "rcpt@dest.bench.test", inst.SMTPAddr)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("smtp-source: %v: %s", err, out)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		held, err := qbCount(p, Hold)
		if err != nil {
			b.Fatal(err)
		}
		if held == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d messages held", held, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, stderr, err := p.Run(context.Background(), nil, "postsuper", "-H", "ALL"); err != nil {
		b.Fatalf("postsuper -H ALL: %v: %s", err, stderr)
	}
	deferred, err := qbCount(p, Deferred)
	if err != nil || deferred != want {
		b.Fatalf("%d deferred (%v), want %d", deferred, err, want)
	}
	b.Logf("filled %d messages in %v (%.0f msg/s)", n, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds())
}

// qbCount counts the messages in one queue by scanning postqueue -j
// output for the queue name (no JSON decoding, no Queue code).
func qbCount(p postfix.Runner, queue string) (int, error) {
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := p.Stream(context.Background(), nil, pw, nil, "postqueue", "-j")
		_ = pw.CloseWithError(err)
		errc <- err
	}()
	n := 0
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	marker := `"queue_name": "` + queue + `"`
	for sc.Scan() {
		if strings.Contains(sc.Text(), marker) {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return n, <-errc
}

// qbBare times a bare `postqueue -j` whose output is discarded.
func qbBare(b *testing.B, p postfix.Runner) time.Duration {
	b.Helper()
	start := time.Now()
	if err := p.Stream(context.Background(), nil, io.Discard, nil, "postqueue", "-j"); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// qbFirstPage times a cold, filtered first page (no snapshot yet).
func qbFirstPage(b *testing.B, q *Queue, f Filter, wantTotal int) time.Duration {
	b.Helper()
	q.Refresh()
	start := time.Now()
	page, err := q.List(context.Background(), f)
	d := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if page.Total != wantTotal || len(page.Items) != 50 {
		b.Fatalf("total %d items %d, want %d and 50", page.Total, len(page.Items), wantTotal)
	}
	return d
}

func qbMedian(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// qbListVsBare prints the first-page time against a bare postqueue -j,
// alternating the two three times.
func qbListVsBare(b *testing.B, name string, q *Queue, p postfix.Runner, f Filter, total int) {
	b.Helper()
	var bare, list []time.Duration
	for range 3 {
		bare = append(bare, qbBare(b, p))
		list = append(list, qbFirstPage(b, q, f, total))
	}
	mb, ml := qbMedian(bare), qbMedian(list)
	ratio := ml.Seconds() / mb.Seconds()
	qbReport(b, name, fmt.Sprintf("%.3fs", ml.Seconds()), fmt.Sprintf("postqueue -j %.3fs", mb.Seconds()), ratio, "1.5x", ratio <= 1.5)
}

func qbReport(b *testing.B, name, value, baseline string, ratio float64, target string, ok bool) {
	b.Helper()
	verdict := "PASS"
	if !ok {
		verdict = "FAIL"
	}
	line := fmt.Sprintf("BENCH %s: %s (baseline %s) ratio %.2f target %s %s", name, value, baseline, ratio, target, verdict)
	fmt.Println(line)
	b.Log(line)
	if !ok {
		b.Errorf("%s missed its target", name)
	}
}

// qbVmHWM returns the process's peak resident set size in bytes.
func qbVmHWM() (int64, error) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// qbPeakMemory lists 100,000 messages and reports the Go heap high-water
// mark (sampled) and the process's peak RSS (VmHWM, reset just before).
func qbPeakMemory(b *testing.B, q *Queue, f Filter, total int) {
	b.Helper()
	q.Refresh()
	runtime.GC()
	var idle runtime.MemStats
	runtime.ReadMemStats(&idle)
	// Reset the peak RSS counter (Linux: "5" > clear_refs).
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset VmHWM: %v", err)
	}
	var heapPeak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > heapPeak.Load() {
				heapPeak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	page, err := q.List(context.Background(), f)
	close(stop)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	if page.Total != total {
		b.Fatalf("total %d, want %d", page.Total, total)
	}
	hwm, err := qbVmHWM()
	if err != nil {
		b.Fatal(err)
	}
	const target = 96 << 20
	mb := func(n uint64) string { return fmt.Sprintf("%.1fMB", float64(n)/(1<<20)) }
	qbReport(b, "queue_list_100k_peak_rss", mb(uint64(hwm)), "idle heap "+mb(idle.HeapInuse), float64(hwm)/float64(target), "96MB", hwm < target)
	qbReport(b, "queue_list_100k_peak_go_heap", mb(heapPeak.Load()), "idle heap "+mb(idle.HeapInuse), float64(heapPeak.Load())/float64(target), "96MB", heapPeak.Load() < target)
}

// qbHoldRelease holds, then releases, all messages matching a filter and
// reports each against the same operations done by hand (postqueue -j
// piped to grep's equivalent and one postsuper run) as the baseline.
func qbHoldRelease(b *testing.B, q *Queue, p postfix.Runner, sender string, n int) {
	b.Helper()
	ctx := context.Background()
	// Baseline: the ids, then one bare postsuper -h - and -H -.
	var ids []string
	if err := q.scan(ctx, func(m *jsonMessage) error {
		if m.Sender == sender {
			ids = append(ids, m.QueueID)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	if len(ids) != n {
		b.Fatalf("%d messages from %s, want %d", len(ids), sender, n)
	}
	stdin := strings.Join(ids, "\n") + "\n"
	bareOne := func(flag string) time.Duration {
		start := time.Now()
		if _, err := qbCount(p, Deferred); err != nil { // read postqueue -j line by line
			b.Fatal(err)
		}
		if _, stderr, err := p.Run(ctx, strings.NewReader(stdin), "postsuper", flag, "-"); err != nil {
			b.Fatalf("postsuper %s: %v %s", flag, err, stderr)
		}
		return time.Since(start)
	}
	bareHold := bareOne("-h")
	bareRelease := bareOne("-H")

	start := time.Now()
	res, err := q.ActionFilter(ctx, ActionHold, Filter{Sender: sender})
	hold := time.Since(start)
	if err != nil || res.Affected != n {
		b.Fatalf("hold: %+v %v", res, err)
	}
	if held, err := qbCount(p, Hold); err != nil || held != n {
		b.Fatalf("%d held (%v), want %d", held, err, n)
	}
	start = time.Now()
	res, err = q.ActionFilter(ctx, ActionRelease, Filter{Queue: Hold, Sender: sender})
	release := time.Since(start)
	if err != nil || res.Affected != n {
		b.Fatalf("release: %+v %v", res, err)
	}
	if held, err := qbCount(p, Hold); err != nil || held != 0 {
		b.Fatalf("%d still held (%v)", held, err)
	}
	name := fmt.Sprintf("queue_hold_filter_%dk", n/1000)
	qbReport(b, name, fmt.Sprintf("%.3fs", hold.Seconds()), fmt.Sprintf("postqueue -j + postsuper -h %.3fs", bareHold.Seconds()),
		hold.Seconds()/bareHold.Seconds(), "2s", hold < 2*time.Second)
	name = fmt.Sprintf("queue_release_filter_%dk", n/1000)
	qbReport(b, name, fmt.Sprintf("%.3fs", release.Seconds()), fmt.Sprintf("postqueue -j + postsuper -H %.3fs", bareRelease.Seconds()),
		release.Seconds()/bareRelease.Seconds(), "2s", release < 2*time.Second)
}

// BenchmarkQueue fills one private Postfix with 10,000 and then 100,000
// deferred messages and measures, at each size, the first filtered page
// against a bare postqueue -j; at 10,000 hold and release of everything
// that matches a filter; at 100,000 the peak memory of a listing.
func BenchmarkQueue(b *testing.B) {
	inst := postfixtest.Start(b, postfixtest.Options{MainCF: qbMainCF})
	p := postfix.Runner{SbinDir: postfixtest.SbinDir, ConfigDir: inst.ConfigDir}
	q := New(p, slog.New(slog.DiscardHandler))

	qbFill(b, inst, p, 10000, "first@bench.test", 10000)
	// A filter that matches every message and must sort all of them.
	qbListVsBare(b, "queue_list_first_page_10k", q, p, Filter{Sender: "first@", Sort: "-arrival"}, 10000)
	// Hold, then release, the 10,000 messages of a 10,000-message queue
	// that match a filter.
	qbHoldRelease(b, q, p, "first@bench.test", 10000)

	if os.Getenv("POSTDECK_BENCH_QUEUE_SMALL") == "1" {
		b.Log("POSTDECK_BENCH_QUEUE_SMALL=1: the 100,000-message stage is skipped")
		return
	}
	qbFill(b, inst, p, 90000, "second@bench.test", 100000)
	qbListVsBare(b, "queue_list_first_page_100k", q, p, Filter{Sender: "first@", Sort: "-arrival"}, 10000)
	qbPeakMemory(b, q, Filter{Q: "bench.test"}, 100000)
	if n := panics.Total(); n != 0 {
		b.Fatalf("%d panics recovered", n)
	}
}
