package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"postdeck/webproxy"
)

// webTLSFile is where the daemon leaves the console's certificate and key
// for the web process (PEM, 0640 root:WEBGROUP), beside the web socket.
// The daemon reads the certificate files (or makes the self-signed one in
// its data directory, which the web user cannot read) and hands over only
// this copy; without TLS it removes the file.
func webTLSFile(webSocket string) string {
	return filepath.Join(filepath.Dir(webSocket), "web-tls.pem")
}

// webFlags are the options of `postdeck web`, the unprivileged web
// process; each also reads POSTDECK_<FLAG> (the same /etc/default/postdeck
// as the daemon's unit).
type webFlags struct {
	listen    string
	webSocket string
	logFormat string
	logLevel  string
	wait      time.Duration
	// Set by the daemon when it starts the web process itself (hidden
	// from the usage text):
	readyFD   int      // write the console's address here once listening
	daemonPID int      // exit when this parent goes away
	user      string   // UID:GID to become (the daemon starts us as root in a new mount namespace)
	hide      []string // directories to make inaccessible before dropping root
	exe       string   // this binary, for the exec after dropping root
}

func parseWebFlags(args []string) (webFlags, error) {
	var f webFlags
	fs := flag.NewFlagSet("web", flag.ContinueOnError)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "console and API listen address")
	fs.StringVar(&f.webSocket, "web-socket", defaultWebSocket, "the daemon's socket for the web process")
	fs.StringVar(&f.logFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.DurationVar(&f.wait, "wait", time.Minute, "how long to wait for the daemon's socket at start")
	fs.IntVar(&f.readyFD, "ready-fd", 0, "(set by serve) file descriptor to report the listening address on")
	fs.IntVar(&f.daemonPID, "daemon-pid", 0, "(set by serve) the daemon's pid: the web process ends with it")
	fs.StringVar(&f.user, "user", "", "(set by serve) UID:GID to switch to after hiding the private directories")
	fs.Func("hide", "(set by serve) a directory or file the web process must not see (repeatable)", func(v string) error {
		if !filepath.IsAbs(v) {
			return fmt.Errorf("--hide %q: not an absolute path", v)
		}
		f.hide = append(f.hide, filepath.Clean(v))
		return nil
	})
	var envErr error
	fs.VisitAll(func(fl *flag.Flag) {
		switch fl.Name {
		case "listen", "web-socket", "log-format", "log-level":
		default:
			return // the daemon passes the rest explicitly
		}
		env := "POSTDECK_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fl.Value.Set(v); err != nil {
				envErr = errors.Join(envErr, fmt.Errorf("%s: %w", env, err))
			}
		}
	})
	if envErr != nil {
		return f, envErr
	}
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return f, nil
}

// cmdWeb is `postdeck web`: the console's network listener, as an
// unprivileged process that forwards to the daemon (package webproxy).
// Started by `postdeck serve` (as root, with --user and --hide: it hides
// the private directories in its own mount namespace, then becomes the
// web user for good), or by its own systemd unit as the web user.
func cmdWeb(args []string) error {
	f, err := parseWebFlags(args)
	if err != nil {
		return err
	}
	log, err := newLogger(f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	log = log.With("process", "web")
	if f.user != "" {
		f.exe = selfExe()
		// Returns only on failure: on success the process is the web
		// user's, re-executed without --user.
		return fmt.Errorf("drop privileges: %w", dropToWebUser(f))
	}
	if err := noNewPrivileges(); err != nil {
		return fmt.Errorf("%w", err)
	}
	if f.daemonPID > 0 {
		// The parent-death signal does not survive a change of user:
		// set it again, then make sure the daemon did not go meanwhile.
		if err := prctl(prSetPdeathsig, uintptr(syscall.SIGTERM)); err != nil {
			return fmt.Errorf("set the parent-death signal: %w", err)
		}
		if os.Getppid() != f.daemonPID {
			return errors.New("the daemon that started this process is gone")
		}
	}
	if os.Getuid() == 0 || os.Geteuid() == 0 {
		return errors.New("refusing to run as root: start it through `postdeck serve` or as the postdeck-web user")
	}
	// Not dumpable: another process of the same user (nobody's, where
	// the package's postdeck-web is missing) could otherwise read this
	// one's memory (the console's TLS key, cookies and passwords in
	// flight) through /proc/PID/mem or ptrace. No core dumps either.
	if err := prctl(prSetDumpable, 0); err != nil {
		return fmt.Errorf("set not dumpable: %w", err)
	}
	// Every request allocates a little here (a copy of its headers and
	// body); the same trade as the daemon's: less collector CPU on a
	// 2-core appliance, where the two processes share the cores.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	tuneGC(ctx)

	if err := waitForDaemon(ctx, f.webSocket, f.wait); err != nil {
		return err
	}
	var tlsConf *tls.Config
	if pemBytes, err := os.ReadFile(webTLSFile(f.webSocket)); err == nil {
		cert, err := tls.X509KeyPair(pemBytes, pemBytes)
		if err != nil {
			return fmt.Errorf("the console certificate from the daemon: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read the console certificate: %w", err)
	}

	proxy := webproxy.New(webproxy.Config{Socket: f.webSocket, TLS: tlsConf, Log: log})
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.listen, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- proxy.Serve(ln) }()
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	addr := scheme + "://" + ln.Addr().String() + "/"
	log.Info("web process listening", "console", addr, "uid", os.Getuid(), "gid", os.Getgid())
	if f.readyFD > 2 {
		ready := os.NewFile(uintptr(f.readyFD), "ready")
		_, werr := ready.WriteString(addr + "\n")
		if cerr := ready.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("report readiness: %w", werr)
		}
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return proxy.Shutdown(sctx)
}

// waitForDaemon waits until the daemon answers connections on its web
// socket (a unit started next to the daemon's may come up first).
func waitForDaemon(ctx context.Context, socket string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		c, err := net.DialTimeout("unix", socket, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) || errors.Is(err, syscall.EACCES) {
			return fmt.Errorf("the daemon's socket %s: %w", socket, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dropToWebUser runs in the web process started by the daemon as root in
// a mount namespace of its own: it makes the private directories
// unreachable there (an empty read-only tmpfs of mode 0 over each), drops
// every capability from the bounding set, becomes UID:GID with no
// supplementary groups, sets no_new_privs, and executes itself again
// without --user, passing on no descriptor but the standard ones and the
// ready pipe. The bounding set and no_new_privs belong to a thread:
// the exec from the thread that set them makes them the whole process's.
// It returns only on failure.
func dropToWebUser(f webFlags) error {
	uidS, gidS, ok := strings.Cut(f.user, ":")
	uid, err1 := strconv.Atoi(uidS)
	gid, err2 := strconv.Atoi(gidS)
	if !ok || err1 != nil || err2 != nil || uid <= 0 || gid <= 0 {
		return fmt.Errorf("--user %q: want UID:GID, neither 0", f.user)
	}
	if os.Getuid() != 0 {
		return errors.New("--user needs to start as root")
	}
	runtime.LockOSThread() // never unlocked: this thread execs
	// Mounts made here must not propagate back to the daemon's namespace
	// (the daemon started this process with CLONE_NEWNS).
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		// EINVAL: "/" is not a mount point (a chroot into a plain
		// directory). Hiding would then leak mounts: refuse instead.
		return fmt.Errorf("make mounts private (in a chroot, its root must be a mount point): %w", err)
	}
	for _, dir := range f.hide {
		fi, err := os.Stat(dir)
		if err != nil {
			continue // nothing to hide
		}
		if !fi.IsDir() {
			// A file (a secret of the daemon's outside its directories):
			// /dev/null over it, on a nodev mount, which nobody can open.
			if err := hideFile(dir); err != nil {
				return fmt.Errorf("hide %s: %w", dir, err)
			}
			continue
		}
		if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "size=4k,mode=000"); err != nil {
			return fmt.Errorf("hide %s: %w", dir, err)
		}
	}
	for c := uintptr(0); c < 64; c++ {
		if err := prctl(prCapBSetDrop, c); err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("setgid %d: %w", gid, err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("setuid %d: %w", uid, err)
	}
	if syscall.Setuid(0) == nil {
		return errors.New("could become root again after dropping it")
	}
	if err := noNewPrivileges(); err != nil {
		return err
	}
	if err := keepOnlyStdioAcrossExec(f.readyFD); err != nil {
		return err
	}
	args := []string{os.Args[0], "web", "--listen", f.listen, "--web-socket", f.webSocket,
		"--log-format", f.logFormat, "--log-level", f.logLevel, "--wait", f.wait.String(),
		"--ready-fd", strconv.Itoa(f.readyFD), "--daemon-pid", strconv.Itoa(f.daemonPID)}
	return syscall.Exec(f.exe, args, os.Environ())
}

// hideFile mounts /dev/null over path, read-only and nodev: opening it
// fails (EACCES), as for systemd's InaccessiblePaths= on a file.
func hideFile(path string) error {
	if err := syscall.Mount("/dev/null", path, "", syscall.MS_BIND, ""); err != nil {
		return err
	}
	return syscall.Mount("", path, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "")
}

// keepOnlyStdioAcrossExec marks every descriptor above standard error but
// readyFD close-on-exec. Go opens its own so, but one the daemon was
// started with (a shell's redirection, a leaky parent) is open without
// it, and would reach the web user's process through the exec.
func keepOnlyStdioAcrossExec(readyFD int) error {
	ranges := [][2]uint{{3, ^uint(0)}}
	if readyFD > 2 {
		ranges = [][2]uint{{3, uint(readyFD) - 1}, {uint(readyFD) + 1, ^uint(0)}}
	}
	for _, r := range ranges {
		if r[0] > r[1] {
			continue
		}
		err := unix.CloseRange(r[0], r[1], unix.CLOSE_RANGE_CLOEXEC)
		if err == nil {
			continue
		}
		if !errors.Is(err, syscall.ENOSYS) && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("close-on-exec: %w", err)
		}
		// A kernel before 5.11: each open descriptor by /proc.
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return fmt.Errorf("close-on-exec: %w", err)
		}
		for _, e := range fds {
			if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 && fd != readyFD {
				syscall.CloseOnExec(fd)
			}
		}
		return nil
	}
	return nil
}

const (
	prCapBSetDrop   = 24 // PR_CAPBSET_DROP
	prSetNoNewPrivs = 38 // PR_SET_NO_NEW_PRIVS
	prSetPdeathsig  = 1  // PR_SET_PDEATHSIG
	prSetDumpable   = 4  // PR_SET_DUMPABLE
)

func prctl(option, arg uintptr) error {
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRCTL, option, arg, 0, 0, 0, 0); errno != 0 {
		return errno
	}
	return nil
}

// noNewPrivileges sets no_new_privs: no exec of the web process (it makes
// none) can gain privileges through set-user-ID files or file capabilities.
func noNewPrivileges() error {
	if err := prctl(prSetNoNewPrivs, 1); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	return nil
}
