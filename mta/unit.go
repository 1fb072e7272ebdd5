package mta

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"postdeck/postfix"
)

// A Postfix that a systemd unit runs is started and stopped through
// systemctl, never with `postfix start`: a master that postdeck started
// itself would run in postdeck.service's cgroup and sandbox (/var/mail
// read-only, homes hidden, setgid postdrop refused under NoNewPrivileges),
// and a restart of postdeck (a package upgrade's try-restart) would kill
// it and every smtpd and cleanup with it (KillMode=mixed).

// defaultSystemctl is where systemctl is unless Config.Systemctl says.
const defaultSystemctl = "/usr/bin/systemctl"

// systemctlTimeout bounds a systemctl call as commandTimeout bounds a
// Postfix command: a start job that hangs must not hold the apply lock.
const systemctlTimeout = 2 * time.Minute

// findSystemctl is path, else /usr/bin/systemctl, else /bin/systemctl
// where only that exists (a system without the merged /usr).
func findSystemctl(path string) string {
	if path != "" {
		return path
	}
	if _, err := os.Stat(defaultSystemctl); err != nil {
		if _, err := os.Stat("/bin/systemctl"); err == nil {
			return "/bin/systemctl"
		}
	}
	return defaultSystemctl
}

// checkUnitName refuses a unit name systemctl would read as an option or
// that is no unit name at all.
func checkUnitName(unit string) error {
	if strings.HasPrefix(unit, "-") || strings.ContainsAny(unit, "/ \t\r\n") || strings.ContainsFunc(unit, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("postfix unit %q is not a systemd unit name", unit)
	}
	return nil
}

// systemctl runs `systemctl ACTION UNIT` for the unit that runs the
// managed Postfix (restart or stop). Its failure is a *shownError with
// systemctl's own words ("Job for postfix.service failed ..."), which say
// what the administrator must look at.
func (m *Manager) systemctl(ctx context.Context, action string) error {
	ctx, cancel := context.WithTimeout(ctx, systemctlTimeout)
	defer cancel()
	var errb bytes.Buffer
	cmd := exec.CommandContext(ctx, m.systemctlPath, action, m.unit)
	cmd.Stderr = &errb
	// A child that keeps stderr open (a start script's daemon) must not
	// hold the call once systemctl itself is done.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		name := "systemctl " + action + " " + m.unit
		ce := &postfix.CmdError{Cmd: name, Err: err, Stderr: errb.String()}
		return &shownError{said: commandSaid(name, m.postfixWords(0, ce.Stderr, ce)), err: ce}
	}
	return nil
}
