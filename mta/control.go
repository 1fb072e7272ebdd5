package mta

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"postdeck/postfix"
	"postdeck/store"
)

// Postfix control actions.
const (
	ControlStart   = "start"
	ControlStop    = "stop"
	ControlRestart = "restart"
)

// Control starts, stops or restarts Postfix's master (and with it every
// Postfix process), under the apply lock so that no apply runs meanwhile.
// Starting a Postfix that runs, or stopping one that does not, is no error.
func (m *Manager) Control(ctx context.Context, action string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() && action != ControlStop {
		return store.Unavailable("postdeck is shutting down")
	}
	switch action {
	case ControlStart:
		if m.running(ctx) {
			return nil
		}
		return m.startLocked(ctx)
	case ControlStop:
		return m.stopLocked(ctx)
	case ControlRestart:
		if err := m.stopLocked(ctx); err != nil {
			return err
		}
		return m.startLocked(ctx)
	}
	return store.Invalid("action", "The action %q is not start, stop or restart", truncate(action, 20))
}

func (m *Manager) startLocked(ctx context.Context) error {
	logStart := m.maillogSize()
	if err := m.startPostfix(ctx); err != nil {
		return store.Unavailable("Postfix did not start: %s", m.postfixWords(logStart, "", err))
	}
	deadline := time.Now().Add(5 * time.Second)
	for !m.running(ctx) {
		if time.Now().After(deadline) {
			return store.Unavailable("Postfix did not start: %s", m.postfixWords(logStart, "", fmt.Errorf("the master process is not running")))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// stopLocked stops master and waits until it is gone.
func (m *Manager) stopLocked(ctx context.Context) error {
	if !m.running(ctx) {
		return nil
	}
	if _, stderr, err := m.pf.Run(ctx, nil, "postfix", "stop"); err != nil && m.inst.Private {
		// The private instance is known by its pid file whatever main.cf
		// says now: stop it as postfix stop does.
		if pid := postfix.MasterPID(m.inst.QueueDir()); postfix.Alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	} else if err != nil {
		return store.Unavailable("Postfix did not stop: %s", m.postfixWords(0, string(stderr), err))
	}
	deadline := time.Now().Add(10 * time.Second)
	for m.running(ctx) {
		if time.Now().After(deadline) {
			return store.Unavailable("Postfix did not stop within 10 seconds")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// LogLine is one line of Postfix's log.
type LogLine struct {
	Text  string `json:"text"`
	Level string `json:"level"` // warning, error, fatal or panic
}

// maxLogScan bounds how much of the maillog LogProblems reads (its tail).
const maxLogScan = 8 << 20

// LogProblems returns the last n lines of Postfix's log that report a
// warning, an error, a fatal error or a panic, oldest first. Only a log
// Postfix writes to a file (maillog_file, as every private instance does,
// or Debian's /var/log/mail.log) can be read; otherwise the error says so.
func (m *Manager) LogProblems(n int) ([]LogLine, error) {
	path := m.maillogPath()
	if path == "" {
		path = "/var/log/mail.log"
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, store.Unavailable("Postfix's log cannot be read here (%s): it logs to syslog; read it with journalctl -u postfix", path)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxLogScan {
		if _, err := f.Seek(fi.Size()-maxLogScan, io.SeekStart); err != nil {
			return nil, fmt.Errorf("read maillog: %w", err)
		}
	}
	var out []LogLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		level := ""
		for _, k := range []string{"panic", "fatal", "error", "warning"} {
			if strings.Contains(line, " "+k+": ") {
				level = k
				break
			}
		}
		if level == "" {
			continue
		}
		out = append(out, LogLine{Text: strings.ToValidUTF8(line, "?"), Level: level})
		if len(out) > 2*n {
			out = append(out[:0], out[len(out)-n:]...)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}
