package jobs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// Resolver defaults.
const (
	DefaultQueryTimeout = 3 * time.Second
	defaultUDPSize      = 1232 // EDNS0 buffer size that avoids IP fragmentation
	udpAttempts         = 2    // a lost UDP packet is retried once
)

// Resolver asks one recursive DNS server. UDP answers with the TC bit set
// are asked again over TCP.
type Resolver struct {
	// Server is host:port of a recursive resolver.
	Server string
	// Timeout bounds each attempt of each query (default 3 s).
	Timeout time.Duration
}

// DNSError is a failed lookup: an rcode other than NOERROR, a timeout or a
// transport error. The refresher treats every one of them as a reason to
// keep the live map.
type DNSError struct {
	Name  string
	Type  string
	Rcode int   // -1 when the query got no answer
	Err   error // transport error when Rcode is -1
}

func (e *DNSError) Error() string {
	if e.Rcode >= 0 {
		return fmt.Sprintf("lookup %s %s: %s", e.Type, e.Name, dns.RcodeToString[e.Rcode])
	}
	if isTimeout(e.Err) {
		return fmt.Sprintf("lookup %s %s: timeout", e.Type, e.Name)
	}
	return fmt.Sprintf("lookup %s %s: %v", e.Type, e.Name, e.Err)
}

func (e *DNSError) Unwrap() error { return e.Err }

// errTruncatedTCP is the transport error of an answer truncated even
// over TCP.
var errTruncatedTCP = errors.New("answer truncated over TCP")

// reason is Error for an administrator: a failed transport in plain words
// instead of Go's and the system's (addresses, "read udp", errno text),
// which the log has.
func (e *DNSError) reason() string {
	if e.Rcode >= 0 || e.Timeout() || errors.Is(e.Err, errTruncatedTCP) {
		return e.Error()
	}
	why := "no answer from the DNS server"
	switch {
	case errors.Is(e.Err, context.Canceled):
		why = "cancelled"
	case errors.Is(e.Err, syscall.ECONNREFUSED):
		why = "the DNS server refused the connection"
	case errors.Is(e.Err, syscall.ENETUNREACH), errors.Is(e.Err, syscall.EHOSTUNREACH):
		why = "the DNS server cannot be reached"
	}
	return fmt.Sprintf("lookup %s %s: %s", e.Type, e.Name, why)
}

// NotFound reports an NXDOMAIN answer.
func (e *DNSError) NotFound() bool { return e.Rcode == dns.RcodeNameError }

// Timeout reports that no answer arrived in time.
func (e *DNSError) Timeout() bool { return e.Rcode < 0 && isTimeout(e.Err) }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// SystemResolver returns the first nameserver of /etc/resolv.conf as
// host:port, the refresher's default when --resolver is not given.
func SystemResolver() (string, error) {
	return resolverFromFile("/etc/resolv.conf")
}

func resolverFromFile(path string) (string, error) {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return "", fmt.Errorf("read resolver from %s: %w", path, err)
	}
	if len(cfg.Servers) == 0 {
		return "", fmt.Errorf("read resolver from %s: no nameserver line", path)
	}
	port := cfg.Port
	if port == "" {
		port = "53"
	}
	return net.JoinHostPort(cfg.Servers[0], port), nil
}

// NormalizeResolver turns "HOST" or "HOST:PORT" into host:port.
func NormalizeResolver(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", fmt.Errorf("resolver address is empty")
	}
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr, nil
	}
	if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		addr = addr[1 : len(addr)-1]
	}
	return net.JoinHostPort(addr, "53"), nil
}

func (r *Resolver) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return DefaultQueryTimeout
}

// Lookup asks for name's records of qtype and returns the answer records of
// that type (CNAMEs the server followed are dropped). NOERROR with no
// records is an empty slice and no error.
func (r *Resolver) Lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	tname := dns.TypeToString[qtype]
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(escapeName(name)), qtype)
	q.RecursionDesired = true
	q.SetEdns0(defaultUDPSize, false)

	udp := &dns.Client{Net: "udp", Timeout: r.timeout(), UDPSize: defaultUDPSize}
	var (
		resp *dns.Msg
		err  error
	)
	for attempt := 0; attempt < udpAttempts; attempt++ {
		resp, err = r.exchange(ctx, udp, q)
		if err == nil || !isTimeout(err) || ctx.Err() != nil {
			break
		}
	}
	if err == nil && resp.Truncated {
		tcp := &dns.Client{Net: "tcp", Timeout: r.timeout()}
		resp, err = r.exchange(ctx, tcp, q)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, &DNSError{Name: name, Type: tname, Rcode: -1, Err: err}
	}
	if resp.Rcode != dns.RcodeSuccess {
		return nil, &DNSError{Name: name, Type: tname, Rcode: resp.Rcode}
	}
	if resp.Truncated {
		return nil, &DNSError{Name: name, Type: tname, Rcode: -1, Err: errTruncatedTCP}
	}
	out := make([]dns.RR, 0, len(resp.Answer))
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype == qtype {
			out = append(out, rr)
		}
	}
	return out, nil
}

// escapeName turns a domain name as SPF has it (any bytes but the dots
// between labels, e.g. "foo:bar/baz.example.com" or a macro expansion with
// spaces) into miekg/dns presentation format, where only '\\' is special
// besides the dot.
func escapeName(name string) string {
	return strings.ReplaceAll(name, `\`, `\\`)
}

// unescapePresentation turns miekg/dns presentation format (TXT strings,
// names in answers) back into bytes: \DDD is a byte, \X is X.
func unescapePresentation(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigits(s[i+1:i+4]) {
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n <= 255 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func (r *Resolver) exchange(ctx context.Context, c *dns.Client, q *dns.Msg) (*dns.Msg, error) {
	actx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	resp, _, err := c.ExchangeContext(actx, q.Copy(), r.Server)
	if err != nil {
		return nil, err
	}
	return resp, nil
}
