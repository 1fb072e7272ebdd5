package mta

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// realCorpus is the shared corpus of real configurations written by other
// projects (../shared/corpus/maincf/<project>/main.cf and master.cf). It
// is read in place, never copied into the repository.
const realCorpus = "../../shared/corpus/maincf"

// corpusProjects lists the projects of the real corpus; the test skips
// when the folder is absent.
func corpusProjects(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(realCorpus)
	if os.IsNotExist(err) {
		t.Skipf("the real corpus %s is absent", realCorpus)
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(realCorpus, e.Name(), "main.cf")); err == nil {
			out = append(out, e.Name())
		}
	}
	if len(out) == 0 {
		t.Fatalf("no project in %s", realCorpus)
	}
	return out
}

// needCorpusProject skips only when the real corpus is absent: a corpus
// without the project a test reads is a failure, not a skip.
func needCorpusProject(t testing.TB, project string) {
	t.Helper()
	if !slices.Contains(corpusProjects(t), project) {
		t.Fatalf("the real corpus %s has no %s configuration", realCorpus, project)
	}
}

// corpusConfigDir is where a project keeps Postfix's configuration on a
// real host: mailcow runs Postfix with -c /opt/postfix/conf.
func corpusConfigDir(project string) string {
	if project == "mailcow" {
		return "/opt/postfix/conf"
	}
	return "/etc/postfix"
}

// hostPathRe finds the absolute paths of a configuration that name the
// host's own files: tables and their client configurations, certificates
// and DH parameters (/etc, /opt, hardware-mailserver's /ssl, YunoHost's
// /usr/share/yunohost), and caches (/var/lib/postfix, mailu's /dev/shm).
// The test moves them under its own root, which the private instance lists
// as a table directory; nothing of this machine's own is read or written.
var hostPathRe = regexp.MustCompile(`(^|[\s=,:{(\[])(/(?:etc|opt|ssl|usr/share/yunohost|var/lib/postfix|dev/shm)/[^\s,}\])]*)`)

// corpusHost lays a project's configuration out the way a real host has
// it, under root: main.cf and master.cf with every /etc and /opt path
// moved under root, and every table they reference created with a
// plausible entry (hash, btree, lmdb and cdb tables built by postmap;
// mysql, pgsql and ldap client files with their required settings). It
// returns the configuration directory.
func corpusHost(t testing.TB, project, root string) string {
	t.Helper()
	dir := filepath.Join(root, corpusConfigDir(project))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"main.cf", "master.cf"} {
		b, err := os.ReadFile(filepath.Join(realCorpus, project, f))
		if err != nil {
			t.Fatal(err)
		}
		writeBackdated(t, filepath.Join(dir, f), rootPaths(string(b), root))
	}
	createHostFiles(t, dir, root)
	return dir
}

// rootPaths moves /etc and /opt paths under root.
func rootPaths(text, root string) string {
	return hostPathRe.ReplaceAllString(text, "${1}"+strings.ReplaceAll(root, "$", "$$")+"${2}")
}

// createHostFiles creates the tables and files the configuration in dir
// names under root (as postconf -n -x and -P -x print them).
func createHostFiles(t testing.TB, dir, root string) {
	t.Helper()
	scratch := filepath.Join(root, ".scratch")
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		t.Fatal(err)
	}
	writeBackdated(t, filepath.Join(scratch, "main.cf"), "")
	pf := postfix.Runner{SbinDir: postfixtest.SbinDir, ConfigDir: dir}
	values := map[string]string{}
	for _, args := range [][]string{{"-n", "-x"}, {"-P", "-x"}} {
		out, _, err := pf.Run(context.Background(), nil, "postconf", args...)
		if err != nil {
			t.Fatalf("postconf %v in %s: %v", args, dir, err)
		}
		for k, v := range parsePostconf(string(out)) {
			values[k] = v
		}
	}
	var names []string
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		param := name[strings.LastIndex(name, "/")+1:]
		if createdByPostfix(param) {
			// Postfix creates a cache itself, in a directory that exists.
			for _, ref := range tableRefs(values[name]) {
				if m := tableTypeRe.FindStringSubmatch(ref); m != nil && strings.HasPrefix(m[2], root+"/") {
					if err := os.MkdirAll(filepath.Dir(m[2]), 0o755); err != nil {
						t.Fatal(err)
					}
				}
			}
			continue
		}
		if keepRefs(param) {
			continue
		}
		for _, ref := range tableRefs(values[name]) {
			m := tableTypeRe.FindStringSubmatch(ref)
			typ, path := m[1], m[2]
			if !strings.HasPrefix(path, root+"/") {
				continue
			}
			createTable(t, scratch, param, typ, path)
		}
		// TLS certificates, keys, CA files and directories, DH parameters:
		// the apply checks that they exist (and that keys are private).
		if files, key := filesParam(param); files {
			for _, tok := range refTokens(values[name]) {
				if strings.HasPrefix(tok, root+"/") {
					hostFile(t, tok, param, key)
				}
			}
		}
		// Files of patterns or names given as a bare path.
		switch param {
		case "virtual_mailbox_domains", "virtual_alias_domains", "relay_domains", "mydestination", "mynetworks", "myorigin":
			for _, tok := range refTokens(values[name]) {
				if strings.HasPrefix(tok, root+"/") {
					writeIfMissing(t, tok, "corpus.example.org\n", 0o644)
				}
			}
		}
	}
}

// hostFile creates a file a parameter names: a directory for a CApath, the
// test certificate, key or DH parameters of testdata/import/maps otherwise.
func hostFile(t testing.TB, path, param string, key bool) {
	t.Helper()
	lower := strings.ToLower(param)
	if strings.HasSuffix(lower, "_capath") {
		if err := os.MkdirAll(path, 0o755); err != nil {
			t.Fatal(err)
		}
		return
	}
	src := "testdata/import/maps/ssl/certs/mx.secure.example.pem"
	mode := os.FileMode(0o644)
	switch {
	case key:
		src, mode = "testdata/import/maps/ssl/private/mx.secure.example.key", 0o600
	case strings.Contains(lower, "_dh"):
		src = "testdata/import/maps/dh2048.pem"
	case strings.HasSuffix(lower, "_cafile"):
		src = "testdata/import/maps/ssl/certs/ca-certificates.crt"
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if !writeIfMissing(t, path, string(b), mode) && key {
		// One file for certificate and key (PMG's pmg-tls.pem): the key
		// joins the certificate, and the file becomes private.
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Write(b)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(path, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// createTable creates one table file of the host, with an entry of the
// kind the parameter expects.
func createTable(t testing.TB, scratch, param, typ, path string) {
	t.Helper()
	value := "OK"
	switch {
	case strings.Contains(param, "transport"):
		value = "smtp:[127.0.0.1]:2525"
	case strings.Contains(param, "tls_policy"):
		value = "may"
	case strings.Contains(param, "sasl_password"):
		value = "user:secret"
	case strings.Contains(param, "alias") || strings.Contains(param, "canonical") || strings.Contains(param, "virtual"):
		value = "postmaster@corpus.example.org"
	}
	mode := os.FileMode(0o644)
	if strings.Contains(param, "sasl_password") {
		mode = 0o600
	}
	switch typ {
	case "hash", "btree", "lmdb", "cdb":
		if writeIfMissing(t, path, "corpus.example.org "+value+"\n", mode) {
			if out, err := postfixtest.Command(t, "postmap", "-c", scratch, typ+":"+path); err != nil {
				t.Fatalf("postmap %s:%s: %v\n%s", typ, path, err, out)
			}
		}
	case "texthash":
		writeIfMissing(t, path, "corpus.example.org "+value+"\n", mode)
	case "cidr":
		writeIfMissing(t, path, "192.0.2.0/24 "+value+"\n", mode)
	case "pcre", "regexp":
		writeIfMissing(t, path, "/^corpus\\.example\\.org$/ "+value+"\n", mode)
	case "mysql", "pgsql":
		clientFile(t, path, "hosts = 127.0.0.1\nuser = postfix\npassword = corpus-secret\ndbname = postfix\nquery = SELECT goto FROM alias WHERE address = '%s'\n")
	case "ldap":
		clientFile(t, path, "server_host = ldap://127.0.0.1:389\nsearch_base = dc=corpus,dc=example,dc=org\nquery_filter = (mail=%s)\nresult_attribute = mail\n")
	case "sqlite":
		clientFile(t, path, "dbpath = "+path+".sqlite\nquery = SELECT goto FROM alias WHERE address = '%s'\n")
	case "memcache":
		clientFile(t, path, "memcache = inet:127.0.0.1:11211\n")
	}
}

// clientFile writes a database client's settings (they hold a password)
// the way a host has them: root:postfix 0640, readable by proxymap.
func clientFile(t testing.TB, path, content string) {
	t.Helper()
	if !writeIfMissing(t, path, content, 0o640) {
		return
	}
	g, err := user.LookupGroup("postfix")
	if err != nil {
		t.Fatalf("group postfix: %v", err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 0, gid); err != nil {
		t.Fatal(err)
	}
}

// writeIfMissing writes a file (and its directory) unless it exists, and
// reports whether it wrote it.
func writeIfMissing(t testing.TB, path, content string, mode os.FileMode) bool {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return false
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return true
}

// corpusInstance is the system instance an import is made for: the MPA
// wired at its default addresses, which the import moves when the
// configuration uses them.
func corpusInstance() Instance {
	return Instance{SMTPListen: ":25", MPAListen: "127.0.0.1:10025", ReinjectListen: "127.0.0.1:10026"}
}

// TestImportRealCorpusCheck imports every real configuration and checks,
// with the same comparison `postdeck import --check` prints, that the only
// differences are the MPA's wiring and the paths of the maps postdeck now
// manages.
func TestImportRealCorpusCheck(t *testing.T) {
	postfixtest.Require(t)
	ctx := context.Background()
	for _, project := range corpusProjects(t) {
		t.Run(project, func(t *testing.T) {
			root := postfixtest.Dir(t)
			dir := corpusHost(t, project, root)
			res, err := ImportWith(ctx, dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: corpusInstance()})
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			rep, err := CheckImport(ctx, postfixtest.SbinDir, dir, res)
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			var b strings.Builder
			rep.Format(&b)
			t.Logf("chain: %s\n%s", res.Chain, b.String())
			for _, n := range res.Notes {
				t.Logf("note: %s", n)
			}
			for _, u := range res.Unmanaged {
				t.Logf("left as is: %s (%s): %s", u.Ref, strings.Join(u.Params, ", "), u.Reason)
			}
			for _, d := range rep.Changed() {
				t.Errorf("%s %s: original %q, result %q", d.File, d.Name, d.Original, d.Result)
			}
		})
	}
}

// privateRun is an imported state applied to a private Postfix.
type privateRun struct {
	m    *Manager
	inst Instance
	smtp string // the first smtpd (or postscreen) listener, on loopback
}

// applyPrivately applies res's state to a private Postfix the way
// `postdeck serve --private-postfix` runs it: the private block replaces
// the parameters it manages, every inet listener of the master config
// document moves to a free loopback port, the MPA is wired at the
// addresses the import chose. It starts Postfix and waits for the smtpd.
//
// srcRoot is where the imported host's files lie (the tables left in
// place, TLS files): on a real host they are under the configuration
// directory or --table-dirs; here the private instance has a directory of
// its own, so srcRoot is a table directory of it, and files main.cf names
// through $config_directory (DH parameters) are copied into it.
func applyPrivately(t *testing.T, res *ImportResult, srcRoot, srcConfig string) *privateRun {
	t.Helper()
	base := postfixtest.Dir(t)
	db, err := store.Open(filepath.Join(base, "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	st := res.State
	params, err := ParseMainConfig(st.MainConfig)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(st.MainConfig, "\n")
	for i := len(params) - 1; i >= 0; i-- {
		if p := params[i]; slices.Contains(privateParamNames, p.Name) {
			lines = append(lines[:p.Line-1], lines[p.End:]...)
		}
	}
	st.MainConfig = strings.Join(lines, "\n")
	var smtpAddr string
	st.MasterConfig, smtpAddr = privateListeners(t, st.MasterConfig)
	inst := res.Instance
	inst.ConfigDir = filepath.Join(base, "postfix", "etc")
	inst.BaseDir = filepath.Join(base, "postfix")
	inst.Private = true
	if smtpAddr == "" {
		smtpAddr = "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
	}
	inst.SMTPListen = smtpAddr
	inst.TableDirs = append(inst.TableDirs, srcRoot)
	pems, _ := filepath.Glob(filepath.Join(srcConfig, "*.pem"))
	for _, p := range pems {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(inst.ConfigDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(inst.ConfigDir, filepath.Base(p)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SaveState(st); err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Instance: inst}, db, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: testLogLevel})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { postfixtest.StopByPidFile(t, inst.QueueDir()) })
	// The SASL server the configuration names (Dovecot's auth socket)
	// answers before Postfix starts: the apply checks that smtpd serves.
	saslStub(t, inst, st.MainConfig)
	if _, err := m.Start(context.Background()); err != nil {
		t.Fatalf("apply to a private Postfix: %v\n%s", err, readFile(filepath.Join(inst.BaseDir, "maillog")))
	}
	run := &privateRun{m: m, inst: inst, smtp: smtpAddr}
	if disabled, _, _ := m.Postfix().Run(context.Background(), nil, "postconf", "-h", "master_service_disable"); strings.Contains(string(disabled), "inet") {
		// master_service_disable = inet: this instance listens nowhere
		// (a multi-instance output instance); it runs, and that is all.
		if !m.Running(context.Background()) {
			t.Fatalf("Postfix is not running\n%s", readFile(filepath.Join(inst.BaseDir, "maillog")))
		}
		t.Logf("master_service_disable = inet: no smtpd listens; Postfix runs")
		run.smtp = ""
		return run
	}
	if err := postfixtest.WaitPort(smtpAddr, 10*time.Second); err != nil {
		t.Fatalf("smtpd at %s: %v\n%s", smtpAddr, err, readFile(filepath.Join(inst.BaseDir, "maillog")))
	}
	return run
}

// privateListeners moves every inet listener of a master.cf document to
// a free loopback port (a private instance never binds port 25 or the
// ports of the host's filters) and returns the new document and the
// address of the listener that was smtp (port 25).
func privateListeners(t *testing.T, doc string) (string, string) {
	t.Helper()
	if doc == "" {
		return "", ""
	}
	lines := strings.Split(doc, "\n")
	main := ""
	for _, s := range parseMasterCF(doc) {
		if s.Type != "inet" {
			continue
		}
		addr := "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
		line := lines[s.Line-1]
		lines[s.Line-1] = addr + line[strings.Index(line, s.Name)+len(s.Name):]
		if main == "" && (s.Name == "smtp" || s.Name == "25") {
			main = addr
		}
	}
	return strings.Join(lines, "\n"), main
}

// answersSMTP reads the greeting of the smtpd at addr (220) and says
// EHLO. A configuration that authenticates with a SASL server this machine
// does not run (Dovecot) makes smtpd stop at EHLO ("no SASL authentication
// mechanisms" in the maillog): that is logged as the environment's, not
// the import's, and the greeting is what counts then.
func answersSMTP(t *testing.T, addr, maillog string) {
	t.Helper()
	if addr == "" {
		return // nothing listens (master_service_disable = inet)
	}
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("SMTP at %s: %v\n%s", addr, err, readFile(maillog))
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	tp := textproto.NewConn(conn)
	if _, _, err := tp.ReadResponse(220); err != nil {
		t.Fatalf("SMTP greeting at %s: %v\n%s", addr, err, readFile(maillog))
	}
	if err := tp.PrintfLine("EHLO client.example.test"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tp.ReadResponse(250); err != nil {
		if strings.Contains(readFile(maillog), "no SASL authentication mechanisms") {
			t.Logf("smtpd greets with 220, then needs the configuration's SASL server at EHLO, which this machine does not run")
			return
		}
		t.Fatalf("EHLO at %s: %v\n%s", addr, err, readFile(maillog))
	}
	_ = tp.PrintfLine("QUIT")
}

// compareLive compares postconf -n of the original configuration with the
// private instance's: the differences allowed are the MPA's wiring, the
// managed map paths, values written differently, and the private
// instance's own parameters (its block, and the installation parameters
// it takes from this machine).
func compareLive(t *testing.T, dir string, res *ImportResult, run *privateRun) {
	t.Helper()
	ctx := context.Background()
	orig, err := takeSnapshot(ctx, postfixtest.SbinDir, dir)
	if err != nil {
		t.Fatal(err)
	}
	live, err := takeSnapshot(ctx, postfixtest.SbinDir, run.inst.ConfigDir)
	if err != nil {
		t.Fatal(err)
	}
	private := privateBlock(run.inst)
	c := comparer{res: res, inst: run.inst, origDir: dir, resultDir: run.inst.ConfigDir}
	diffs, err := c.main(ctx, postfixtest.SbinDir, orig, live, func(name string) string {
		if _, ok := private[name]; ok || isInstallationParam(name) && !installationOnPrivate(name) {
			return "private instance"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		if d.Kind == DiffChanged {
			t.Errorf("live postconf -n: %s: original %q, private instance %q", d.Name, d.Original, d.Result)
		}
	}
	for name, want := range private {
		if got := live.raw[name]; got != want {
			t.Errorf("private block: %s = %q, want %q", name, got, want)
		}
	}
}

// TestImportRealCorpusApplies applies every imported real configuration
// to a private Postfix: it starts, answers SMTP, and postconf -n says what
// the original says but for the allowed differences. Tables of a type this
// Postfix lacks (postconf -m) are the one allowed difference and named.
func TestImportRealCorpusApplies(t *testing.T) {
	postfixtest.Require(t)
	ctx := context.Background()
	types := postconfTypes(t)
	for _, project := range corpusProjects(t) {
		t.Run(project, func(t *testing.T) {
			root := postfixtest.Dir(t)
			dir := corpusHost(t, project, root)
			if missing := missingTypes(t, dir, types); len(missing) > 0 {
				if os.Getenv("POSTDECK_REQUIRE_POSTFIX") == "1" {
					t.Fatalf("this Postfix lacks table types %v (install postfix-mysql, postfix-pgsql, postfix-ldap: .ci/install-deps)", missing)
				}
				t.Skipf("the one allowed difference: this Postfix lacks table types %v, so the configuration cannot run here", missing)
			}
			inst := corpusInstance()
			inst.MPAListen = "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
			inst.ReinjectListen = "127.0.0.1:" + strconv.Itoa(postfixtest.FreePort(t))
			res, err := ImportWith(ctx, dir, ImportOptions{SbinDir: postfixtest.SbinDir, Instance: inst})
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			run := applyPrivately(t, res, root, dir)
			answersSMTP(t, run.smtp, filepath.Join(run.inst.BaseDir, "maillog"))
			compareLive(t, dir, res, run)
		})
	}
}

// saslStub answers, on the unix socket smtpd_sasl_path names inside the
// private instance's queue directory (private/auth), the way Dovecot's
// auth server greets Postfix: the configuration's smtpd offers AUTH PLAIN
// instead of stopping for want of mechanisms. A path outside the queue
// directory or an inet: address is left alone (it is the host's).
func saslStub(t *testing.T, inst Instance, mainConfig string) {
	t.Helper()
	params, err := ParseMainConfig(mainConfig)
	if err != nil {
		t.Fatal(err)
	}
	var typ, path string
	for _, p := range params {
		switch p.Name {
		case "smtpd_sasl_type":
			typ = p.Value
		case "smtpd_sasl_path":
			path = p.Value
		}
	}
	if typ != "dovecot" || path == "" || strings.HasPrefix(path, "/") || strings.ContainsAny(path, ":$") {
		return
	}
	path = filepath.Join(inst.QueueDir(), path)
	// The directory is Postfix's (private/ is the mail owner's, 0700):
	// postfix-script refuses to start when it is not.
	owner, err := user.Lookup("postfix")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(owner.Uid)
	if err := os.MkdirAll(inst.QueueDir(), 0o755); err != nil { // root's, as Postfix makes it
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Dir(path), uid, 0); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("dovecot auth stub: %v", err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	acceptEach(t, ln, func(c net.Conn) {
		_, _ = c.Write([]byte("VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t1\nCUID\t1\nCOOKIE\t00112233445566778899aabbccddeeff\nDONE\n"))
		_, _ = io.Copy(io.Discard, c)
	})
}

// postconfTypes are the table types this Postfix supports.
func postconfTypes(t *testing.T) map[string]bool {
	t.Helper()
	dir := postfixtest.Dir(t)
	writeBackdated(t, filepath.Join(dir, "main.cf"), "")
	out, _, err := postfix.Runner{SbinDir: postfixtest.SbinDir, ConfigDir: dir}.Run(context.Background(), nil, "postconf", "-m")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, f := range strings.Fields(string(out)) {
		types[f] = true
	}
	return types
}

// missingTypes are the table types dir's main.cf uses that this Postfix
// does not list.
func missingTypes(t *testing.T, dir string, types map[string]bool) []string {
	t.Helper()
	out, _, err := postfix.Runner{SbinDir: postfixtest.SbinDir, ConfigDir: dir}.Run(context.Background(), nil, "postconf", "-n")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var missing []string
	for _, v := range parsePostconf(string(out)) {
		for _, ref := range tableRefs(v) {
			typ := tableTypeRe.FindStringSubmatch(ref)[1]
			if !types[typ] && !seen[typ] {
				seen[typ] = true
				missing = append(missing, typ)
			}
		}
	}
	sort.Strings(missing)
	return missing
}
