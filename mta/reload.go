package mta

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"syscall"
)

// reload makes the running master re-read main.cf and master.cf: what
// `postfix reload` does (postfix-script's reload: a structure check of the
// active queue, `postsuper active`, then SIGHUP to master), without the
// script's last step, a structure check of every queue (`postsuper &`)
// left running in the background. postsuper(1) says that check belongs
// before Postfix starts (`postfix start` runs it); after a reload it
// finds nothing a reload could have caused, and it reads every queue
// file's directory entry: with 100,000 deferred messages 0.76 s of CPU
// after every settings save, beside the console and the mail.
//
// master is the pid from master.pid; unless it names a process called
// master (a stale pid file may name another process by now), or when the
// signal cannot be sent, Postfix's own `postfix reload` runs instead.
func (m *Manager) reload(ctx context.Context, master int) (stderr []byte, err error) {
	if !isMaster(master) {
		_, stderr, err = m.pf.Run(ctx, nil, "postfix", "reload")
		return stderr, err
	}
	if _, stderr, err = m.pf.Run(ctx, nil, "postsuper", "active"); err != nil {
		return stderr, err
	}
	if err := syscall.Kill(master, syscall.SIGHUP); err != nil {
		_, stderr, err = m.pf.Run(ctx, nil, "postfix", "reload")
		return stderr, err
	}
	return nil, nil
}

// isMaster reports whether pid is a live process whose command name is
// master (/proc/PID/comm).
func isMaster(pid int) bool {
	if pid <= 1 {
		return false
	}
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return false
	}
	return string(bytes.TrimSpace(comm)) == "master"
}
