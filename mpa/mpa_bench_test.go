package mpa

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"postdeck/postfix/postfixtest"
)

// passRelay is the baseline content filter: a go-smtp server that relays
// each message synchronously to the reinjection listener over one reused
// connection per session, with no spool, no fsync and no processing.
type passRelay struct{ target string }

func (p passRelay) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	return &passSession{target: p.target}, nil
}

type passSession struct {
	target string
	cl     *gosmtp.Client
	from   string
	to     []string
}

func (s *passSession) Mail(from string, _ *gosmtp.MailOptions) error { s.from = from; return nil }
func (s *passSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *passSession) Data(r io.Reader) error {
	if s.cl == nil {
		cl, err := gosmtp.Dial(s.target)
		if err != nil {
			_, _ = io.Copy(io.Discard, r)
			return &gosmtp.SMTPError{Code: 451, Message: "relay down"}
		}
		s.cl = cl
	}
	if err := s.cl.SendMail(s.from, s.to, r); err != nil {
		_, _ = io.Copy(io.Discard, r)
		_ = s.cl.Close()
		s.cl = nil
		return &gosmtp.SMTPError{Code: 451, Message: "relay failed"}
	}
	return nil
}
func (s *passSession) Reset() { s.from, s.to = "", nil }
func (s *passSession) Logout() error {
	if s.cl != nil {
		_ = s.cl.Quit()
	}
	return nil
}

func startPassRelay(b *testing.B, ln net.Listener, target string) {
	srv := gosmtp.NewServer(passRelay{target: target})
	srv.Domain = "relay.example.test"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.MaxMessageBytes, srv.MaxRecipients = 50<<20, 1000
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
}

// pumpResult is one pump: messages per second, the CPU the whole machine
// (Postfix, this process, smtp-source) and this process (MPA or relay,
// and the sink) spent per message, in microseconds, and the share of the
// machine's CPU time left idle or waiting for the disk.
type pumpResult struct {
	rate, machinePerMsg, selfPerMsg, idle float64
}

// pumpMessages is how many messages one pump sends.
const pumpMessages = 1000

// pump sends n messages of about 2 kB with smtp-source over 10 sessions
// and measures until all of them reached the sink.
func pump(b *testing.B, addr string, sink *postfixtest.Sink, n int) pumpResult {
	b.Helper()
	total := sink.Count() + n // the previous runs have all arrived
	// Every run starts with the previous runs' files written out, so that
	// none pays for another's writeback.
	syscall.Sync()
	busy0, all0 := machineTicks(b)
	self0 := cpuTime(b)
	start := time.Now()
	cmd := exec.Command(filepath.Join(postfixtest.SbinDir, "smtp-source"), "-s", "10", "-l", "2000",
		"-m", strconv.Itoa(n), "-f", "a@example.test", "-t", "b@example.org", addr)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("smtp-source: %v: %s", err, out)
	}
	sink.Wait(b, total, 120*time.Second)
	elapsed := time.Since(start)
	busy, all := machineTicks(b)
	busy, all = busy-busy0, all-all0
	self := cpuTime(b) - self0
	return pumpResult{rate: float64(n) / elapsed.Seconds(), machinePerMsg: float64(busy.Microseconds()) / float64(n),
		selfPerMsg: float64(self.Microseconds()) / float64(n), idle: 1 - float64(busy)/float64(max(all, 1))}
}

// machineTicks is the CPU time all CPUs spent outside idle and iowait
// since boot, and the time they spent in all, from /proc/stat (in clock
// ticks of 10 ms: a pump of 1000 messages takes a few seconds, hundreds
// of ticks).
func machineTicks(b *testing.B) (busy, all time.Duration) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		b.Fatalf("/proc/stat: unexpected first line %q", line)
	}
	var busyTicks, allTicks int64
	for i, v := range f[1:9] {
		t, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatalf("/proc/stat: %q: %v", line, err)
		}
		allTicks += t
		if i != 3 && i != 4 { // idle, iowait
			busyTicks += t
		}
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(busyTicks) * tick, time.Duration(allTicks) * tick
}

// BenchmarkEndToEnd measures msg/s through Postfix + MPA + Postfix to a
// sink against Postfix + a pass-through relay (target ratio 0.9), and
// reports the ratio to Postfix without a content filter.
//
// Both filters serve the same Postfix instance in turn (filterSwitch):
// until 2026-12-06 each had an instance of its own, and two instances
// differ by themselves. On this machine's ext4 (no journal) Postfix's
// cleanup spends most of its time in the kernel's inode allocator
// stepping over recently deleted inodes (recently_deleted,
// find_inode_bit; perf by command), and which instance paid more moved
// with the order the rigs were created in: the machine's CPU per message,
// MPA minus relay, went from -0.18 to +0.43 ms between runs, and the
// comparison counted that as the filters' difference. Measured
// 2026-12-06 with one instance, six runs on a quiet host: median ratios
// 0.959, 0.958 (3,000 messages a pump: no tail effect), 0.971, 1.002,
// 1.001 and 0.893 (its rounds fell from 1.01 to 0.85); the machine idle
// 2-6% in both paths (user 0.25, system 0.62 of the CPU: Postfix's
// kernel work), so the paths are CPU-bound, and this process's CPU per
// message, 190-400 us more through the MPA, is most of the difference.
//
// Both paths keep the two cores nearly busy, so the line reports where
// the CPU goes: the machine's CPU per message and this process's share
// (MPA or relay, and the sink). Measured 2026-12-05 in five runs: this
// process 0.95-1.06 ms per message through the MPA against 0.73-0.82
// through the relay (in a probe with getrusage: user 0.15 ms, system
// 0.14, and 7 more voluntary context switches per message, from the group
// commits' fdatasyncs and the handoffs between session, committer and
// worker).
func BenchmarkEndToEnd(b *testing.B) {
	// No filter.
	sink0 := postfixtest.NewSink(b, 0)
	plain := postfixtest.Start(b, postfixtest.Options{RelayPort: sink0.Port})
	// One Postfix with a content filter, served by the pass-through relay
	// or the MPA.
	r := startRig(b)
	sw := newFilterSwitch(b, r.mpaLn)
	r.mpaLn = nil
	startPassRelay(b, sw.lanes[laneRelay], r.reinjAddr)
	_, db := r.startMPA(b, Config{Listener: sw.lanes[laneMPA]}) // the defaults: 32 workers, pipeline trace + rules
	// The rounds (why eleven: below) and the messages of each pump; a
	// smoke run takes one round of a fifth.
	rounds, nonesN, msgs := 11, 3, pumpMessages
	if postfixtest.Smoke() {
		rounds, nonesN, msgs = 1, 1, pumpMessages/5
	}
	through := func(lane int) pumpResult {
		sw.use(b, lane)
		return pump(b, r.inst.SMTPAddr, r.sink, msgs)
	}

	// The machine is shared and drifts (Postfix's queue directories and
	// the sinks grow, other work comes and goes), so the paths interleave:
	// pass-through runs bracket each MPA run, and each MPA run is compared
	// with the mean of the two pass-through runs around it, which cancels
	// a steady drift. The verdict is the median of those ratios. Eleven
	// rounds: with seven, a run of unchanged code on this shared host
	// (2026-12-06) gave a median of 0.887, under the floor, with its
	// rounds at 0.77-0.99, and the next run 1.002.
	var nones, passes, mpas []pumpResult
	var ratios, commits []float64
	for range b.N {
		passes = append(passes, through(laneRelay))
		for range rounds {
			c0, _, _ := db.CommitStats()
			mpas = append(mpas, through(laneMPA))
			c1, _, _ := db.CommitStats()
			commits = append(commits, float64(c1-c0)/float64(msgs))
			passes = append(passes, through(laneRelay))
			around := (passes[len(passes)-2].rate + passes[len(passes)-1].rate) / 2
			ratios = append(ratios, mpas[len(mpas)-1].rate/around)
		}
		for range nonesN {
			nones = append(nones, pump(b, plain.SMTPAddr, sink0, msgs))
		}
	}
	none, pass, mpa, ratio := medianPump(nones), medianPump(passes), medianPump(mpas), medianOf(ratios)
	// The machine's CPU per message does not move with the load as the
	// rates do: with both paths on the same two cores, their ratio bounds
	// what the wall-clock ratio can be once the machine is busy.
	line := postfixtest.Judge(b, ratio >= 0.9, "BENCH mpa_end_to_end_msgs_per_s: median %.0f (baseline pass-through relay %.0f) median ratio %.3f (%s); ratio to no filter (%.0f msg/s) %.2f; machine cpu per msg %.0f us (relay %.0f us, no filter %.0f us), of it this process %.0f us (relay %.0f us); machine idle %.0f%% (relay %.0f%%); MPA commits per msg %.2f; rounds %v; target 0.9",
		mpa.rate, pass.rate, ratio, issueTarget(ratio, issueEndToEnd), none.rate, mpa.rate/none.rate,
		mpa.machinePerMsg, pass.machinePerMsg, none.machinePerMsg, mpa.selfPerMsg, pass.selfPerMsg, 100*mpa.idle, 100*pass.idle, medianOf(commits), roundRatios(ratios))
	fmt.Println(line)
	b.Log(line)
}

// The filters a filterSwitch serves.
const (
	laneRelay = iota
	laneMPA
)

// filterSwitch serves one content-filter port to two filters in turn:
// each connection Postfix opens goes to the filter that is on when it is
// accepted and stays with it. use turns a filter on and waits until the
// other one's connections are closed (Postfix keeps a connection open for
// smtp_connection_cache_time_limit, 2 s, after its last delivery), so
// that a pump goes through one filter only.
type filterSwitch struct {
	mu    sync.Mutex
	on    int
	lanes [2]*switchLane
}

// switchLane is the listener one filter serves.
type switchLane struct {
	addr      net.Addr
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	open      atomic.Int64 // connections handed out and not closed
}

func (l *switchLane) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *switchLane) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *switchLane) Addr() net.Addr { return l.addr }

// laneConn counts itself out of its lane when it is closed.
type laneConn struct {
	net.Conn
	once sync.Once
	lane *switchLane
}

func (c *laneConn) Close() error {
	c.once.Do(func() { c.lane.open.Add(-1) })
	return c.Conn.Close()
}

func newFilterSwitch(b *testing.B, ln net.Listener) *filterSwitch {
	sw := &filterSwitch{}
	for i := range sw.lanes {
		sw.lanes[i] = &switchLane{addr: ln.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sw.mu.Lock()
			lane := sw.lanes[sw.on]
			sw.mu.Unlock()
			lane.open.Add(1)
			select {
			case lane.conns <- &laneConn{Conn: c, lane: lane}:
			case <-lane.done:
				lane.open.Add(-1)
				_ = c.Close()
			}
		}
	}()
	b.Cleanup(func() {
		_ = ln.Close()
		for _, l := range sw.lanes {
			_ = l.Close()
		}
	})
	return sw
}

// use turns lane on and waits until the other lane has no connection.
func (sw *filterSwitch) use(b *testing.B, lane int) {
	b.Helper()
	sw.mu.Lock()
	sw.on = lane
	sw.mu.Unlock()
	other := sw.lanes[1-lane]
	for deadline := time.Now().Add(30 * time.Second); other.open.Load() > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the other filter still has %d connections from Postfix after 30 s", other.open.Load())
		}
	}
}

func medianPump(v []pumpResult) pumpResult {
	var rates, machine, self, idle []float64
	for _, r := range v {
		rates, machine, self = append(rates, r.rate), append(machine, r.machinePerMsg), append(self, r.selfPerMsg)
		idle = append(idle, r.idle)
	}
	return pumpResult{medianOf(rates), medianOf(machine), medianOf(self), medianOf(idle)}
}

func medianOf(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func roundRatios(v []float64) string {
	out := make([]string, len(v))
	for i, r := range v {
		out[i] = fmt.Sprintf("%.2f", r)
	}
	return strings.Join(out, " ")
}

// BenchmarkMPAAlone measures the MPA's own capacity, without Postfix: 40
// SMTP clients send 3,000 messages of about 2 kB to it, and it delivers
// them to a sink. The baseline is the same load through the pass-through
// relay (no spool, no fsync). A worker waits for one batched commit per
// message, so commit batching decides this number: batches that always
// wait for their timer held the MPA to a tenth of the relay.
//
// The machine is shared, so beside the wall-clock ratio it reports what
// load does not move: CPU time and allocations per message of this
// process (clients and sink included, the same for both paths), whose
// difference is the MPA's own cost.
func BenchmarkMPAAlone(b *testing.B) {
	// Measured here (2 shared cores, load average 8 to 34 from other
	// work), five runs each, alternating: before the in-memory handoff
	// and the group commit (store/batch.go) median ratios 0.30 to 0.51,
	// median 0.50; after 0.48 to 0.78, median 0.59, with CPU per message
	// (median) 448 us against 498 and allocations 257 against 300. The
	// threshold stays at 0.5, which one run still missed. Issue #15 asks
	// for 0.8: the MPA's rate is its workers over the commit each waits
	// for before its final dot, while the relay only needs CPU.
	//
	// Then 32 workers instead of 16: medians 0.82, 0.74, 0.71, 0.69, 0.73
	// and 0.52 in six runs at load average 3 to 20; 16 against 32 in one
	// process 0.60/0.72 and 0.65/0.70. A commit carries about 12 messages
	// (0.08 commits per message, each message three calls: stored,
	// delivering, done) and takes 0.7 ms on a quiet machine but 5-6.5 ms
	// at load average 15-20, though an fdatasync alone takes 0.5 ms
	// (median; strace): under load the commit's time is mostly waiting to
	// be scheduled again after each of its two fdatasyncs. Skipping the
	// "delivering" commit altogether (unsafe, measured only to bound what
	// a cheaper marker could give) raised one run's ratio from 0.80 to
	// 0.92. Six more runs (with the idle-worker stack, and alternating
	// with the shared channel before it: no difference beyond the noise)
	// gave 0.75, 0.66, 0.59 and 0.74, and twice 0.26-0.29 while the load
	// average fell from 26 to 15, with single rounds at 0.06-0.13: the
	// MPA stalls with the shared disk (one fdatasync took 0.5 s under
	// strace) and the relay does not. The threshold stays at 0.5.
	//
	// 2026-12-04, quiet host: each blast's last one to three groups had
	// waited the whole batchDelay (30 ms of a 0.45 s blast) with nothing
	// more to come. Committing a group once no call joined it for
	// batchIdle (store/batch.go) took the median from 0.70-0.78 to
	// 0.79-0.86 (ten runs each, alternating builds).
	const target = 0.5
	sink := postfixtest.NewSink(b, 0)
	relayLn, mpaLn := listenLocal(b), listenLocal(b)
	relay, listen := relayLn.Addr().String(), mpaLn.Addr().String()
	startPassRelay(b, relayLn, sink.Addr)
	_, db := startTestServer(b, Config{Listener: mpaLn, ReinjectAddr: sink.Addr, Hostname: "mpa.gw.example.test"})
	// Relay runs bracket each MPA run, and each MPA run is compared with
	// the mean of the two around it (a steady drift of the shared
	// machine cancels); the verdict is the median of those ratios.
	aloneRounds := 9
	if postfixtest.Smoke() {
		aloneRounds = 1
	}
	var passes, mpas []blastResult
	var ratios, perMsg, perCommit []float64
	for range b.N {
		passes = append(passes, blast(b, relay, sink))
		// Nine rounds: with five, the median of the round ratios moved
		// ±0.05 between runs of the same code on a quiet host (rounds of
		// one run spread 0.67 to 0.93).
		for range aloneRounds {
			c0, _, t0 := db.CommitStats()
			mpas = append(mpas, blast(b, listen, sink))
			c1, _, t1 := db.CommitStats()
			perMsg = append(perMsg, float64(c1-c0)/blastMessages)
			perCommit = append(perCommit, float64(t1-t0)/float64(time.Millisecond)/float64(c1-c0))
			passes = append(passes, blast(b, relay, sink))
			around := (passes[len(passes)-2].rate + passes[len(passes)-1].rate) / 2
			ratios = append(ratios, mpas[len(mpas)-1].rate/around)
		}
	}
	pass, mpa := medianBlast(passes), medianBlast(mpas)
	ratio := medianOf(ratios)
	line := postfixtest.Judge(b, ratio >= target, "BENCH mpa_alone_msgs_per_s: median %.0f (baseline pass-through relay %.0f) median ratio %.3f (%s); cpu per msg %.0f us (relay %.0f us); allocs per msg %.0f (relay %.0f); commits per msg %.2f of %.1f ms; rounds %s; target %.2f",
		mpa.rate, pass.rate, ratio, issueTarget(ratio, issueAlone), mpa.cpuPerMsg, pass.cpuPerMsg, mpa.allocsPerMsg, pass.allocsPerMsg, medianOf(perMsg), medianOf(perCommit), roundRatios(ratios), target)
	fmt.Println(line)
	b.Log(line)
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(mpa.cpuPerMsg, "cpu-us/msg")
	b.ReportMetric(mpa.allocsPerMsg, "allocs/msg")
}

// The ratios issue #15 asks for. The benchmarks fail below their own
// floors (regressions); the line says beside it whether the issue's
// ratio was met.
const (
	issueAlone    = 0.8
	issueEndToEnd = 0.98
)

// issueTarget says whether ratio meets the issue's (not in a smoke run,
// where the ratio says nothing).
func issueTarget(ratio, want float64) string {
	if postfixtest.Smoke() {
		return fmt.Sprintf("issue #15 asks %.2f", want)
	}
	if ratio >= want {
		return fmt.Sprintf("issue #15 asks %.2f: met", want)
	}
	return fmt.Sprintf("issue #15 asks %.2f: not met", want)
}

// blastResult is one blast: messages per second, and this process's CPU
// microseconds and heap allocations per message.
type blastResult struct {
	rate, cpuPerMsg, allocsPerMsg float64
}

func medianBlast(v []blastResult) blastResult {
	var rates, cpus, allocs []float64
	for _, r := range v {
		rates, cpus, allocs = append(rates, r.rate), append(cpus, r.cpuPerMsg), append(allocs, r.allocsPerMsg)
	}
	return blastResult{medianOf(rates), medianOf(cpus), medianOf(allocs)}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// blastMessages is how many messages one blast sends.
const blastMessages = 3000

// blast sends 3,000 messages over 40 connections to addr and measures
// until all of them reached the sink.
func blast(b *testing.B, addr string, sink *postfixtest.Sink) blastResult {
	b.Helper()
	const conns, per = 40, blastMessages / 40
	body := "From: a@example.test\r\nTo: b@example.org\r\nSubject: blast\r\n\r\n" +
		strings.Repeat("0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij012345678\r\n", 28)
	total := sink.Count() + conns*per
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime(b)
	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			c, err := gosmtp.Dial(addr)
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			for range per {
				if err := c.SendMail("a@example.test", []string{"b@example.org"}, strings.NewReader(body)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	sink.Wait(b, total, 120*time.Second)
	elapsed := time.Since(start)
	cpu := cpuTime(b) - cpu0
	runtime.ReadMemStats(&ms1)
	const n = blastMessages
	return blastResult{rate: n / elapsed.Seconds(), cpuPerMsg: float64(cpu.Microseconds()) / n,
		allocsPerMsg: float64(ms1.Mallocs-ms0.Mallocs) / n}
}
