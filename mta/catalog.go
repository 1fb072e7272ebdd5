package mta

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"postdeck/postfix"
	"regexp"
	"strings"
	"time"
)

// paramCatalog is what Postfix knows: every parameter name with its default
// (postconf -d) and the lookup table types it supports (postconf -m). It is
// read once from the installed Postfix.
type paramCatalog struct {
	defaults map[string]string
	mapTypes map[string]bool
	// legacy are names the defaults refer to without postconf -d printing
	// them: the compatibility names of renamed parameters
	// (postscreen_denylist_action = ${postscreen_blacklist_action?...}),
	// which Postfix still reads.
	legacy map[string]bool
}

// loadCatalog asks the installed Postfix for its parameters and table types.
// The live main.cf may not exist yet, so the commands run against an empty
// configuration in a scratch directory.
func loadCatalog(ctx context.Context, pf postfix.Runner) (*paramCatalog, error) {
	scratch := filepath.Join(pf.ConfigDir, ".postdeck-catalog")
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		return nil, fmt.Errorf("create catalog directory: %w", err)
	}
	defer os.RemoveAll(scratch)
	if err := os.WriteFile(filepath.Join(scratch, "main.cf"), nil, 0o644); err != nil {
		return nil, fmt.Errorf("create catalog main.cf: %w", err)
	}
	old := time.Now().Add(-backdate)
	if err := os.Chtimes(filepath.Join(scratch, "main.cf"), old, old); err != nil {
		return nil, fmt.Errorf("backdate catalog main.cf: %w", err)
	}
	pf.ConfigDir = scratch
	out, _, err := pf.Run(ctx, nil, "postconf", "-d")
	if err != nil {
		return nil, fmt.Errorf("read postconf -d: %w", err)
	}
	cat := &paramCatalog{defaults: map[string]string{}, mapTypes: map[string]bool{}, legacy: map[string]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " = ")
		if !ok {
			name, value, ok = strings.Cut(sc.Text(), " =")
		}
		if ok {
			cat.defaults[strings.TrimSpace(name)] = stressRe.ReplaceAllString(strings.TrimSpace(value), "$1")
			for _, m := range refRe.FindAllStringSubmatch(value, -1) {
				cat.legacy[m[1]+m[2]+m[3]] = true
			}
		}
	}
	if len(cat.defaults) < 100 {
		return nil, fmt.Errorf("read postconf -d: only %d parameters", len(cat.defaults))
	}
	out, _, err = pf.Run(ctx, nil, "postconf", "-m")
	if err != nil {
		return nil, fmt.Errorf("read postconf -m: %w", err)
	}
	for _, t := range strings.Fields(string(out)) {
		cat.mapTypes[t] = true
	}
	return cat, nil
}

// defaultOf is the installation's value of name; "" without a catalog.
func (c *paramCatalog) defaultOf(name string) string {
	if c == nil {
		return ""
	}
	return c.defaults[name]
}

// known reports whether Postfix knows name, including the per-service
// parameters (service_destination_concurrency_limit etc.) that exist for
// each master.cf service when default_* does.
func (c *paramCatalog) known(name string, services []string) bool {
	if _, ok := c.defaults[name]; ok || c.legacy[name] {
		return true
	}
	for _, svc := range services {
		if rest, ok := strings.CutPrefix(name, svc+"_"); ok {
			if _, ok := c.defaults["default_"+rest]; ok {
				return true
			}
			// smtp and lmdb clients: relay_tls_... style per-transport names.
			if _, ok := c.defaults["smtp_"+rest]; ok {
				return true
			}
		}
	}
	return false
}

// stressRe matches the ${stress?{X}:{Y}} of defaults such as smtpd_timeout
// (${stress?{10}:{300}}s): the non-stress value Y tells the type.
var stressRe = regexp.MustCompile(`\$\{stress\?\{[^}]*\}:\{([^}]*)\}\}`)

var (
	timeRe = regexp.MustCompile(`^[0-9]+[smhdw]$`)
	intRe  = regexp.MustCompile(`^[0-9]+$`)
)

// intExceptions have numeric defaults but accept other values.
var intExceptions = map[string]bool{"compatibility_level": true}

// boolExceptions have a yes or no default but take other words too
// (smtpd_forbid_bare_newline: normalize, reject, yes, no).
var boolExceptions = map[string]bool{"smtpd_forbid_bare_newline": true}

// checkValue infers a parameter's type from its default and checks value
// against it, because Postfix accepts a bad number or time in main.cf and
// then fails at run time (clients hang on smtpd_timeout = abc). It returns a
// sentence, or "" when the value is acceptable.
func (c *paramCatalog) checkValue(name, value string) string {
	def, ok := c.defaults[name]
	if !ok || strings.Contains(value, "$") {
		return ""
	}
	switch {
	case (def == "yes" || def == "no") && !boolExceptions[name]:
		if v := strings.ToLower(value); v != "yes" && v != "no" {
			return fmt.Sprintf("expected yes or no, found %q", truncate(value, 40))
		}
	case timeRe.MatchString(def):
		if !timeRe.MatchString(value) && !intRe.MatchString(value) {
			return fmt.Sprintf("expected a time such as 300s, 5m, 1h or 1d, found %q", truncate(value, 40))
		}
	case intRe.MatchString(def) && !intExceptions[name]:
		if !intRe.MatchString(value) {
			return fmt.Sprintf("expected a whole number, found %q", truncate(value, 40))
		}
	}
	return ""
}
