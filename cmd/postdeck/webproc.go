package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"postdeck/atomicfile"
	"postdeck/panics"
)

// defaultWebSocket is where the daemon listens for the web process.
const defaultWebSocket = "/run/postdeck/web.sock"

// defaultWebUser is the system user the package makes for the web process.
const defaultWebUser = "postdeck-web"

// webRestartDelay is how long the daemon waits before starting a web
// process that exited again (longer, up to webRestartMax, while it keeps
// exiting at once). A killed web process is back well within 5 seconds.
const (
	webRestartDelay = 250 * time.Millisecond
	webRestartMax   = 2 * time.Second
)

// webIdentity is who the web process runs as.
type webIdentity struct {
	uid, gid int
	name     string
	// drop is true when the daemon runs as root: the web process starts
	// as root in a mount namespace of its own, hides the private
	// directories and becomes uid:gid (web.go, dropToWebUser).
	drop bool
	// ownGroup is true when gid is the web user's own group (the
	// package's postdeck-web:postdeck-web): only then do the web socket
	// and the TLS key go to that group. nobody's nogroup is also _apt's
	// and that of every system account made without a group of its own:
	// without a group of its own, they go to the web user itself.
	ownGroup bool
}

// resolveWebUser finds the web process's user. As root: the --web-user
// account (the package's postdeck-web); when it does not exist (make run,
// tests) nobody:nogroup, with a warning; never root. Not as root (a
// developer's make run): the daemon's own user, since it cannot change
// users; the processes are split, but not their privileges.
func resolveWebUser(name string, log *slog.Logger) (webIdentity, error) {
	if os.Geteuid() != 0 {
		log.Warn("not running as root: the web process runs as the daemon's user (processes split, privileges not)", "uid", os.Geteuid())
		return webIdentity{uid: os.Geteuid(), gid: os.Getegid(), name: strconv.Itoa(os.Geteuid())}, nil
	}
	if name == "" {
		name = defaultWebUser
	}
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if !errors.As(err, &unknown) {
			return webIdentity{}, fmt.Errorf("--web-user %s: %w", name, err)
		}
		log.Warn("the web user does not exist: the web process runs as nobody (the package creates "+defaultWebUser+")", "web_user", name)
		u = &user.User{Username: "nobody", Uid: "65534", Gid: "65534"}
	}
	// A user private group has the user's name; a lookup that fails
	// counts as shared.
	g, gerr := user.LookupGroupId(u.Gid)
	ownGroup := gerr == nil && g.Name == u.Username
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return webIdentity{}, fmt.Errorf("--web-user %s: uid %q, gid %q", name, u.Uid, u.Gid)
	}
	if uid == 0 || gid == 0 {
		return webIdentity{}, fmt.Errorf("--web-user %s is root: the web process must not run as root", name)
	}
	return webIdentity{uid: uid, gid: gid, name: u.Username, drop: true, ownGroup: ownGroup}, nil
}

// webFileAccess is how the web socket and web-tls.pem are shared with
// the web process: its own group may read them (0660 and 0640,
// root:GROUP), so that the web process, not their owner, cannot change
// their modes; a group others have (nogroup) may not, the web user
// itself may (0600, UID:root); not as root, the web process is the
// daemon's own user and needs no group (0600, unchanged owner).
func (id webIdentity) webFileAccess(groupMode os.FileMode) (uid, gid int, mode os.FileMode, chown bool) {
	switch {
	case !id.drop:
		return -1, -1, 0o600, false
	case id.ownGroup:
		return 0, id.gid, groupMode, true
	default:
		return id.uid, 0, 0o600, true
	}
}

// listenWebSocket opens the web process's socket: mode 0660, owned by
// root and the web user's group, so that only root and the web process
// can connect (0600 and the web user's when that group is not its own,
// see webFileAccess). A stale socket file is replaced; a live one, or a
// file that is not a socket, refused; the directory is created 0711
// (listenUnix).
func listenWebSocket(path string, id webIdentity) (net.Listener, error) {
	ln, err := listenUnix(path, "web socket")
	if err != nil {
		return nil, err
	}
	uid, gid, mode, chown := id.webFileAccess(0o660)
	if chown {
		if err := os.Chown(path, uid, gid); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("chown web socket: %w", err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return ln, nil
}

// writeWebTLS leaves the console's certificate chain and key for the web
// process in webTLSFile (PEM, 0640 root:WEBGROUP, or as webFileAccess
// says), or removes a stale one when the console has no TLS.
func writeWebTLS(webSocket string, conf *tls.Config, id webIdentity) error {
	path := webTLSFile(webSocket)
	if conf == nil || len(conf.Certificates) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		return nil
	}
	cert := conf.Certificates[0]
	var b strings.Builder
	for _, der := range cert.Certificate {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return fmt.Errorf("console key: %w", err)
	}
	b.Write(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}))
	if err := atomicfile.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if uid, gid, mode, chown := id.webFileAccess(0o640); chown {
		if err := os.Chown(path, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
		if err := os.Chmod(path, mode); err != nil {
			return err
		}
	}
	return nil
}

// webSupervisor runs the web process as a child of the daemon and starts
// it again whenever it exits, until the daemon stops. Mail never depends
// on it: Postfix, the MPA and the jobs run in the daemon.
type webSupervisor struct {
	id     webIdentity
	listen string   // --listen; after the first start, the address it got (so that :0 stays put)
	args   []string // after "web" and --listen
	hide   []string
	log    *slog.Logger
	ready  chan string // the console address, once per start
	exited chan struct{}
	// everReady is set once a web process reported that it listens;
	// firstErr is why the first one exited before that (read after
	// exited is closed).
	everReady bool
	firstErr  error
}

func newWebSupervisor(id webIdentity, listen string, args, hide []string, log *slog.Logger) *webSupervisor {
	return &webSupervisor{id: id, listen: listen, args: args, hide: hide, log: log, ready: make(chan string, 1), exited: make(chan struct{})}
}

// run starts the web process and restarts it until ctx ends; it stops
// the last one (SIGTERM, then SIGKILL after 10 s) before returning. When
// the very first one exits before it listens (the address is taken, a
// port below 1024 without capabilities), run returns at once with its
// error in firstErr: serve fails rather than retrying what cannot work.
func (w *webSupervisor) run(ctx context.Context) {
	defer close(w.exited)
	delay := webRestartDelay
	for {
		started := time.Now()
		err := w.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if !w.everReady {
			w.firstErr = err
			return
		}
		if time.Since(started) > 10*time.Second {
			delay = webRestartDelay
		}
		w.log.Error("the web process exited; starting it again", "err", err, "in", delay.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, webRestartMax)
	}
}

// runOnce starts one web process and waits for it. The goroutine keeps
// its OS thread: the child's parent-death signal is tied to the thread
// that started it.
func (w *webSupervisor) runOnce(ctx context.Context) (err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer func() {
		if r := recover(); r != nil {
			panics.Recovered("web supervisor")
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	rd, wr, err := os.Pipe()
	if err != nil {
		return err
	}
	defer rd.Close()
	args := append([]string{"web", "--listen", w.listen}, w.args...)
	args = append(args, "--ready-fd", "3", "--daemon-pid", strconv.Itoa(os.Getpid()))
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if w.id.drop {
		args = append(args, "--user", fmt.Sprintf("%d:%d", w.id.uid, w.id.gid))
		for _, h := range w.hide {
			args = append(args, "--hide", h)
		}
		attr.Cloneflags = syscall.CLONE_NEWNS
	}
	cmd := exec.Command(selfExe(), args...)
	cmd.Dir = "/"
	cmd.Env = webEnv()
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = []*os.File{wr}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		_ = wr.Close()
		return fmt.Errorf("start: %w", err)
	}
	_ = wr.Close()
	readyLine := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(io.LimitReader(rd, 4096)).ReadString('\n')
		if err == nil {
			readyLine <- strings.TrimSpace(line)
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for waiting := true; waiting; {
		select {
		case addr := <-readyLine:
			w.everReady = true
			// A restart listens where the first one did (--listen :0).
			if u, err := url.Parse(addr); err == nil && u.Host != "" {
				w.listen = u.Host
			}
			select {
			case w.ready <- addr:
			default:
			}
		case err := <-done:
			select { // it may have reported readiness just before exiting
			case <-readyLine:
				w.everReady = true
			default:
			}
			return err
		case <-ctx.Done():
			waiting = false
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		return <-done
	}
}

// selfExe is this binary for starting the web process: /proc/self/exe
// (the very file running, even after an upgrade replaced it), or where
// there is no /proc (a chroot), the absolute path or $PATH name it was
// started as.
func selfExe() string {
	const self = "/proc/self/exe"
	if _, err := os.Stat(self); err == nil {
		return self
	}
	if filepath.IsAbs(os.Args[0]) {
		return os.Args[0]
	}
	if p, err := exec.LookPath(os.Args[0]); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	return self
}

// webEnv is the web process's environment: only what Go's runtime reads,
// nothing of the daemon's options.
func webEnv() []string {
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, k := range []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
