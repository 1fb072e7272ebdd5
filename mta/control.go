package mta

import (
	"context"
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
			return store.Unavailable("Postfix did not start: %s", m.postfixWords(logStart, "", errMasterGone))
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
	pid := m.masterPID()
	if m.unit != "" {
		if err := m.systemctl(ctx, "stop"); err != nil {
			return store.Unavailable("Postfix did not stop: %s", shown(err, "systemctl could not stop it"))
		}
	} else if _, stderr, err := m.pf.Run(ctx, nil, "postfix", "stop"); err != nil && m.inst.Private {
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
	return m.waitChildren(ctx, pid)
}

// LogLine is one line of Postfix's log.
type LogLine struct {
	Text  string `json:"text"`
	Level string `json:"level"` // warning, error, fatal or panic
}

// LogProblems returns the last n lines of Postfix's log that report a
// warning, an error, a fatal error or a panic, oldest first. Only a log
// Postfix writes to a file (maillog_file, as every private instance does,
// or Debian's /var/log/mail.log) can be read; otherwise the error says so.
// Each call reads only what the log got since the previous one
// (problemTail).
func (m *Manager) LogProblems(n int) ([]LogLine, error) {
	path := m.maillogPath()
	if path == "" {
		path = "/var/log/mail.log"
	}
	return m.problems.problems(path, n)
}
