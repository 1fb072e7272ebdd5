package mta

import (
	"context"
	"fmt"
	"sync"
	"syscall"

	"postdeck/panics"
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
// master is master's pid as masterPID found it (postfix.MasterPID: a pid
// file that names another process by now gives 0); when it is unknown,
// or the signal cannot be sent, Postfix's own `postfix reload` runs
// instead.
//
// active, when set, is the answer of a `postsuper active` already started
// (checkActiveQueue); nil runs it here.
func (m *Manager) reload(ctx context.Context, master int, active func() ([]byte, error)) (stderr []byte, err error) {
	if master <= 1 {
		_, stderr, err = m.pf.Run(ctx, nil, "postfix", "reload")
		return stderr, err
	}
	if active == nil {
		active = m.checkActiveQueue(ctx)
	}
	if stderr, err = active(); err != nil {
		return stderr, err
	}
	if err := syscall.Kill(master, syscall.SIGHUP); err != nil {
		_, stderr, err = m.pf.Run(ctx, nil, "postfix", "reload")
		return stderr, err
	}
	return nil, nil
}

// checkActiveQueue starts `postsuper active`, the structure check of the
// active queue that `postfix reload` runs before it signals master, and
// returns its answer's waiter: it may be called more than once.
func (m *Manager) checkActiveQueue(ctx context.Context) func() ([]byte, error) {
	type answer struct {
		stderr []byte
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				panics.Recovered(panics.MTA)
				done <- answer{err: fmt.Errorf("postsuper active: internal error: %v", r)}
			}
		}()
		_, stderr, err := m.pf.Run(ctx, nil, "postsuper", "active")
		done <- answer{stderr, err}
	}()
	return sync.OnceValues(func() ([]byte, error) {
		a := <-done
		return a.stderr, a.err
	})
}
