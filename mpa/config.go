package mpa

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Config holds every address, limit and timeout of the MPA in one place.
// Zero values are replaced by the defaults documented on each field.
type Config struct {
	// Listen is where Postfix's content_filter connects (127.0.0.1:10025).
	Listen string
	// Listener, when set, is served instead of binding Listen (a socket
	// handed over by a supervisor or a test). Shutdown closes it.
	Listener net.Listener
	// ReinjectAddr is Postfix's reinjection smtpd (127.0.0.1:10026).
	ReinjectAddr string
	// SpoolDir holds message bodies, one file per spool or error entry.
	SpoolDir string
	// Hostname is used in the SMTP greeting, EHLO and the Received header
	// (default "localhost").
	Hostname string

	// MaxMessageBytes is Postfix's message_size_limit (default 10240000,
	// Postfix's default). The MPA takes messages up to MaxMessageBytes +
	// SizeAllowance: what Postfix accepted plus the headers it added on the
	// way in. (*Server).SetLimits changes it while the MPA runs.
	MaxMessageBytes int64
	// SizeAllowance is added to MaxMessageBytes for the headers Postfix
	// adds before the MPA (Received) (default 64 KiB).
	SizeAllowance int64
	// MaxRecipients per message is Postfix's smtpd_recipient_limit
	// (default 1000); more are refused with 452 4.5.3, as Postfix does.
	MaxRecipients int

	// ErrorQuotaEntries and ErrorQuotaBytes bound the error repository
	// (defaults 10,000 entries and 1 GiB of messages). While either is
	// reached the MPA answers 452 4.3.1 to new mail, so that Postfix keeps
	// it queued; mail flows again once entries are deleted or requeued.
	ErrorQuotaEntries int
	ErrorQuotaBytes   int64
	// MinFreeBytes is the free space the file system of the spool and
	// of the database must keep (default 64 MiB, and never less than
	// 1.5 x the largest message taken, Postfix's rule for its queue):
	// below it the MPA answers 452 4.3.1 at MAIL FROM, as Postfix's smtpd
	// does below queue_minfree, and Postfix keeps the mail queued. The
	// room left lets the workers record their deliveries, which drains
	// the spool.
	MinFreeBytes int64

	// Maillog is Postfix's log file (maillog_file, or the syslog file
	// Postfix writes to). After a crash the MPA reads the reinjection
	// smtpd's lines there to find out whether Postfix took an in-doubt
	// delivery. Empty: such deliveries go to the error repository.
	Maillog string
	// ResolveTimeout bounds how long an in-doubt delivery waits for
	// Postfix's log to tell (default 5 minutes); then it goes to the error
	// repository with stage "interrupted".
	ResolveTimeout time.Duration
	// ResendRetention is how long the MPA remembers the messages it took
	// (Postfix's queue id and envelope), to recognise one that Postfix
	// sends again because the MPA's 250 never reached it (default 2 hours,
	// above Postfix's maximal_backoff_time; the last minutes before an
	// unclean stop are kept a further ResendRetention after the restart).
	ResendRetention time.Duration
	// ReadTimeout and WriteTimeout bound each SMTP command read and reply
	// write of the listener (default 5 minutes, like Postfix's smtpd_timeout).
	ReadTimeout  time.Duration
	WriteTimeout time.Duration

	// Workers deliver concurrently, each with its own reused connection.
	// Each waits for one batched commit before its final dot, so that a
	// crash cannot deliver twice: a worker delivers one message per one
	// and a half commits or so, whatever the CPU, and the MPA's rate is
	// at most the workers over that wait. 16 were the bound under
	// BenchmarkMPAAlone's load (commits of 1-13 ms carrying about ten
	// messages each); 32 lifted its median ratio from 0.60-0.65 to
	// 0.70-0.72 in the same process, while 48, 64 and 96 were not
	// reliably better than 32 (the 40 SMTP sessions, one commit per
	// message each, and the CPU bound it then). Keep it below the process
	// limit of the reinjection service in master.cf, which postdeck
	// renders as 40 (default 32).
	Workers int
	// DialTimeout bounds connecting to the reinjection listener (10 s).
	DialTimeout time.Duration
	// CommandTimeout bounds each reinjection command reply (60 s).
	CommandTimeout time.Duration
	// DataTimeout bounds sending the message and the reply to the final dot
	// (10 minutes, Postfix's smtp_data_done_timeout).
	DataTimeout time.Duration
	// IdleTimeout closes a reinjection connection unused for this long (5 s):
	// each open connection holds one of the reinjection listener's smtpd
	// processes.
	IdleTimeout time.Duration

	// RetryMin is the first backoff after a temporary failure (30 s); it
	// doubles per attempt up to RetryMax (15 minutes).
	RetryMin time.Duration
	RetryMax time.Duration
	// MaxQueueLifetime moves a message that kept failing temporarily to the
	// error repository (5 days, Postfix's maximal_queue_lifetime).
	MaxQueueLifetime time.Duration
	// ProcessTimeout bounds the pipeline run of one message (30 s).
	ProcessTimeout time.Duration
	// ShutdownTimeout bounds waiting for sessions and workers when the
	// caller's Shutdown context has no deadline (30 s).
	ShutdownTimeout time.Duration
}

// Defaults for Config's zero fields.
const (
	DefaultListen       = "127.0.0.1:10025"
	DefaultReinjectAddr = "127.0.0.1:10026"
)

func (c Config) withDefaults() Config {
	setS := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	setD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	setS(&c.Listen, DefaultListen)
	setS(&c.ReinjectAddr, DefaultReinjectAddr)
	setS(&c.Hostname, "localhost")
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 10240000
	}
	if c.SizeAllowance == 0 {
		c.SizeAllowance = 64 << 10
	}
	if c.ErrorQuotaEntries == 0 {
		c.ErrorQuotaEntries = 10000
	}
	if c.ErrorQuotaBytes == 0 {
		c.ErrorQuotaBytes = 1 << 30
	}
	if c.MinFreeBytes == 0 {
		c.MinFreeBytes = 64 << 20
	}
	if c.MaxRecipients == 0 {
		c.MaxRecipients = 1000
	}
	if c.Workers == 0 {
		c.Workers = 32
	}
	setD(&c.ReadTimeout, 5*time.Minute)
	setD(&c.WriteTimeout, 5*time.Minute)
	setD(&c.DialTimeout, 10*time.Second)
	setD(&c.CommandTimeout, time.Minute)
	setD(&c.DataTimeout, 10*time.Minute)
	setD(&c.IdleTimeout, 5*time.Second)
	setD(&c.RetryMin, 30*time.Second)
	setD(&c.RetryMax, 15*time.Minute)
	setD(&c.MaxQueueLifetime, 5*24*time.Hour)
	setD(&c.ProcessTimeout, 30*time.Second)
	setD(&c.ShutdownTimeout, 30*time.Second)
	setD(&c.ResolveTimeout, 5*time.Minute)
	setD(&c.ResendRetention, 2*time.Hour)
	return c
}

func (c Config) check() error {
	if c.SpoolDir == "" {
		return errors.New("check mpa config: SpoolDir is empty")
	}
	for _, a := range []string{c.Listen, c.ReinjectAddr} {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("check mpa config: address %q: %w", a, err)
		}
	}
	if c.MaxMessageBytes < 0 || c.SizeAllowance < 0 || c.MaxRecipients < 0 || c.Workers < 0 ||
		c.ErrorQuotaEntries < 0 || c.ErrorQuotaBytes < 0 || c.MinFreeBytes < 0 || c.RetryMax < c.RetryMin {
		return errors.New("check mpa config: negative limit or RetryMax below RetryMin")
	}
	return nil
}
