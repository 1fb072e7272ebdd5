package mpa

import (
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"postdeck/mta/postfixtest"
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

func startPassRelay(b *testing.B, listen, target string) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		b.Fatal(err)
	}
	srv := gosmtp.NewServer(passRelay{target: target})
	srv.Domain = "relay.example.test"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.MaxMessageBytes, srv.MaxRecipients = 50<<20, 1000
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
}

// pump sends 1000 messages of about 2 kB with smtp-source over 10 sessions
// and returns messages per second until all of them reached the sink.
func pump(b *testing.B, addr string, sink *postfixtest.Sink) float64 {
	b.Helper()
	const n = 1000
	total := sink.Count() + n // the previous runs have all arrived
	// Every run starts with the previous runs' files written out, so that
	// none pays for another's writeback.
	syscall.Sync()
	start := time.Now()
	cmd := exec.Command(filepath.Join(postfixtest.SbinDir, "smtp-source"), "-s", "10", "-l", "2000",
		"-m", strconv.Itoa(n), "-f", "a@example.test", "-t", "b@example.org", addr)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("smtp-source: %v: %s", err, out)
	}
	sink.Wait(b, total, 120*time.Second)
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkEndToEnd measures msg/s through Postfix + MPA + Postfix to a
// sink against Postfix + a pass-through relay (target ratio 0.9), and
// reports the ratio to Postfix without a content filter.
func BenchmarkEndToEnd(b *testing.B) {
	// No filter.
	sink0 := postfixtest.NewSink(b, 0)
	plain := postfixtest.Start(b, postfixtest.Options{RelayPort: sink0.Port})
	// Pass-through relay.
	r1 := startRig(b)
	startPassRelay(b, r1.mpaAddr, r1.reinjAddr)
	// MPA.
	r2 := startRig(b)
	r2.startMPA(b, Config{}) // the defaults: 16 workers, pipeline trace + rules

	// The machine is shared and drifts (Postfix's queue directories and
	// the sinks grow, other work comes and goes), so the paths interleave:
	// pass-through runs bracket each MPA run, and each MPA run is compared
	// with the mean of the two pass-through runs around it, which cancels
	// a steady drift. The verdict is the median of those ratios.
	const rounds = 7
	var nones, passes, mpas, ratios []float64
	for range b.N {
		passes = append(passes, pump(b, r1.inst.SMTPAddr, r1.sink))
		for range rounds {
			mpas = append(mpas, pump(b, r2.inst.SMTPAddr, r2.sink))
			passes = append(passes, pump(b, r1.inst.SMTPAddr, r1.sink))
			around := (passes[len(passes)-2] + passes[len(passes)-1]) / 2
			ratios = append(ratios, mpas[len(mpas)-1]/around)
		}
		for range 3 {
			nones = append(nones, pump(b, plain.SMTPAddr, sink0))
		}
	}
	none, pass, mpa, ratio := medianOf(nones), medianOf(passes), medianOf(mpas), medianOf(ratios)
	verdict := "PASS"
	if ratio < 0.9 {
		verdict = "FAIL"
	}
	line := fmt.Sprintf("BENCH mpa_end_to_end_msgs_per_s: median %.0f (baseline pass-through relay %.0f) median ratio %.2f target 0.9 %s; ratio to no filter (%.0f msg/s) %.2f; rounds %v",
		mpa, pass, ratio, verdict, none, mpa/none, roundRatios(ratios))
	fmt.Println(line)
	b.Log(line)
	if ratio < 0.9 {
		b.Errorf("MPA throughput ratio %.2f below 0.9", ratio)
	}
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
