package mta

import (
	"context"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// smtpGreeting reads the 220 greeting of the smtpd at addr.
func smtpGreeting(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, msg, err := textproto.NewConn(c).ReadResponse(220)
	if err != nil {
		t.Fatalf("greeting of %s: %v", addr, err)
	}
	return msg
}

// TestRestartAfterACrashMidApply: the daemon dies (kill -9) in the middle
// of an apply, once Postfix runs the new files and before the store
// knows them; the start that follows puts the stored configuration back
// into the live files and into the running Postfix, so that the files,
// the store and Postfix agree again. The crash is the apply's goroutine
// ending at the point of the fault hook, with nothing after it run.
func TestRestartAfterACrashMidApply(t *testing.T) {
	for _, point := range []string{"after the swap", "after the reload"} {
		t.Run(strings.ReplaceAll(point, " ", "-"), func(t *testing.T) {
			env := newTestEnv(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			s := validSettings()
			s.Hostname = "stored.example.test"
			if _, err := env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			crash := func() error { runtime.Goexit(); return nil }
			if point == "after the swap" {
				env.m.afterSwap = crash
			} else {
				env.m.afterReload = func() { _ = crash() }
			}
			died := make(chan struct{})
			go func() {
				defer close(died)
				s.Hostname = "lost.example.test"
				_, _ = env.m.SaveSettings(ctx, "tester", s, "", ApplyOptions{})
			}()
			select {
			case <-died:
			case <-ctx.Done():
				t.Fatal("the apply did not reach its crash point")
			}
			main := filepath.Join(env.inst.ConfigDir, "main.cf")
			if !strings.Contains(readFile(main), "lost.example.test") {
				t.Fatalf("the crash came before the swap: main.cf:\n%s", readFile(main))
			}
			if point == "after the reload" {
				if got := smtpGreeting(t, env.smtp); !strings.HasPrefix(got, "lost.example.test ") {
					t.Fatalf("Postfix does not run the new files before the crash: %q", got)
				}
			}
			m2, err := New(Config{Instance: env.inst}, env.db, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: testLogLevel})))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m2.Start(ctx); err != nil {
				t.Fatalf("start after the crash: %v\n%s", err, readFile(filepath.Join(env.inst.BaseDir, "maillog")))
			}
			st, err := env.db.LoadState()
			if err != nil {
				t.Fatal(err)
			}
			if st.Settings.Hostname != "stored.example.test" {
				t.Fatalf("stored hostname %q", st.Settings.Hostname)
			}
			if text := readFile(main); !strings.Contains(text, "stored.example.test") || strings.Contains(text, "lost.example.test") {
				t.Fatalf("main.cf after the restart does not hold the stored settings:\n%s", text)
			}
			r, err := Render(env.inst, st)
			if err != nil {
				t.Fatal(err)
			}
			for rel, f := range r {
				if got := readFile(filepath.Join(env.inst.ConfigDir, rel)); got != string(f.Data) {
					t.Errorf("%s after the restart differs from what the store renders", rel)
				}
			}
			if got := smtpGreeting(t, env.smtp); !strings.HasPrefix(got, "stored.example.test ") {
				t.Errorf("Postfix greets with %q after the restart, want the stored host name", got)
			}
		})
	}
}
