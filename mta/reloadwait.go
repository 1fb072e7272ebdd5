package mta

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"postdeck/postfix"
)

// After `postfix reload` returns, master has been sent SIGHUP, nothing
// more: it re-reads main.cf and master.cf (master_refresh), tells the
// processes of the old configuration to go and opens new listeners when it
// next runs. The checks after a reload (master still running, no problem
// in the mail log, the serve check) mean something only once master has
// done that, so the apply waits for it instead of sleeping a fixed time.
//
// Master's signal handler only sets a flag and writes to a pipe that
// wakes master's event loop (src/master/master_sig.c); the loop returns,
// master logs "reload -- version ...", re-reads the configuration and
// goes back to waiting for events (master.c). So once the kernel no longer
// holds SIGHUP pending for master (the handler ran) and master sleeps in
// its event loop again (epoll_wait: on Linux Postfix's event loop uses
// epoll), master has finished the re-read, or died in it: a fatal error
// sleeps one second before master exits (msg_fatal), which is why the
// mail log is read and master's life checked again after the serve check.
// Sleeping alone is not enough: the re-read itself may sleep (a host name
// of a listener resolved through DNS, a full log socket), and so does a
// master that failed it, for its second before exit (in clock_nanosleep:
// such a master is never taken to be done, and the wait ends at its bound,
// by when postlogd has written the fatal line). Its log lines reach the
// file through postlogd, a moment after master sends them.
// The facts come from /proc/PID/status (State, SigPnd, ShdPnd) and
// /proc/PID/syscall (the system call master sleeps in), which root may
// read for any process. Without them (no /proc, no pid file, a master
// whose event loop does not use epoll), the apply sleeps
// Config.ReloadSettle as before.
const reloadPoll = time.Millisecond

// waitReloadTaken waits until the master of pid has taken the reload just
// signalled, at most bound. It reports false when it could not tell (and
// then slept bound), or bound passed first.
func waitReloadTaken(ctx context.Context, pid int, bound time.Duration) bool {
	deadline := time.Now().Add(bound)
	for {
		taken, known := reloadTaken(pid)
		if taken {
			return true
		}
		wait := reloadPoll
		if !known {
			wait = time.Until(deadline) // cannot tell: the fixed settle
		}
		if wait <= 0 || time.Now().Add(wait).After(deadline) {
			wait = time.Until(deadline)
		}
		if wait <= 0 {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		if !time.Now().Before(deadline) {
			return false
		}
	}
}

// sighupMask is SIGHUP in /proc's pending-signal masks: signal n is bit
// n-1.
const sighupMask = 1 << (uint(syscall.SIGHUP) - 1)

// reloadTaken reads /proc/PID/status: taken when SIGHUP is pending
// neither for the process nor for its thread group and the process
// sleeps; known is false when the file cannot be read.
func reloadTaken(pid int) (taken, known bool) {
	if pid <= 1 {
		return false, false
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false, false
	}
	if taken, known = statusShowsTaken(string(raw)); !taken {
		return taken, known
	}
	sc, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/syscall")
	if err != nil {
		return false, false
	}
	return inEventLoop(string(sc)), true
}

// epollCalls are the numbers of epoll_wait, epoll_pwait and epoll_pwait2
// on the architectures postdeck is built for (the kernel's syscall
// tables); elsewhere the wait cannot tell and sleeps the settle time.
var epollCalls = map[string][]int{
	"amd64": {232, 281, 441},
	"arm64": {22, 441},
}

// inEventLoop reads /proc/PID/syscall: the process sleeps in an epoll
// wait ("232 0x5 ..."), not in another call, nor running ("running").
func inEventLoop(syscallLine string) bool {
	n, ok := syscallNumber(syscallLine)
	return ok && slices.Contains(epollCalls[runtime.GOARCH], n)
}

// syscallNumber reads a /proc/PID/syscall text: the number of the system
// call the process sleeps in ("232 0x5 ..."); false when it runs
// ("running") or the text is not such a line.
func syscallNumber(syscallLine string) (int, bool) {
	first, _, _ := strings.Cut(strings.TrimSpace(syscallLine), " ")
	n, err := strconv.Atoi(first)
	return n, err == nil
}

// statusShowsTaken is reloadTaken's reading of a /proc/PID/status text.
func statusShowsTaken(status string) (taken, known bool) {
	state, hup, ok := readProcStatus(status)
	switch {
	case !ok:
		return false, false
	case hup:
		return false, true
	}
	return strings.HasPrefix(state, "S"), true
}

// readProcStatus reads a /proc/PID/status text: the process's State and
// whether SIGHUP is pending for it or its thread group (SigPnd, ShdPnd);
// ok is false when a field is missing or malformed.
func readProcStatus(status string) (state string, hupPending, ok bool) {
	var pending []string
	for _, line := range strings.Split(status, "\n") {
		name, value, found := strings.Cut(line, ":")
		if !found {
			continue
		}
		value = strings.TrimSpace(value)
		switch name {
		case "State":
			state = value
		case "SigPnd", "ShdPnd":
			pending = append(pending, value)
		}
	}
	if state == "" || len(pending) != 2 {
		return "", false, false
	}
	for _, p := range pending {
		mask, err := strconv.ParseUint(p, 16, 64)
		if err != nil {
			return "", false, false
		}
		if mask&sighupMask != 0 {
			return state, true, true
		}
	}
	return state, false, true
}

// masterPID is the pid of the managed instance's master, 0 when unknown:
// a private instance's pid file in its queue directory, the system's in
// the installation's queue_directory (fixed by the installation, see
// InstallationParams).
func (m *Manager) masterPID() int {
	if m.inst.Private {
		return postfix.MasterPID(m.inst.QueueDir())
	}
	if dir := m.catalog.defaultOf("queue_directory"); dir != "" {
		return postfix.MasterPID(dir)
	}
	return 0
}

// masterAlive reports whether master runs: by its pid when known (a
// process whose pid file names it), else as running does.
func (m *Manager) masterAlive(ctx context.Context, pid int) bool {
	if pid > 1 {
		return postfix.Alive(pid)
	}
	return m.running(ctx)
}

// After master has taken a reload, the smtpd processes of the old
// configuration that sat idle are told to go (master closes their status
// pipe), but one may still take a connection first: an idle smtpd waits
// for the service's accept lock (flock) or, holding it, in its event loop
// on the listening socket and the status pipe at once, and when both are
// ready it may accept before it sees the pipe closed (seen in make race:
// the serve check after a reload greeted by an old smtpd, so a
// configuration whose smtpd drops every connection passed). One that is
// in a session ends it and then goes, without accepting again: it tells
// master it is available and that fails (single_server.c). So before the
// serve check the apply waits until no old smtpd waits idle, at most
// oldSMTPDBound; normally they are gone within a millisecond.
const oldSMTPDBound = 2 * time.Second

// lockCalls are the numbers of flock, where an idle smtpd waits for the
// accept lock held by another.
var lockCalls = map[string][]int{
	"amd64": {73},
	"arm64": {32},
}

// smtpdChildren lists master's smtpd processes (children named smtpd).
// It reads /proc/PID/task/PID/children, or scans /proc where the kernel
// lacks that file; nil without /proc.
func smtpdChildren(master int) []int {
	if master <= 1 {
		return nil
	}
	var pids []int
	if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", master, master)); err == nil {
		for _, f := range strings.Fields(string(raw)) {
			if pid, err := strconv.Atoi(f); err == nil && isSMTPDOf(pid, master) {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && isSMTPDOf(pid, master) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// isSMTPDOf reports whether pid is a live smtpd whose parent is master,
// from /proc/PID/stat: "pid (comm) state ppid ...".
func isSMTPDOf(pid, master int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || end < open || string(stat[open+1:end]) != "smtpd" {
		return false
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 2 || fields[0] == "Z" || fields[0] == "X" {
		return false
	}
	ppid, err := strconv.Atoi(fields[1])
	return err == nil && ppid == master
}

// smtpdIdle reports whether smtpd pid still waits for a connection: it
// lives, is master's, and sleeps in the accept lock or the event loop,
// or runs (it may be about to accept). One in a session (reading,
// writing, polling its client) is not.
func smtpdIdle(pid, master int) bool {
	if !isSMTPDOf(pid, master) {
		return false
	}
	sc, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/syscall")
	if err != nil {
		return false
	}
	return strings.TrimSpace(string(sc)) == "running" || sleepsAwaitingConnection(string(sc))
}

// sleepsAwaitingConnection reads a /proc/PID/syscall text: the process
// sleeps where an idle smtpd sleeps, in the event loop or the accept lock.
func sleepsAwaitingConnection(syscallLine string) bool {
	n, ok := syscallNumber(syscallLine)
	return ok && (slices.Contains(epollCalls[runtime.GOARCH], n) || slices.Contains(lockCalls[runtime.GOARCH], n))
}

// waitOldSMTPDGone waits until none of old, master's smtpd processes from
// before the reload, waits idle for a connection, at most bound. It
// reports whether that happened within the bound.
func waitOldSMTPDGone(ctx context.Context, master int, old []int, bound time.Duration) bool {
	deadline := time.Now().Add(bound)
	for {
		old = slices.DeleteFunc(old, func(pid int) bool { return !smtpdIdle(pid, master) })
		if len(old) == 0 {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(reloadPoll):
		}
	}
}
