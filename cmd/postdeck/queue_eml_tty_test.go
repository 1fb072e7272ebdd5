package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the terminal end (what a command
// writes to) and the other end (what the administrator's screen reads).
func openPTY(t *testing.T) (tty, screen *os.File) {
	t.Helper()
	screen, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal (/dev/ptmx, which every Linux this runs on has): %v", err)
	}
	t.Cleanup(func() { _ = screen.Close() })
	if err := unix.IoctlSetPointerInt(int(screen.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(screen.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tty.Close() })
	return tty, screen
}

// TestCLIQueueEmlOnATerminal: `postdeck queue eml ID` not redirected
// wrote the stranger's message as it came to the terminal, which acted
// on its escape sequences (here: a window title, a cleared screen). On
// a terminal it is shown as mpa error show shows one (queue.Readable);
// into a file it goes byte for byte.
func TestCLIQueueEmlOnATerminal(t *testing.T) {
	const eml = "Subject: \x1b]0;owned\x07hello\r\n\r\nbody \x1b[2J\u009b2J end\r\n"
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/queue/4XyZ1abcD/eml" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, eml)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	// eml writes to os.Stdout: point it at the terminal, then at a file.
	stdout := os.Stdout
	t.Cleanup(func() { os.Stdout = stdout })
	tty, screen := openPTY(t)
	// Raw mode: the terminal passes what it gets as it is (no CRLF
	// translation), which is what a screen would act on.
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Oflag &^= unix.OPOST
	if err := unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	os.Stdout = tty
	err = cmdQueue([]string{"eml", "--socket", sock, "4XyZ1abcD"})
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	_ = tty.Close()
	shown, _ := io.ReadAll(screen) // EIO once the terminal end is closed
	if bytes.ContainsAny(shown, "\x1b\x07") || strings.Contains(string(shown), "\u009b") || !strings.Contains(string(shown), "body \uFFFD[2J\uFFFD2J end") {
		t.Errorf("the terminal got %q", shown)
	}

	file, err := os.Create(filepath.Join(t.TempDir(), "m.eml"))
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout = file
	err = cmdQueue([]string{"eml", "--socket", sock, "4XyZ1abcD"})
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(file.Name()); string(got) != eml {
		t.Errorf("the file got %q, want the message as it is", got)
	}
}
