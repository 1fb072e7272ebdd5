package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postdeck/postfix/postfixtest"
)

func TestVersionLine(t *testing.T) {
	text := withVersionLine("abc123", "a = b\n")
	if v, rest, err := baseOf(text, false); err != nil || v != "abc123" || rest != "a = b\n" {
		t.Fatalf("baseOf(%q) = %q %q %v", text, v, rest, err)
	}
	if _, _, err := baseOf("a = b\n", false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("a file without a version line: %v", err)
	}
	if v, rest, err := baseOf(text, true); err != nil || v != "" || rest != "a = b\n" {
		t.Fatalf("forced: %q %q %v", v, rest, err)
	}
	// An editor that writes a UTF-8 byte order mark (Notepad) put it
	// before the version line, and set said the file had none.
	if v, rest, err := baseOf("\ufeff"+text, false); err != nil || v != "abc123" || rest != "a = b\n" {
		t.Fatalf("with a byte order mark: %q %q %v", v, rest, err)
	}
}

// TestCLIRefusesStaleEdits is issue #13's finding 7 through the CLI: a file
// read with `get` carries its version; saving it after someone else saved
// is refused with the difference, and --force overrides.
func TestCLIRefusesStaleEdits(t *testing.T) {
	postfixtest.Require(t)
	bin := buildBinary(t)
	base := postfixtest.Dir(t)
	d := startDaemon(t, bin, base, postfixtest.FreePort(t))
	dir := t.TempDir()

	for _, tc := range []struct {
		name string
		get  []string
		set  func(file string, force bool) []string
	}{
		{"mainconfig", []string{"mainconfig", "get"}, func(f string, force bool) []string {
			if force {
				return []string{"mainconfig", "set", "--force", f}
			}
			return []string{"mainconfig", "set", f}
		}},
		{"mastercfg", []string{"mastercfg", "get"}, func(f string, force bool) []string {
			if force {
				return []string{"mastercfg", "set", "--force", f}
			}
			return []string{"mastercfg", "set", f}
		}},
		{"map", []string{"maps", "get", "transport-maps"}, func(f string, force bool) []string {
			if force {
				return []string{"maps", "set", "--force", "transport-maps", "hash", f}
			}
			return []string{"maps", "set", "transport-maps", "hash", f}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.cli(t, bin, tc.get...)
			if err != nil || !strings.HasPrefix(got, versionPrefix) {
				t.Fatalf("get: %v\n%s", err, got)
			}
			mine, theirs := filepath.Join(dir, tc.name+".mine"), filepath.Join(dir, tc.name+".theirs")
			if err := os.WriteFile(theirs, []byte(got+"# theirs\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(mine, []byte(got+"# mine\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := d.cli(t, bin, tc.set(theirs, false)...); err != nil {
				t.Fatalf("first save: %v\n%s", err, out)
			}
			out, err := d.cli(t, bin, tc.set(mine, false)...)
			if err == nil || !strings.Contains(out, "Someone else saved") || !strings.Contains(out, "# theirs") || !strings.Contains(out, "# mine") {
				t.Fatalf("stale save: err %v\n%s", err, out)
			}
			now, _ := d.cli(t, bin, tc.get...)
			if !strings.Contains(now, "# theirs") || strings.Contains(now, "# mine") {
				t.Fatalf("after the refused save:\n%s", now)
			}
			// A file without the version line needs --force.
			bare := filepath.Join(dir, tc.name+".bare")
			if err := os.WriteFile(bare, []byte(strings.SplitN(got, "\n", 2)[1]+"# forced\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := d.cli(t, bin, tc.set(bare, false)...); err == nil || !strings.Contains(out, "--force") {
				t.Fatalf("bare file without --force: err %v\n%s", err, out)
			}
			if out, err := d.cli(t, bin, tc.set(bare, true)...); err != nil {
				t.Fatalf("--force: %v\n%s", err, out)
			}
			if now, _ := d.cli(t, bin, tc.get...); !strings.Contains(now, "# forced") {
				t.Fatalf("--force did not save:\n%s", now)
			}
		})
	}
	// settings set reads and writes in one command: it works, and the
	// version never shows as a setting.
	if out, err := d.cli(t, bin, "settings", "set", "helo_name=helo.cli.example.test"); err != nil {
		t.Fatalf("settings set: %v\n%s", err, out)
	}
	if out, _ := d.cli(t, bin, "settings", "get"); strings.Contains(out, "version") || !strings.Contains(out, "helo.cli.example.test") {
		t.Fatalf("settings get:\n%s", out)
	}
}
