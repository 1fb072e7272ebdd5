package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLISPFAndStatusReadableOnATerminal: spf list's last error and spf
// refresh's quote the domain's DNS (a term of a stranger's TXT record),
// and status's last apply quotes Postfix, which quotes the
// configuration: they reached the terminal with their control
// characters. They are shown as queue list shows a sender
// (queue.Readable).
func TestCLISPFAndStatusReadableOnATerminal(t *testing.T) {
	const evil = "record of spf.example.com: a:\x1b]0;owned\x07x\u009b2J"
	answers := map[string]string{
		"/api/v1/jobs/spf":                         `{"items":[{"domain":"spf.example.com","map":"spf.example.com","schedule":"5 3 * * *","last_error":"` + jsonEscape(evil) + `"}]}`,
		"/api/v1/jobs/spf/spf.example.com/refresh": `{"outcome":"failed","error":"` + jsonEscape(evil) + `"}`,
		"/api/v1/status":                           `{"postfix_running":true,"postfix_version":"3.7","last_apply":{"action":"maps","result":"refused","message":"` + jsonEscape(evil) + `"}}`,
	}
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, a)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	for _, tc := range []struct {
		run  func([]string) error
		args []string
	}{
		{cmdSPF, []string{"list"}},
		{cmdSPF, []string{"refresh", "spf.example.com"}},
		{cmdStatus, nil},
	} {
		out, err := captureStdout(t, func() error { return tc.run(append(tc.args, "--socket", sock)) })
		if err != nil {
			out += "\n" + err.Error()
		}
		if strings.ContainsAny(out, "\x1b\x07\u009b") || !strings.Contains(out, "a:\uFFFD]0;owned\uFFFDx\uFFFD2J") {
			t.Errorf("%v prints %q", tc.args, out)
		}
	}
}

// jsonEscape writes s as the inside of a JSON string, as the daemon
// sends it.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// captureStdout runs f with os.Stdout a pipe and returns what f wrote.
func captureStdout(t *testing.T, f func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	ferr := f()
	os.Stdout = stdout
	_ = w.Close()
	out := <-done
	_ = r.Close()
	return string(out), ferr
}
