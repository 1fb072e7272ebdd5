package mpa

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"postdeck/store"
)

// Finding out whether Postfix took an in-doubt delivery.
//
// Before the final dot of a delivery the MPA records the recipients as
// "delivering", with the transaction's name (DeliveryID) and the size of
// Postfix's maillog at the start of the transaction. If the MPA dies, or
// the connection breaks, before Postfix's answer is recorded, the delivery
// is in doubt. The transaction went out with XFORWARD IDENT=DeliveryID,
// which the reinjection smtpd (smtpd_authorized_xforward_hosts = 127.0.0.0/8
// in postdeck's master.cf) logs with Postfix's queue id:
//
//	postfix/smtpd[PID]: QID: client=localhost[127.0.0.1], orig_queue_id=DELIVERYID
//
// What follows in the log settles it (measured on Postfix 3.7):
//
//	postfix/qmgr[..]: QID: from=<...>, size=..., nrcpt=... (queue active)
//	    the message was committed to Postfix's queue: delivered.
//	postfix/smtpd[PID]: lost connection after DATA (N bytes) from ...
//	    (or "timeout after DATA") the final dot never reached smtpd, which
//	    discards the message: not delivered, send it again.
//	postfix/smtpd[PID]: disconnect from ... data=N/M ...
//	    the session's DATA commands: all accepted (no "/M") means this one
//	    was too: delivered; none accepted (data=0/M): not delivered;
//	    otherwise the qmgr line decides.
//
// No line settling it within Config.ResolveTimeout (a rotated log, a log
// elsewhere, a queue manager that never saw the message because cleanup
// failed after the dot) sends the recipients to the error repository with
// stage "interrupted", as before. This reads only the maillog, which any
// Postfix writes; XFORWARD needs no change to the reinjection service, and
// the header_checks INFO alternative would need a cleanup service of its
// own (header checks run in cleanup, not in the smtpd that -o applies to)
// and still logs before the commit, not after it. The queue (postqueue,
// postcat) alone cannot tell: a delivered message leaves it in
// milliseconds.

type outcome int

const (
	undecided outcome = iota
	postfixHasIt
	postfixDropped
)

func (o outcome) String() string {
	switch o {
	case postfixHasIt:
		return "delivered"
	case postfixDropped:
		return "not delivered"
	}
	return "undecided"
}

// maxLogScan bounds the bytes of the maillog read for one resolution.
const maxLogScan = 256 << 20

// logSize is the current size of the maillog (0 without one).
func (s *Server) logSize() int64 {
	if s.cfg.Maillog == "" {
		return 0
	}
	fi, err := os.Stat(s.cfg.Maillog)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// resolve reads Postfix's log for e's in-doubt delivery.
func (s *Server) resolve(e store.SpoolEntry) (outcome, string, error) {
	if s.cfg.Maillog == "" || e.DeliveryID == "" {
		return undecided, "no maillog configured or no delivery id recorded", nil
	}
	f, err := os.Open(s.cfg.Maillog)
	if err != nil {
		return undecided, "", fmt.Errorf("open maillog: %w", err)
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return undecided, "", fmt.Errorf("stat maillog: %w", err)
	}
	off := e.LogOffset
	if off > fi.Size() {
		off = 0 // rotated since
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return undecided, "", fmt.Errorf("seek maillog: %w", err)
	}
	o, why := scanLog(io.LimitReader(f, maxLogScan), e.DeliveryID)
	return o, why, nil
}

// scanLog settles delivery ident from maillog lines (see above).
func scanLog(r io.Reader, ident string) (outcome, string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var qid, pid string
	sessionOver := ""
	for sc.Scan() {
		prog, p, msg, ok := splitLogLine(sc.Text())
		if !ok {
			continue
		}
		switch {
		case strings.HasSuffix(prog, "/smtpd"):
			if qid == "" {
				q, rest, found := strings.Cut(msg, ": client=")
				if found && hasField(rest, "orig_queue_id="+ident) {
					qid, pid = q, p
				}
				continue
			}
			if p != pid || sessionOver != "" {
				continue
			}
			switch {
			case strings.HasPrefix(msg, "lost connection after ") || strings.HasPrefix(msg, "timeout after "):
				if state, _, _ := strings.Cut(msg[strings.Index(msg, "after ")+6:], " "); state == "DATA" {
					return postfixDropped, "Postfix's smtpd: " + msg
				}
				sessionOver = msg
			case strings.HasPrefix(msg, "disconnect from "):
				for _, f := range strings.Fields(msg) {
					if v, ok := strings.CutPrefix(f, "data="); ok {
						good, all, partial := strings.Cut(v, "/")
						if !partial {
							return postfixHasIt, "Postfix's smtpd: " + msg
						}
						if good == "0" && all != "0" {
							return postfixDropped, "Postfix's smtpd: " + msg
						}
					}
				}
				sessionOver = msg
			case strings.Contains(msg, ": client="):
				sessionOver = msg // the next transaction began
			}
		case strings.HasSuffix(prog, "/qmgr"):
			if qid != "" && strings.HasPrefix(msg, qid+": from=<") {
				return postfixHasIt, "Postfix queued it as " + qid
			}
		}
	}
	switch {
	case qid == "":
		return undecided, "no line of Postfix's smtpd names delivery " + ident
	case sessionOver == "":
		return undecided, "Postfix queue id " + qid + ": the smtpd session has not ended"
	}
	return undecided, "Postfix queue id " + qid + ": no queue manager line after " + sessionOver
}

// splitLogLine splits a syslog line "... prog[pid]: msg".
func splitLogLine(line string) (prog, pid, msg string, ok bool) {
	i := strings.Index(line, "]: ")
	if i < 0 {
		return "", "", "", false
	}
	j := strings.LastIndexByte(line[:i], '[')
	if j < 0 {
		return "", "", "", false
	}
	k := strings.LastIndexByte(line[:j], ' ')
	return line[k+1 : j], line[j+1 : i], line[i+3:], true
}

// hasField reports whether the comma-separated list s has field f.
func hasField(s, f string) bool {
	for _, x := range strings.Split(s, ",") {
		if strings.TrimSpace(x) == f {
			return true
		}
	}
	return false
}
