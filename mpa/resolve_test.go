package mpa

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// TestScanLogReadsOnlyCompleteLines: the log's last line while its writer
// is still writing it (rsyslog writes its buffer, not whole lines) is not
// read: "data=0/1" cut after "data=0" would settle a delivery Postfix
// dropped as delivered, and the message would be lost.
func TestScanLogReadsOnlyCompleteLines(t *testing.T) {
	const client = "Dec 01 21:38:14 mx postfix/smtpd[28488]: 4jfDlV2Tj1z1SC8J: client=localhost[127.0.0.1], orig_queue_id=S.1\n"
	const disconnect = "Dec 01 21:38:14 mx postfix/smtpd[28488]: disconnect from localhost[127.0.0.1] ehlo=1 xforward=1 mail=1 rcpt=1 data=0/1 commands=4/5\n"
	cut := strings.Index(disconnect, "/1 ")
	if got, why := scanLog(strings.NewReader(client+disconnect[:cut]), "S.1"); got != undecided {
		t.Errorf("a disconnect line cut after data=0: %v (%s), want undecided", got, why)
	}
	if got, why := scanLog(strings.NewReader(client+disconnect), "S.1"); got != postfixDropped {
		t.Errorf("the whole disconnect line: %v (%s), want %v", got, why, postfixDropped)
	}
}

// TestScanLogSkipsOverlongLines: a line longer than the scan looks at
// (another program's, in a syslog file) is skipped, and the lines after it
// still settle the delivery.
func TestScanLogSkipsOverlongLines(t *testing.T) {
	log := "Dec 01 21:38:14 mx postfix/smtpd[7]: Q1: client=localhost[127.0.0.1], orig_queue_id=S.1\n" +
		"Dec 01 21:38:14 mx other[9]: warning: " + strings.Repeat("x", 2<<20) + " orig_queue_id=S.1\n" +
		"Dec 01 21:38:14 mx postfix/qmgr[8]: Q1: from=<a@example.test>, size=1, nrcpt=1 (queue active)\n"
	if got, why := scanLog(strings.NewReader(log), "S.1"); got != postfixHasIt {
		t.Errorf("%v (%s), want %v", got, why, postfixHasIt)
	}
}

// TestResolveDoesNotWaitOnAFIFO: a maillog that is a named pipe (a log
// shipper's) is said to be unreadable at once; opening it for reading
// waited for a writer, holding the worker forever.
func TestResolveDoesNotWaitOnAFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "maillog")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: Config{Maillog: fifo}}
	done := make(chan outcome, 1)
	go func() {
		o, _, _ := s.resolve(store.SpoolEntry{DeliveryID: "S.1"})
		done <- o
	}()
	select {
	case o := <-done:
		if o != undecided {
			t.Errorf("a FIFO: %v, want undecided", o)
		}
	case <-time.After(5 * time.Second):
		// Let the blocked open go: a writer opens the FIFO.
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			_ = w.Close()
		}
		t.Fatal("resolve still waits on a FIFO maillog after 5s")
	}
}

// TestAcceptanceResolveAcrossRotation: the log a real Postfix writes
// (maillog_file) is rotated after an in-doubt delivery and before it is
// settled, as logrotate does it, and the new log has grown past the
// offset the delivery recorded (its bytes there are other lines). The
// delivery is still found in the rotated file and settled as delivered,
// also when the rotated file is compressed (logrotate without
// delaycompress) or named by postfix logrotate (NAME.DATE-TIME.gz).
func TestAcceptanceResolveAcrossRotation(t *testing.T) {
	postfix := func(t *testing.T, r *rig, cmd string) {
		t.Helper()
		if out, err := exec.Command(filepath.Join(postfixtest.SbinDir, "postfix"), "-c", r.inst.ConfigDir, cmd).CombinedOutput(); err != nil {
			t.Fatalf("postfix %s: %v: %s", cmd, err, out)
		}
	}
	for _, how := range []string{"create", "copytruncate", "compress", "postfix logrotate"} {
		t.Run(how, func(t *testing.T) {
			r := startRig(t)
			maillog := r.inst.Maillog
			inject(t, r, "warm.up")
			off := fileSize(t, maillog)
			since := time.Now()
			inject(t, r, "S.doubt")
			rotated := maillog + ".1"
			switch how {
			case "compress": // logrotate without delaycompress: NAME.1.gz
				if err := os.Rename(maillog, rotated); err != nil {
					t.Fatal(err)
				}
				if out, err := exec.Command("gzip", rotated).CombinedOutput(); err != nil {
					t.Fatalf("gzip: %v: %s", err, out)
				}
				postfix(t, r, "reload")
			case "postfix logrotate": // NAME.YYYYMMDD-HHMMSS.gz, by postfix itself
				postfix(t, r, "logrotate")
				for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					gz, _ := filepath.Glob(maillog + ".*.gz")
					plain, _ := filepath.Glob(maillog + ".2*[0-9]")
					if len(gz) == 1 && len(plain) == 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("postfix logrotate left %q and %q", gz, plain)
					}
				}
			case "create": // rename, create, postrotate: postfix reload
				if err := os.Rename(maillog, rotated); err != nil {
					t.Fatal(err)
				}
				if out, err := exec.Command(filepath.Join(postfixtest.SbinDir, "postfix"), "-c", r.inst.ConfigDir, "reload").CombinedOutput(); err != nil {
					t.Fatalf("postfix reload: %v: %s", err, out)
				}
			case "copytruncate":
				b, err := os.ReadFile(maillog)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(rotated, b, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(maillog, 0); err != nil {
					t.Fatal(err)
				}
			}
			// Until the maillog written after the rotation has grown past
			// off: postlogd may write a few more lines to the renamed
			// file after postfix reload returned, so the later messages
			// are not waited for in the log one by one.
			deadline := time.Now().Add(30 * time.Second)
			for i := 0; fileSize(t, maillog) <= off+200; i++ {
				if time.Now().After(deadline) {
					t.Fatalf("the maillog after the rotation did not grow past %d bytes:\n%s", off+200, r.inst.Log())
				}
				reinject(t, r, fmt.Sprintf("later.%d", i))
				time.Sleep(50 * time.Millisecond)
			}
			s := &Server{cfg: Config{Maillog: maillog}}
			o, why, err := s.resolve(store.SpoolEntry{DeliveryID: "S.doubt", LogOffset: off, DeliveringSince: since})
			if err != nil || o != postfixHasIt {
				t.Fatalf("after the rotation: %v (%s) %v, want %v", o, why, err, postfixHasIt)
			}
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return 0 // not created again yet
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// inject delivers one message to the rig's reinjection smtpd as the MPA
// does (XFORWARD IDENT=ident) and waits until the queue manager's line
// for it is in the maillog.
func inject(t *testing.T, r *rig, ident string) {
	t.Helper()
	reinject(t, r, ident)
	client := regexp.MustCompile(`smtpd\[\d+\]: (\w+): client=\S+ orig_queue_id=` + regexp.QuoteMeta(ident) + `\n`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		b, _ := os.ReadFile(r.inst.Maillog)
		if m := client.FindSubmatch(b); m != nil && strings.Contains(string(b), string(m[1])+": from=<") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no queue manager line for %s in the maillog:\n%s", ident, r.inst.Log())
}

// reinject delivers one message to the reinjection service with XFORWARD
// IDENT=ident.
func reinject(t *testing.T, r *rig, ident string) {
	t.Helper()
	c, err := smtp.Dial(r.reinjAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	fail := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("inject %s: %v", ident, err)
		}
	}
	fail(c.Hello("mpa.gw.example.test"))
	id, err := c.Text.Cmd("XFORWARD IDENT=%s", ident)
	fail(err)
	c.Text.StartResponse(id)
	_, _, err = c.Text.ReadResponse(250)
	c.Text.EndResponse(id)
	fail(err)
	fail(c.Mail("a@example.test"))
	fail(c.Rcpt("b@example.org"))
	w, err := c.Data()
	fail(err)
	_, err = io.WriteString(w, "Subject: "+ident+"\r\n\r\nbody\r\n")
	fail(err)
	fail(w.Close())
	fail(c.Quit())
}

// TestOpenRotatedPicksTheFirstRotationAfterTheDelivery: of the rotated
// logs beside the maillog, the one holding a delivery's lines is the
// oldest last written after the delivery began (a later one was the
// current log only after it); one rotated before is not it, and a
// compressor's unfinished output is passed over for its original.
func TestOpenRotatedPicksTheFirstRotationAfterTheDelivery(t *testing.T) {
	dir := t.TempDir()
	maillog := filepath.Join(dir, "maillog")
	since := time.Now().Add(-time.Hour)
	write := func(name, content string, at time.Time, compress bool) {
		t.Helper()
		var b bytes.Buffer
		if compress {
			z := gzip.NewWriter(&b)
			_, _ = z.Write([]byte(content))
			_ = z.Close()
		} else {
			b.WriteString(content)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	write("maillog", "current\n", time.Now(), false)
	write("maillog.20261205-000000.gz", "0123before\n", since.Add(-time.Hour), true)
	write("maillog.20261206-000001.gz", "0123first\n", since.Add(time.Minute), true)
	write("maillog.20261206-000010.gz", "0123second\n", since.Add(10*time.Minute), true)
	read := func() string {
		t.Helper()
		r, err := openRotated(maillog, since, 4)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = r.Close() }()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(); got != "first\n" {
		t.Fatalf("read %q, want the first rotation after the delivery", got)
	}
	// postfix logrotate compressing the first rotation right now: the
	// original is still there, the .gz is half written.
	write("maillog.20261206-000001", "0123plain\n", since.Add(time.Minute), false)
	write("maillog.20261206-000001.gz", "\x1f\x8b", since.Add(2*time.Minute), false)
	if got := read(); got != "plain\n" {
		t.Fatalf("read %q, want the file being compressed", got)
	}
	if _, err := openRotated(maillog, time.Time{}, 4); err == nil {
		t.Fatal("a delivery without its start time read a rotated log by guess")
	}
}
