package mta

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// serveTimeout bounds the check that Postfix serves after a reload or a
// start: each smtpd listener must greet (220) and answer EHLO within it.
const serveTimeout = 5 * time.Second

// checkServes proves that Postfix serves after a reload or a start: it
// connects to every smtpd listener postdeck renders (the public one and
// the MPA's reinjection one), in parallel, and reads the 220 greeting and
// the answer to EHLO. A configuration Postfix loads can still leave every
// smtpd dying at its start (an empty smtpd_relay_restrictions: "specify at
// least one working instance of: reject_unauth_destination"), and master
// then throttles the service while the reload "succeeded". It returns ""
// when every listener answered, or what went wrong with the problem lines
// the mail log got since logStart; the check ends early when the log shows
// one. silent reports a failure where every listener that failed took the
// connection and said nothing, and the log has no problem line: smtpd did
// not die, the listener's processes are busy or stuck (see makeLive).
func (m *Manager) checkServes(ctx context.Context, logStart int64) (said string, silent bool) {
	addrs := m.smtpdListeners(ctx)
	ctx, cancel := context.WithTimeout(ctx, serveTimeout)
	defer cancel()
	answers := make(chan greeting, len(addrs))
	for _, a := range addrs {
		go func() { answers <- greet(ctx, a) }()
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var failed []string
	silent = true
	for pending := len(addrs); pending > 0; {
		select {
		case a := <-answers:
			pending--
			if a.failed != "" {
				failed = append(failed, a.failed)
				silent = silent && a.silent
			}
		case <-tick.C:
			// A process that died has said why: no need to wait for the
			// timeout. Not an "error:" line: a process that logs one goes
			// on (smtpd opening an inline table it finds fault with),
			// and whether it serves is what the greeting shows; cutting
			// the check short on it refused such a configuration or not
			// depending on which came first.
			if logSince(m.maillogPath(), logStart, "fatal: ", "panic: ") != "" {
				cancel()
			}
		}
	}
	if len(failed) == 0 {
		return "", false
	}
	msg := strings.Join(failed, "; ")
	if logSaid := m.wordsSince(logStart, ""); logSaid != "" {
		msg += "; Postfix said: " + logSaid
		silent = silent && problemSince(m.maillogPath(), logStart) == ""
	}
	return msg, silent
}

// greeting is how one listener answered: failed is "" when it greeted and
// answered EHLO; silent when it took the connection and sent nothing
// before the deadline.
type greeting struct {
	failed string
	silent bool
}

// greet has one SMTP exchange with the listener at addr: the greeting,
// EHLO, QUIT.
func greet(ctx context.Context, addr string) greeting {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return greeting{failed: fmt.Sprintf("nothing listens on %s (connection refused)", addr)}
		}
		return greeting{failed: fmt.Sprintf("smtpd on %s cannot be reached (%s)", addr, netReason(err))}
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	r := textproto.NewReader(bufio.NewReader(io.LimitReader(conn, 64<<10)))
	code, msg, err := r.ReadResponse(0)
	switch {
	case err != nil:
		return greeting{failed: fmt.Sprintf("smtpd on %s %s", addr, noAnswer(ctx, err, "greeting")), silent: errors.Is(err, os.ErrDeadlineExceeded)}
	case code != 220:
		return greeting{failed: fmt.Sprintf("smtpd on %s greeted with %d %s", addr, code, oneLine(msg))}
	}
	if _, err := io.WriteString(conn, "EHLO postdeck.invalid\r\n"); err != nil {
		return greeting{failed: fmt.Sprintf("smtpd on %s closed the connection after its greeting", addr)}
	}
	if _, _, err := r.ReadResponse(0); err != nil {
		return greeting{failed: fmt.Sprintf("smtpd on %s %s", addr, noAnswer(ctx, err, "answer to EHLO"))}
	}
	_, _ = io.WriteString(conn, "QUIT\r\n")
	_, _, _ = r.ReadResponse(0)
	return greeting{}
}

// noAnswer says why a reply (what) did not come.
func noAnswer(ctx context.Context, err error, what string) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed the connection without a " + what
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("sent no %s within %s", what, serveTimeout)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "sent no " + what
	}
	return fmt.Sprintf("failed before its %s (%s)", what, netReason(err))
}

// netReason names a network error's cause in plain words: Go's own text
// names both ends' ports and the system call, which an administrator's
// answer does not need (the log of the apply has the rest).
func netReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return "the connection was reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to the address"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "the address is not on this machine"
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.Is(err, syscall.EPIPE):
		return "the connection was closed"
	}
	return "a network error"
}

// smtpdListeners are the addresses to connect to: Instance.SMTPListen and,
// with the MPA wired, Instance.ReinjectListen, each when the live
// master.cf has its service (a rollback makes the previous master.cf live,
// which has the listeners of then). A listener on every address (":25")
// is reached where Postfix listens: on loopback when inet_interfaces
// includes it (all, loopback-only, 127.0.0.1), otherwise on the first
// address of inet_interfaces.
func (m *Manager) smtpdListeners(ctx context.Context) []string {
	listens := []string{m.inst.SMTPListen}
	if m.inst.MPAListen != "" && m.inst.ReinjectListen != "" {
		listens = append(listens, m.inst.ReinjectListen)
	}
	master, err := os.ReadFile(filepath.Join(m.inst.ConfigDir, "master.cf"))
	if err != nil {
		return nil
	}
	live := masterServiceNames(string(master), "inet")
	var out []string
	for _, l := range listens {
		host, port, err := net.SplitHostPort(l)
		if err != nil {
			continue
		}
		if name, err := listenService(l); err != nil || !slices.Contains(live, name) {
			continue
		}
		if host == "" || host == "0.0.0.0" || host == "::" || host == "*" {
			host = "127.0.0.1"
			if !m.inst.Private {
				host = m.interfaceHost(ctx)
			}
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	return out
}

// interfaceHost picks the address to reach a listener on every address of
// the live configuration's inet_interfaces.
func (m *Manager) interfaceHost(ctx context.Context) string {
	out, _, err := m.pf.Run(ctx, nil, "postconf", "-x", "-h", "inet_interfaces", "inet_protocols")
	if err != nil {
		return "127.0.0.1"
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	loopback := "127.0.0.1"
	if len(lines) > 1 && strings.TrimSpace(lines[1]) == "ipv6" {
		loopback = "::1"
	}
	first := ""
	for _, f := range listTokensFold(lines[0]) {
		f = strings.Trim(f, "[]")
		switch strings.ToLower(f) {
		case "all", "loopback-only", "localhost", "127.0.0.1", "::1":
			return loopback
		}
		if first == "" {
			first = f
		}
	}
	if first == "" {
		return loopback
	}
	return first
}
