package mta

import (
	"errors"
	"strings"
	"testing"
)

// TestListenerRefusalCarriesItsFix: a --mpa-listen or --reinject-listen
// address the import cannot use is refused with the problem and the fix
// apart, so that the daemon's first start says to restart postdeck where
// `postdeck import` says to import again; the fix was written into the
// problem, and the first start's hold then gave two instructions.
func TestListenerRefusalCarriesItsFix(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
		fixed      bool
		taken      map[int]string
		problem    string
		fix        string
	}{
		{"no port", "127.0.0.1", true, nil, "--mpa-listen 127.0.0.1: ", "give it as host:port"},
		{"port not a number", "127.0.0.1:smtp", true, nil, "--mpa-listen 127.0.0.1:smtp: the port is not a number", "give it as host:port"},
		{"collides", "127.0.0.1:10025", true, map[int]string{10025: "master.cf's line 12"}, "--mpa-listen 127.0.0.1:10025 collides with the imported configuration: port 10025 is used by master.cf's line 12", "give another address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := placeListener("--mpa-listen", tc.addr, tc.fixed, tc.taken, &ImportResult{})
			var ie *ImportError
			if !errors.As(err, &ie) || !errors.Is(err, ErrImport) {
				t.Fatalf("placeListener(%q): %v, want an import refusal", tc.addr, err)
			}
			if !strings.HasPrefix(ie.Problem, tc.problem) || strings.Contains(ie.Problem, tc.fix) || !strings.HasPrefix(ie.Fix, tc.fix) {
				t.Errorf("problem %q, fix %q; want the problem %q... and the fix %q... apart", ie.Problem, ie.Fix, tc.problem, tc.fix)
			}
			if want := "; " + ie.Fix + ", then import again."; !strings.HasSuffix(err.Error(), want) {
				t.Errorf("the refusal %q does not end %q", err, want)
			}
		})
	}
}
