package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"postdeck/postfix/postfixtest"
	"postdeck/webui"
)

// TestWebProcessCannotReadTheDaemonsSecrets: serve's own start of the
// web process hid the data and Postfix's directories, but not the files
// the daemon reads its secrets from elsewhere (the console's TLS key,
// the cluster's client key and etcd password, in /etc/postdeck say,
// which only the systemd unit hides): a key left world-readable was the
// web process's to read. In the web process's mount namespace and as its
// user, the key cannot be opened, while outside it the same user reads
// it and, inside it, reads what everybody may.
func TestWebProcessCannotReadTheDaemonsSecrets(t *testing.T) {
	postfixtest.Require(t)
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: the daemon drops the web process to another user only as root")
	}
	for _, tool := range []string{"setpriv", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s (util-linux) is missing: %v", tool, err)
		}
	}
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	// The console's certificate and key, where an administrator keeps
	// them, world-readable by mistake.
	secrets := filepath.Join(base, "etc-postdeck")
	if _, err := webui.TLSConfig("", "", true, secrets); err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(secrets, webui.SelfSignedCertFile), filepath.Join(secrets, webui.SelfSignedKeyFile)
	for _, p := range []string{secrets, cert, key} {
		mode := os.FileMode(0o644)
		if p == secrets {
			mode = 0o755
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	d := startDaemonWith(t, bin, base, postfixtest.FreePort(t), "--tls-cert", cert, "--tls-key", key)
	console := d.waitLog(t, regexp.MustCompile(`console=(https://127\.0\.0\.1:[0-9]+)/`))
	port := console[strings.LastIndex(console, ":")+1:]
	pids := listeningPIDs(t, port)
	if len(pids) != 1 || pids[0] == d.cmd.Process.Pid {
		t.Fatalf("processes holding the console's listening socket: %v, want the web process alone", pids)
	}
	st := procStatus(t, pids[0])
	uid, gid := firstField(st["Uid"]), firstField(st["Gid"])
	run := func(ns bool, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		full := append([]string{"--reuid", uid, "--regid", gid, "--clear-groups", "--"}, args...)
		name := "setpriv"
		if ns {
			full = append([]string{"-t", strconv.Itoa(pids[0]), "-m", "--", "setpriv"}, full...)
			name = "nsenter"
		}
		out, err := exec.CommandContext(ctx, name, full...).CombinedOutput()
		return string(out), err
	}
	// Positive controls: the web user reads the key outside the web
	// process's namespace, and inside it what everybody may.
	if out, err := run(false, "cat", key); err != nil || !strings.Contains(out, "PRIVATE KEY") {
		t.Fatalf("uid %s cannot read %s outside the web process: %v %q", uid, key, err, out)
	}
	if out, err := run(true, "cat", "/etc/passwd"); err != nil || !strings.Contains(out, "root:") {
		t.Fatalf("uid %s cannot read /etc/passwd in the web process's namespace: %v %q", uid, err, out)
	}
	for _, p := range []string{key, cert} {
		if out, err := run(true, "cat", p); err == nil || strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, "CERTIFICATE") {
			t.Errorf("the web process's user read %s in its namespace: %v %q", p, err, out)
		}
	}
	// The cluster's files are hidden alike (their daemon needs etcd).
	f := serveFlags{tlsKey: "relative-key.pem", cluster: clusterFlags{ca: "/etc/postdeck/ca.pem", cert: "/etc/postdeck/gw1.pem", key: "/etc/postdeck/gw1-key.pem", passwordFile: "/etc/postdeck/etcd-password"}}
	got := secretFiles(f)
	abs, _ := filepath.Abs("relative-key.pem")
	for _, want := range []string{abs, "/etc/postdeck/ca.pem", "/etc/postdeck/gw1.pem", "/etc/postdeck/gw1-key.pem", "/etc/postdeck/etcd-password"} {
		if !slices.Contains(got, want) {
			t.Errorf("secretFiles: %q lacks %s", got, want)
		}
	}
}
