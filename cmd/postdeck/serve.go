package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"postdeck/admin"
	"postdeck/jobs"
	"postdeck/memlimit"
	"postdeck/mpa"
	"postdeck/mta"
	"postdeck/postfix"
	"postdeck/queue"
	"postdeck/store"
	"postdeck/webui"
)

// serveFlags are the daemon's options; each also reads POSTDECK_<FLAG>.
type serveFlags struct {
	data           string
	postfixConfig  string
	private        bool
	listen         string
	socket         string
	smtpListen     string
	mpaListen      string
	reinjectListen string
	mpaMaillog     string
	mpaQuotaN      int
	mpaQuotaBytes  int64
	mpaMinFree     int64
	tableDirs      []string
	resolver       string
	logFormat      string
	logLevel       string
	metricsPublic  bool
	tlsCert        string
	tlsKey         string
	tlsSelfSigned  bool
	trustedProxies []netip.Prefix
	sbin           string
	cluster        clusterFlags
	chainOrder     string
	// mpaListenSet and reinjectListenSet: the flag (or its environment
	// variable) was given, so it wins over the addresses an import chose.
	mpaListenSet, reinjectListenSet bool
	webSocket                       string
	webUser                         string
	webUnit                         bool
	// printFirstLogin: the first start also prints the first login on
	// stdout (make run's terminal); under systemd stdout is the journal.
	printFirstLogin bool
	// postfixUnit is the systemd unit that runs the system's Postfix:
	// postdeck starts and stops it through systemctl (mta.Config).
	postfixUnit string
}

// firstLoginFile is the file in --data that holds the first
// administrator's one-time password (admin.Config.FirstLoginFile).
const firstLoginFile = "initial-admin-password"

// defaultSMTPListen is where Postfix's smtpd listens unless --smtp-listen
// says otherwise.
func defaultSMTPListen(private bool) string {
	if private {
		return "127.0.0.1:2525"
	}
	return ":25"
}

// parseTableDirs reads --table-dirs: comma-separated directories, made
// absolute.
func parseTableDirs(list string) ([]string, error) {
	var out []string
	for _, d := range strings.Split(list, ",") {
		if d = strings.TrimSpace(d); d == "" {
			continue
		}
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		out = append(out, abs)
	}
	return out, nil
}

func parseServeFlags(args []string) (serveFlags, error) {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&f.data, "data", "/var/lib/postdeck", "data directory (the bbolt database)")
	fs.StringVar(&f.postfixConfig, "postfix-config", "/etc/postfix", "Postfix config directory")
	fs.BoolVar(&f.private, "private-postfix", false, "create and run a private Postfix instance in --postfix-config, which must then be given and not be /etc/postfix (queue and data beside it)")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "console and API listen address")
	fs.StringVar(&f.socket, "socket", "/run/postdeck/ctl.sock", "unix socket for the CLI (root only)")
	fs.StringVar(&f.webSocket, "web-socket", "", "unix socket the web process forwards the console's requests to, 0660 root and the web user's group (default: web.sock beside --socket)")
	fs.StringVar(&f.webUser, "web-user", defaultWebUser, "the user the web process runs as when the daemon runs as root (nobody when it does not exist)")
	fs.BoolVar(&f.webUnit, "web-unit", false, "the web process runs as its own service (postdeck-web.service): do not start it")
	fs.StringVar(&f.smtpListen, "smtp-listen", "", "where Postfix's smtpd listens (default :25, or 127.0.0.1:2525 with --private-postfix)")
	fs.StringVar(&f.mpaListen, "mpa-listen", mpa.DefaultListen, "the MPA content filter's address")
	fs.StringVar(&f.reinjectListen, "reinject-listen", mpa.DefaultReinjectAddr, "Postfix's reinjection listener for the MPA")
	fs.StringVar(&f.mpaMaillog, "mpa-maillog", "", "Postfix's log, read by the MPA to settle deliveries a crash left in doubt (default: the private instance's maillog, else /var/log/mail.log)")
	fs.IntVar(&f.mpaQuotaN, "mpa-error-quota-entries", 10000, "error repository quota: entries (at the quota the MPA answers 452 and Postfix keeps new mail queued)")
	fs.Int64Var(&f.mpaQuotaBytes, "mpa-error-quota-bytes", 1<<30, "error repository quota: bytes of messages")
	fs.Int64Var(&f.mpaMinFree, "mpa-min-free", 64<<20, "free bytes the MPA keeps on the file system of --data (at least 1.5 x message_size_limit): below it the MPA answers 452 at MAIL FROM and Postfix keeps new mail queued")
	tableDirs := fs.String("table-dirs", "", "comma-separated directories outside --postfix-config where tables the main config names may live")
	fs.StringVar(&f.resolver, "resolver", "", "DNS server for the SPF refresher (default: /etc/resolv.conf)")
	fs.StringVar(&f.logFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.BoolVar(&f.metricsPublic, "metrics-public", false, "serve /metrics without a bearer token")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate for the console")
	fs.StringVar(&f.tlsKey, "tls-key", "", "TLS key for the console")
	fs.BoolVar(&f.tlsSelfSigned, "tls-self-signed", false, "serve the console over TLS with a self-signed certificate made at first start")
	fs.Func("trusted-proxies", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client (login limits, logs, audit)", func(v string) error {
		p, err := webui.ParseTrustedProxies(v)
		f.trustedProxies = p
		return err
	})
	fs.StringVar(&f.sbin, "postfix-sbin", postfix.DefaultSbinDir, "where Postfix's commands are")
	fs.StringVar(&f.postfixUnit, "postfix-unit", "", "the systemd unit that runs the system's Postfix (postfix.service): postdeck starts it with systemctl restart and stops it with systemctl stop instead of postfix start and stop, so that master never runs inside postdeck's own service (its cgroup and sandbox)")
	f.cluster.register(fs)
	fs.StringVar(&f.chainOrder, "chain-order", mta.ChainAfter, "first start: put the MPA after (after) or before (before) a content filter the imported configuration has")
	fs.BoolVar(&f.printFirstLogin, "print-first-login", false, "first start: also print the first login (user and one-time password) on stdout, for a terminal (make run); not under systemd, where stdout goes to the journal. The password is in --data's "+firstLoginFile+" either way")
	set := map[string]bool{}
	var envErr error
	fs.VisitAll(func(fl *flag.Flag) {
		env := "POSTDECK_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fl.Value.Set(v); err != nil {
				envErr = errors.Join(envErr, fmt.Errorf("%s: %w", env, err))
			}
			set[fl.Name] = true
		}
	})
	if envErr != nil {
		return f, envErr
	}
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	// The flag package stops at the first argument that is not a flag:
	// the flags after a stray word (`serve --data D x --listen ADDR`)
	// were ignored, and the daemon started on the defaults.
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected argument %q: serve takes flags only (the flags after it were not read)", fs.Arg(0))
	}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	f.mpaListenSet, f.reinjectListenSet = set["mpa-listen"], set["reinject-listen"]
	if f.chainOrder != mta.ChainAfter && f.chainOrder != mta.ChainBefore {
		return f, fmt.Errorf("--chain-order %q: use after or before", f.chainOrder)
	}
	if f.smtpListen == "" {
		f.smtpListen = defaultSMTPListen(f.private)
	}
	var err error
	if f.postfixConfig, err = filepath.Abs(f.postfixConfig); err != nil {
		return f, err
	}
	// A private instance owns its configuration directory and puts its
	// queue and data beside it: in /etc/postfix that would replace the
	// system's main.cf and make /etc/spool and /etc/data.
	if f.private && (!set["postfix-config"] || f.postfixConfig == "/etc/postfix") {
		return f, errors.New("--private-postfix needs --postfix-config DIR, a directory of its own (the instance's queue, data and maillog go beside it, in DIR's parent), not the system's /etc/postfix")
	}
	if f.data, err = filepath.Abs(f.data); err != nil {
		return f, err
	}
	if f.tableDirs, err = parseTableDirs(*tableDirs); err != nil {
		return f, err
	}
	if f.webSocket == "" {
		f.webSocket = filepath.Join(filepath.Dir(f.socket), "web.sock")
	}
	if f.webSocket, err = filepath.Abs(f.webSocket); err != nil {
		return f, err
	}
	private := append([]string{f.data, f.postfixConfig}, f.tableDirs...)
	if f.private {
		private = append(private, filepath.Dir(f.postfixConfig))
	}
	for _, private := range private {
		if rel, err := filepath.Rel(private, f.webSocket); err == nil && !strings.HasPrefix(rel, "..") {
			return f, fmt.Errorf("--web-socket %s is inside %s, which the web process must not see", f.webSocket, private)
		}
	}
	return f, nil
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use json or text", format)
}

func serve(args []string) error {
	f, err := parseServeFlags(args)
	if err != nil {
		return err
	}
	log, err := newLogger(f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	tuneGC(ctx)

	db, err := store.Open(filepath.Join(f.data, "postdeck.db"))
	if err != nil {
		return err
	}
	defer func() {
		if err := db.Close(); err != nil {
			log.Error("close database", "err", err)
		}
	}()
	if from, to := db.Migrated(); from != 0 && from != to {
		log.Info("database migrated", "path", filepath.Join(f.data, "postdeck.db"), "schema_from", from, "schema_to", to)
	}

	inst := mta.Instance{
		ConfigDir:      f.postfixConfig,
		Private:        f.private,
		SMTPListen:     f.smtpListen,
		MPAListen:      f.mpaListen,
		ReinjectListen: f.reinjectListen,
		TableDirs:      f.tableDirs,
	}
	if f.private {
		inst.BaseDir = filepath.Dir(f.postfixConfig)
	}
	// On a server that already runs Postfix, the first start takes its
	// configuration over (originals kept under the data directory), so
	// that the first apply changes nothing Postfix does but the MPA's
	// wiring and the maps' paths; if it would change more, postdeck holds
	// off and the original keeps running.
	first, err := admin.ImportOnFirstStart(ctx, db, admin.FirstStartOptions{Instance: inst,
		FixedMPAListen: f.mpaListenSet, FixedReinjectListen: f.reinjectListenSet,
		ChainOrder: f.chainOrder, SbinDir: f.sbin, BackupRoot: f.data}, log)
	if err != nil {
		return fmt.Errorf("import the existing postfix configuration: %w", err)
	}
	// Where an import put the MPA (and the filter it kept beside it)
	// holds unless a flag says otherwise.
	wiring, err := db.LoadWiring()
	if err != nil {
		return err
	}
	inst = wiredInstance(inst, wiring, f)

	// The MPA listens before Postfix is pointed at it: a content filter that
	// is down makes Postfix defer, but there is no reason to start that way.
	maillog := f.mpaMaillog
	if maillog == "" && f.private {
		maillog = filepath.Join(filepath.Dir(f.postfixConfig), "maillog")
	} else if maillog == "" {
		maillog = "/var/log/mail.log"
	}
	if !f.private {
		warnUnreadableMaillog(log, maillog)
	}
	st, err := db.LoadState()
	if err != nil {
		return err
	}
	mpaSrv, err := mpa.New(mpa.Config{
		Listen:            inst.MPAListen,
		ReinjectAddr:      inst.ReinjectListen,
		SpoolDir:          filepath.Join(f.data, "mpa"),
		MaxMessageBytes:   st.Settings.MessageSizeLimit, // the lead wires SetLimits to settings changes
		Maillog:           maillog,
		ErrorQuotaEntries: f.mpaQuotaN,
		ErrorQuotaBytes:   f.mpaQuotaBytes,
		MinFreeBytes:      f.mpaMinFree,
	}, db, log)
	if err != nil {
		return err
	}
	if err := mpaSrv.Start(ctx); err != nil {
		return fmt.Errorf("start mpa: %w", err)
	}
	var stops shutdownSteps
	defer stops.run(log) // also on a failed start
	stops.add("stop the mpa (finishing its sessions)", mpaSrv.Shutdown)

	manager, err := mta.New(mta.Config{Instance: inst, SbinDir: f.sbin, AfterReload: mpaSrv.Reconnect, PostfixUnit: f.postfixUnit}, db, log)
	if err != nil {
		return err
	}
	postfixQueue := queue.New(manager.Postfix(), log)
	firstLogin := filepath.Join(f.data, firstLoginFile)
	ops := admin.New(admin.Config{DB: db, MTA: manager, MPA: mpaSrv, Log: log,
		Queue: postfixQueue, SubmitAddr: inst.SubmitAddr(), FirstLoginFile: firstLogin})
	// A cluster node: changes go through etcd, and the node applies every
	// committed revision. It starts with its last good configuration
	// (below) and follows the cluster in the background.
	node, err := f.cluster.newNode(db, log)
	if err != nil {
		return err
	}
	if node != nil {
		manager.SetReplicator(node)
		ops.SetCluster(node)
	}
	// A first login's file whose password no longer works goes (a
	// removal that failed before, a restored database).
	ops.DropStaleFirstLogin()
	if node != nil {
		// Users come from the cluster: no first-start password here.
	} else if password, err := ops.EnsureFirstAdmin(); err != nil {
		return err
	} else if password != "" {
		// The password is in the file, never in the log (the adm group
		// and log shippers read the journal).
		log.Warn("first start: created console user admin with a one-time password, kept in the file at path (mode 0600); the first login must replace it (or set one with `postdeck admin passwd admin`)",
			"username", admin.FirstAdmin, "path", firstLogin)
		if f.printFirstLogin {
			fmt.Printf("postdeck: first login: user %s, password %s (one-time: the console asks for a new one)\n", admin.FirstAdmin, password)
		}
	}
	if first.Imported {
		log.Info("imported the existing postfix configuration", "config", f.postfixConfig, "chain", first.Result.Chain)
	}
	if first.Held != "" {
		manager.Hold(first.Held)
	} else {
		if _, err := ops.ApplyAtStart(ctx); err != nil {
			return fmt.Errorf("apply configuration at start: %w", err)
		}
		log.Info("postfix configuration applied", "config", f.postfixConfig, "private", f.private, "smtp", f.smtpListen, "mpa", inst.MPAListen)
	}
	// The watchdog brings back a Postfix that died (not one an
	// administrator stopped), until the daemon stops.
	go ops.Watch(ctx, 5*time.Second)
	if st, err := db.LoadState(); err == nil { // an import may have changed message_size_limit
		mpaSrv.SetLimits(st.Settings.MessageSizeLimit, 0)
	}
	// The queue index follows the queue directory from here on (it exists
	// now: the apply ran postfix check). Without it, listings run
	// postqueue -j.
	if err := postfixQueue.Start(ctx, queue.IndexOptions{}); err != nil {
		log.Error("queue index not started; queue listings run postqueue -j", "err", err)
	} else {
		stops.add("stop the queue index", postfixQueue.Shutdown)
	}

	sched := jobs.NewScheduler(log)
	var runHere func() bool
	if node != nil {
		runHere = node.Leads // the SPF refresh runs once per cluster
	}
	refresher, err := jobs.NewRefresher(jobs.RefresherConfig{
		DB: db, Maps: ops.RefresherMaps(), Scheduler: sched, Logger: log,
		Resolver: f.resolver, RefreshOnStart: true, OnScheduled: ops.AuditScheduledRefresh,
		RunHere: runHere,
	})
	if err != nil {
		return err
	}
	ops.SetRefresher(refresher)
	if err := refresher.Start(ctx); err != nil {
		return fmt.Errorf("start spf refresher: %w", err)
	}
	sched.Start()
	stops.add("stop jobs (waiting for a running refresh)", sched.Shutdown)
	stops.add("stop a private postfix", manager.Shutdown)

	tlsConf, err := webui.TLSConfig(f.tlsCert, f.tlsKey, f.tlsSelfSigned, f.data)
	if err != nil {
		return err
	}
	web := webui.New(webui.Config{MetricsPublic: f.metricsPublic, Secure: tlsConf != nil, TrustedProxies: f.trustedProxies}, webui.Deps{Admin: ops, Log: log})
	sock, err := listenSocket(f.socket)
	if err != nil {
		return err
	}
	// The console's network listener is the web process's (postdeck web,
	// package webproxy), an unprivileged process: the daemon answers it
	// on the web socket only.
	webID, err := resolveWebUser(f.webUser, log)
	if err != nil {
		_ = sock.Close()
		return err
	}
	if err := writeWebTLS(f.webSocket, tlsConf, webID); err != nil {
		_ = sock.Close()
		return err
	}
	wsock, err := listenWebSocket(f.webSocket, webID)
	if err != nil {
		_ = sock.Close()
		return err
	}
	errc := make(chan error, 2)
	go func() { errc <- web.Serve(sock, true) }()
	go func() { errc <- web.ServeWeb(wsock) }()
	webCtx, stopWeb := context.WithCancel(ctx)
	defer stopWeb()
	var sup *webSupervisor
	// consoleURL is where other nodes of a cluster reach this one's API:
	// the web process's listener.
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	consoleURL := scheme + "://" + f.listen
	if f.webUnit {
		log.Info("postdeck is ready", "console", "postdeck-web.service", "web_socket", f.webSocket, "socket", f.socket)
	} else {
		// What the web process must not see, even where file modes
		// would let it (main.cf is world-readable by Postfix's design).
		hide := []string{f.data, f.postfixConfig, "/var/spool/postfix", "/var/lib/postfix"}
		if f.private {
			hide = []string{f.data, f.postfixConfig, inst.BaseDir}
		}
		hide = append(hide, f.tableDirs...) // Postfix's tables outside its directory
		hide = append(hide, secretFiles(f)...)
		sup = newWebSupervisor(webID, f.listen, []string{"--web-socket", f.webSocket,
			"--log-format", f.logFormat, "--log-level", f.logLevel}, hide, log)
		go sup.run(webCtx)
		select {
		case addr := <-sup.ready:
			consoleURL = strings.TrimSuffix(addr, "/")
			log.Info("postdeck is ready", "console", addr, "web_user", webID.name, "socket", f.socket)
			go func() { // later starts: a web process that was killed is back
				for {
					select {
					case <-webCtx.Done():
						return
					case addr := <-sup.ready:
						log.Info("web process started again", "console", addr)
					}
				}
			}()
		case <-ctx.Done(): // stopped while starting: shut down below
		case <-sup.exited:
			return fmt.Errorf("the web process did not start (its log lines are above): %w", sup.firstErr)
		case <-time.After(60 * time.Second):
			stopWeb()
			<-sup.exited
			return errors.New("the web process did not start within 60 s (see its log lines above)")
		}
	}

	if node != nil {
		if f.cluster.api == "" {
			node.SetAPI(consoleURL)
		}
		node.Start(ctx, ops)
		stops.add("leave the cluster (status and lease)", node.Shutdown)
		log.Info("following the cluster", "node", node.Name(), "endpoints", strings.Join(f.cluster.endpoints, ","))
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var serveErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			if res, err := ops.Reapply(ctx, admin.System("system"), "SIGHUP"); err != nil {
				log.Error("re-apply on SIGHUP", "err", err)
			} else {
				log.Info("re-applied on SIGHUP", "changed", res.Changed)
			}
		case serveErr = <-errc:
			if serveErr != nil {
				break loop
			}
		}
	}
	// SIGTERM: stop accepting requests, finish MPA sessions, stop jobs, then
	// stop a private Postfix; the store closes last (deferred above).
	log.Info("shutting down")
	stopWeb()
	if sup != nil {
		<-sup.exited
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := web.Shutdown(sctx); err != nil {
		log.Error("stop web listeners", "err", err)
	}
	_ = os.Remove(f.socket)
	_ = os.Remove(f.webSocket)
	stops.run(log)
	return serveErr
}

// wiredInstance takes the MPA's addresses and chain from what an import
// stored, unless the flags were given.
func wiredInstance(inst mta.Instance, w store.Wiring, f serveFlags) mta.Instance {
	if w.MPAListen != "" && !f.mpaListenSet {
		inst.MPAListen = w.MPAListen
	}
	if w.ReinjectListen != "" && !f.reinjectListenSet {
		inst.ReinjectListen = w.ReinjectListen
	}
	inst.ChainFilter, inst.ChainOrder = w.Filter, w.Order
	return inst
}

// secretFiles are the files the daemon reads its secrets from that may
// lie outside the hidden directories: the console's TLS key and the
// cluster's client key and etcd password (in /etc/postdeck, say, which
// only the systemd unit hides). Their modes are the administrator's: a
// key left world-readable (0644) would be the web process's to read. The
// certificates go with them, though public, so that a key kept in the
// certificate's file is covered too.
func secretFiles(f serveFlags) []string {
	var out []string
	for _, p := range []string{f.tlsCert, f.tlsKey, f.cluster.ca, f.cluster.cert, f.cluster.key, f.cluster.passwordFile} {
		if p == "" {
			continue
		}
		if abs, err := filepath.Abs(p); err == nil {
			out = append(out, abs)
		}
	}
	return out
}

// shutdownSteps are stop functions run once, in the order they were added.
type shutdownSteps struct {
	names []string
	fns   []func(context.Context) error
}

func (s *shutdownSteps) add(name string, fn func(context.Context) error) {
	s.names = append(s.names, name)
	s.fns = append(s.fns, fn)
}

func (s *shutdownSteps) run(log *slog.Logger) {
	for i, fn := range s.fns {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := fn(ctx); err != nil {
			log.Error(s.names[i], "err", err)
		}
		cancel()
	}
	s.names, s.fns = nil, nil
}

// tuneGC trades a little memory for less garbage-collection CPU (on a
// 2-core appliance the collector otherwise competes with Postfix and the
// console under load) under a soft memory limit that follows the live
// heap: package memlimit. GOGC and GOMEMLIMIT still win.
func tuneGC(ctx context.Context) {
	if memlimit.Apply() {
		go memlimit.Run(ctx, 5*time.Second)
	}
}

// mkdirReachable creates dir and its missing parents 0711 whatever the
// umask: under root's strict umask (077, 027 on hardened hosts) they were
// 0700 or 0710, and the web process, another user, could not reach
// web.sock. Directories that exist keep their mode.
func mkdirReachable(dir string) error {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, os.ErrNotExist) {
			break
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return err
	}
	for _, d := range created {
		if err := os.Chmod(d, 0o711); err != nil {
			return err
		}
	}
	return nil
}

// listenSocket opens the CLI's unix socket, mode 0600 (listenUnix).
func listenSocket(path string) (net.Listener, error) {
	ln, err := listenUnix(path, "socket")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return ln, nil
}

// listenUnix listens on the unix socket path, created mode 0600 (umask),
// for the caller to give its owner and mode. It replaces a stale socket
// file but never a live one, nor a file that is not a socket. A
// directory it creates is 0711: the web process (another user) must
// reach web.sock beside the CLI's socket, which its own mode protects.
// what names the socket in errors ("socket", "web socket").
func listenUnix(path, what string) (net.Listener, error) {
	if err := mkdirReachable(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("create %s directory: %w", what, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		// Only a socket is ever replaced: a typo naming the database
		// or any other file must not remove it.
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket: it was left alone; name another path", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("socket %s is in use: another postdeck is running", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale %s: %w", what, err)
		}
	}
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return ln, nil
}

// warnUnreadableMaillog says at start when the MPA cannot read Postfix's
// log (a private instance's appears when its Postfix starts). Debian 12
// installs no syslog daemon by default: Postfix then logs to the journal
// only, /var/log/mail.log does not exist, and a delivery a crash leaves
// in doubt cannot be settled from the log, so it waits in the error
// repository for a person instead.
//
// O_NONBLOCK: opening a FIFO (a log shipper's) for reading waits for a
// writer, which held the daemon's start forever; a FIFO or a device is
// not a log the MPA can read back either, and is said as such.
func warnUnreadableMaillog(log *slog.Logger, path string) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err == nil {
		fi, serr := f.Stat()
		_ = f.Close()
		switch {
		case serr != nil:
			err = serr
		case !fi.Mode().IsRegular():
			err = errors.New("not a regular file")
		default:
			return
		}
	}
	log.Warn("the MPA cannot read Postfix's log, so a delivery a crash leaves in doubt waits in the error repository for a person instead of being settled from the log; install a syslog daemon that writes it (Debian 12: apt install rsyslog) or point --mpa-maillog at Postfix's log file", "path", path, "err", err)
}
