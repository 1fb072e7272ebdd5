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
	// ReinjectAddr is Postfix's reinjection smtpd (127.0.0.1:10026).
	ReinjectAddr string
	// SpoolDir holds message bodies, one file per spool or error entry.
	SpoolDir string
	// Hostname is used in the SMTP greeting, EHLO and the Received header
	// (default "localhost").
	Hostname string

	// MaxMessageBytes is the largest message accepted; set it to the MTA's
	// message_size_limit (default 50 MiB).
	MaxMessageBytes int64
	// MaxRecipients per message (default 1000, Postfix's
	// smtpd_recipient_limit).
	MaxRecipients int
	// ReadTimeout and WriteTimeout bound each SMTP command read and reply
	// write of the listener (default 5 minutes, like Postfix's smtpd_timeout).
	ReadTimeout  time.Duration
	WriteTimeout time.Duration

	// Workers deliver concurrently, each with its own reused connection.
	// Each waits for one batched commit before its final dot, so that a
	// crash cannot deliver twice; the batches fill faster with more
	// workers. Keep it below the process limit of the reinjection service
	// in master.cf, which postdeck renders as 20 (default 16).
	Workers int
	// DialTimeout bounds connecting to the reinjection listener (10 s).
	DialTimeout time.Duration
	// CommandTimeout bounds each reinjection command reply (60 s).
	CommandTimeout time.Duration
	// DataTimeout bounds sending the message and the reply to the final dot
	// (10 minutes, Postfix's smtp_data_done_timeout).
	DataTimeout time.Duration
	// IdleTimeout closes a reinjection connection unused for this long (30 s,
	// below Postfix's smtpd_timeout).
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
		c.MaxMessageBytes = 50 << 20
	}
	if c.MaxRecipients == 0 {
		c.MaxRecipients = 1000
	}
	if c.Workers == 0 {
		c.Workers = 16
	}
	setD(&c.ReadTimeout, 5*time.Minute)
	setD(&c.WriteTimeout, 5*time.Minute)
	setD(&c.DialTimeout, 10*time.Second)
	setD(&c.CommandTimeout, time.Minute)
	setD(&c.DataTimeout, 10*time.Minute)
	setD(&c.IdleTimeout, 30*time.Second)
	setD(&c.RetryMin, 30*time.Second)
	setD(&c.RetryMax, 15*time.Minute)
	setD(&c.MaxQueueLifetime, 5*24*time.Hour)
	setD(&c.ProcessTimeout, 30*time.Second)
	setD(&c.ShutdownTimeout, 30*time.Second)
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
	if c.MaxMessageBytes < 0 || c.MaxRecipients < 0 || c.Workers < 0 || c.RetryMax < c.RetryMin {
		return errors.New("check mpa config: negative limit or RetryMax below RetryMin")
	}
	return nil
}
