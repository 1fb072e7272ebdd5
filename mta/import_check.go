package mta

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"postdeck/postfix"
)

// Kinds of a Difference. Only DiffChanged is a change of what Postfix
// does; the others are what taking a configuration over means.
const (
	// DiffWiring is the MPA's place in the mail path: content_filter, the
	// MPA's two services, the return listeners that hand mail to it.
	DiffWiring = "MPA wiring"
	// DiffMapPath is a table reference that now names postdeck's map.
	DiffMapPath = "managed map path"
	// DiffSame is a value written differently that Postfix reads the same:
	// a list with other separators, a default written out.
	DiffSame = "same value"
	// DiffChanged is anything else.
	DiffChanged = "changed"
)

// Difference is one parameter, service or service field that postconf
// prints differently for the imported state than for the original.
type Difference struct {
	File     string `json:"file"` // main.cf or master.cf
	Name     string `json:"name"` // parameter; service/type; service/type/field or parameter
	Original string `json:"original"`
	Result   string `json:"result"`
	// InOriginal and InResult say whether the name is printed at all.
	InOriginal bool   `json:"in_original"`
	InResult   bool   `json:"in_result"`
	Kind       string `json:"kind"`
}

// CheckReport is what `postdeck import --check` prints.
type CheckReport struct {
	Differences []Difference `json:"differences"`
}

// Changed are the differences that change what Postfix does.
func (r *CheckReport) Changed() []Difference {
	var out []Difference
	for _, d := range r.Differences {
		if d.Kind == DiffChanged {
			out = append(out, d)
		}
	}
	return out
}

// Summary counts the differences by kind in one sentence.
func (r *CheckReport) Summary() string {
	n := map[string]int{}
	for _, d := range r.Differences {
		n[d.Kind]++
	}
	return fmt.Sprintf("%s: %d MPA wiring, %s, %s written differently, %d other", counted(len(r.Differences), "difference", "differences"), n[DiffWiring],
		counted(n[DiffMapPath], "managed map path", "managed map paths"), counted(n[DiffSame], "same value", "same values"), n[DiffChanged])
}

// counted is n and the noun for that many ("1 difference", "2
// differences"): the report is read by people.
func counted(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// Format writes the report parameter by parameter.
func (r *CheckReport) Format(w io.Writer) {
	for _, file := range []string{"main.cf", "master.cf"} {
		head := "main.cf (postconf -n):"
		if file == "master.cf" {
			head = "master.cf (postconf -M, -F, -P):"
		}
		fmt.Fprintln(w, head)
		any := false
		for _, d := range r.Differences {
			if d.File != file {
				continue
			}
			any = true
			switch {
			case !d.InOriginal:
				fmt.Fprintf(w, "  + %s = %s   [%s]\n", d.Name, d.Result, d.Kind)
			case !d.InResult:
				fmt.Fprintf(w, "  - %s = %s   [%s]\n", d.Name, d.Original, d.Kind)
			default:
				fmt.Fprintf(w, "  ~ %s: %s\n      -> %s   [%s]\n", d.Name, d.Original, d.Result, d.Kind)
			}
		}
		if !any {
			fmt.Fprintln(w, "  no difference")
		}
	}
	fmt.Fprintln(w, r.Summary())
}

// postconfSnapshot is what postconf prints for one configuration directory.
type postconfSnapshot struct {
	dir    string
	raw    map[string]string // postconf -n
	expand map[string]string // postconf -n -x
	fields map[string]string // postconf -F: service/type/field
	params map[string]string // postconf -P: service/type/parameter
}

func takeSnapshot(ctx context.Context, sbinDir, dir string) (*postconfSnapshot, error) {
	pf := postfix.Runner{SbinDir: sbinDir, ConfigDir: dir}
	s := &postconfSnapshot{dir: dir}
	for _, run := range []struct {
		into *map[string]string
		args []string
	}{{&s.raw, []string{"-n"}}, {&s.expand, []string{"-n", "-x"}}, {&s.fields, []string{"-F"}}, {&s.params, []string{"-P"}}} {
		out, _, err := pf.Run(ctx, nil, "postconf", run.args...)
		if err != nil {
			return nil, fmt.Errorf("check: postconf %s in %s: %w", strings.Join(run.args, " "), dir, err)
		}
		*run.into = parsePostconf(string(out))
	}
	delete(s.raw, "config_directory")
	delete(s.expand, "config_directory")
	return s, nil
}

// effective returns postconf -x -h for names, whether set or not.
func (s *postconfSnapshot) effective(ctx context.Context, sbinDir string, names []string) (map[string]string, error) {
	out := map[string]string{}
	if len(names) == 0 {
		return out, nil
	}
	res, _, err := postfix.Runner{SbinDir: sbinDir, ConfigDir: s.dir}.Run(ctx, nil, "postconf", append([]string{"-x", "-h"}, names...)...)
	if err != nil {
		return nil, fmt.Errorf("check: postconf -x -h in %s: %w", s.dir, err)
	}
	vals := strings.Split(strings.TrimSuffix(string(res), "\n"), "\n")
	for i, n := range names {
		if i < len(vals) {
			out[n] = strings.TrimSpace(vals[i])
		}
	}
	return out, nil
}

// CheckImport renders the imported state into a temporary directory (for
// the system instance res was imported for) and compares what postconf -n,
// -F and -P print there with what they print for the original srcDir,
// parameter by parameter.
func CheckImport(ctx context.Context, sbinDir, srcDir string, res *ImportResult) (*CheckReport, error) {
	if sbinDir == "" {
		sbinDir = postfix.DefaultSbinDir
	}
	srcDir, err := filepath.Abs(srcDir)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "postdeck-check-")
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	defer os.RemoveAll(tmp)
	// Readable by root only, as the files in it: the rendered
	// configuration may name maps of passwords, and nothing but
	// postconf, run as this process, reads it.
	if err := os.Chmod(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	inst := res.Instance
	inst.ConfigDir, inst.Private = tmp, false
	r, err := Render(inst, res.State)
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	for _, rel := range []string{"main.cf", "master.cf"} {
		if err := os.WriteFile(filepath.Join(tmp, rel), r[rel].Data, 0o600); err != nil {
			return nil, fmt.Errorf("check: %w", err)
		}
	}
	old := time.Now().Add(-backdate)
	if err := os.Chtimes(filepath.Join(tmp, "main.cf"), old, old); err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	orig, err := takeSnapshot(ctx, sbinDir, srcDir)
	if err != nil {
		return nil, err
	}
	got, err := takeSnapshot(ctx, sbinDir, tmp)
	if err != nil {
		return nil, err
	}
	c := comparer{res: res, inst: inst, origDir: srcDir, resultDir: tmp}
	diffs, err := c.main(ctx, sbinDir, orig, got, nil)
	if err != nil {
		return nil, err
	}
	diffs = append(diffs, c.master(orig, got)...)
	return &CheckReport{Differences: diffs}, nil
}

// comparer classifies the differences of one import.
type comparer struct {
	res                *ImportResult
	inst               Instance // the instance the result was rendered for
	origDir, resultDir string
}

// rewriteRaw applies the import's reference rewrites to an original value.
func (c comparer) rewriteRaw(v string) string {
	for _, m := range c.res.Maps {
		for _, ref := range m.References {
			v = rewriteRefIn(v, ref, m.NewRef)
		}
	}
	return v
}

// rewriteExpanded does the same for expanded values: the source file
// becomes the map's file in the result's directory.
func (c comparer) rewriteExpanded(v string) string {
	for _, m := range c.res.Maps {
		v = rewriteRefIn(v, m.Type+":"+m.Source, m.Type+":"+filepath.Join(c.resultDir, MapFile(m.Type, m.Name)))
	}
	return v
}

// sameList compares Relay domains and My Networks as Postfix reads them:
// elements in order, names without letter case, networks as prefixes.
func sameList(name, a, b string) bool {
	x, y := refTokens(a), refTokens(b)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		p, q := x[i], y[i]
		if name == "mynetworks" {
			p, q = importedNetwork(p), importedNetwork(q)
		}
		if !strings.EqualFold(p, q) {
			return false
		}
	}
	return true
}

// main compares postconf -n. allow may classify a difference first (the
// private instance's parameters); it returns "" to leave it to the rules.
func (c comparer) main(ctx context.Context, sbinDir string, orig, got *postconfSnapshot, allow func(name string) string) ([]Difference, error) {
	names := map[string]bool{}
	for n := range orig.raw {
		names[n] = true
	}
	for n := range got.raw {
		names[n] = true
	}
	var onlyGot, onlyOrig []string
	for n := range names {
		_, a := orig.raw[n]
		_, b := got.raw[n]
		if !a {
			onlyGot = append(onlyGot, n)
		}
		if !b {
			onlyOrig = append(onlyOrig, n)
		}
	}
	sort.Strings(onlyGot)
	sort.Strings(onlyOrig)
	origEff, err := orig.effective(ctx, sbinDir, onlyGot)
	if err != nil {
		return nil, err
	}
	gotEff, err := got.effective(ctx, sbinDir, onlyOrig)
	if err != nil {
		return nil, err
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var out []Difference
	for _, n := range sorted {
		a, inA := orig.raw[n]
		b, inB := got.raw[n]
		if inA && inB && a == b {
			continue
		}
		d := Difference{File: "main.cf", Name: n, Original: a, Result: b, InOriginal: inA, InResult: inB, Kind: DiffChanged}
		ax, bx := orig.expand[n], got.expand[n]
		if !inA {
			a, ax = origEff[n], origEff[n]
		}
		if !inB {
			b, bx = gotEff[n], gotEff[n]
		}
		switch {
		case allow != nil && allow(n) != "":
			d.Kind = allow(n)
		case n == "content_filter" && c.inst.MPAListen != "":
			d.Kind = DiffWiring
		case inA && inB && c.rewriteRaw(a) == b:
			d.Kind = DiffMapPath
		case inA && !inB && slices.Contains(c.res.Unused, n):
			// A parameter of the administrator's own that only named
			// the tables' directory: their paths moved to maps.d.
			d.Kind = DiffMapPath
		case (n == "relay_domains" || n == "mynetworks") && (sameList(n, c.rewriteRaw(a), b) || sameList(n, c.rewriteExpanded(ax), bx)):
			d.Kind = DiffSame
		case c.rewriteExpanded(ax) == bx:
			d.Kind = DiffSame
		}
		out = append(out, d)
	}
	return out, nil
}

// master compares postconf -F and -P.
func (c comparer) master(orig, got *postconfSnapshot) []Difference {
	services := func(fields map[string]string) map[string]bool {
		out := map[string]bool{}
		for k := range fields {
			if i := strings.LastIndex(k, "/"); i > 0 {
				out[k[:i]] = true
			}
		}
		return out
	}
	origSvc, gotSvc := services(orig.fields), services(got.fields)
	mpaServices := map[string]bool{}
	if c.inst.MPAListen != "" {
		mpaServices["mpa/unix"] = true
		mpaServices[reinjectName(c.inst)+"/inet"] = true
	}
	var out []Difference
	for _, svc := range sortedKeys(gotSvc) {
		if !origSvc[svc] {
			d := Difference{File: "master.cf", Name: svc, Result: commandOf(got.fields, svc), InResult: true, Kind: DiffChanged}
			if mpaServices[svc] {
				d.Kind = DiffWiring
			}
			out = append(out, d)
		}
	}
	for _, svc := range sortedKeys(origSvc) {
		if !gotSvc[svc] {
			out = append(out, Difference{File: "master.cf", Name: svc, Original: commandOf(orig.fields, svc), InOriginal: true, Kind: DiffChanged})
		}
	}
	for _, k := range sortedKeys(toSet(orig.fields)) {
		svc := k[:strings.LastIndex(k, "/")]
		b, ok := got.fields[k]
		if !ok || mpaServices[svc] {
			continue
		}
		a := orig.fields[k]
		if strings.HasSuffix(k, "/command") {
			a, b = commandBase(a), commandBase(b)
		}
		if a == b {
			continue
		}
		d := Difference{File: "master.cf", Name: k, Original: a, Result: b, InOriginal: true, InResult: true, Kind: DiffChanged}
		if c.rewriteRaw(a) == b {
			d.Kind = DiffMapPath
		}
		out = append(out, d)
	}
	keys := toSet(orig.params)
	for k := range got.params {
		keys[k] = true
	}
	returns := map[string]bool{}
	for _, r := range filterReturns(parseMasterCF(c.res.State.MasterConfig)) {
		returns[r.Key()] = true
	}
	for _, k := range sortedKeys(keys) {
		i := strings.LastIndex(k, "/")
		svc, param := k[:i], k[i+1:]
		if mpaServices[svc] {
			continue
		}
		a, inA := orig.params[k]
		b, inB := got.params[k]
		if inA && inB && a == b {
			continue
		}
		d := Difference{File: "master.cf", Name: k, Original: a, Result: b, InOriginal: inA, InResult: inB, Kind: DiffChanged}
		switch {
		case param == "content_filter" && returns[svc] && b == c.inst.mpaNextHop():
			d.Kind = DiffWiring
		case inA && inB && c.rewriteRaw(a) == b:
			d.Kind = DiffMapPath
		case inA && !inB && slices.Contains(c.res.IgnoredOpts, k):
			// An option Postfix ignored (unused parameter), which the
			// import commented out.
			d.Kind = DiffSame
		}
		out = append(out, d)
	}
	return out
}

func toSet(m map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// commandOf is a service's -F line in short: its command and arguments.
func commandOf(fields map[string]string, svc string) string {
	return fields[svc+"/command"]
}

// commandBase is a command field without its -o options: those are
// compared one by one through postconf -P.
func commandBase(cmd string) string {
	toks := lineTokens(cmd, 0)
	var out []string
	for i := 0; i < len(toks); i++ {
		t := toks[i].text
		if t == "-o" {
			i++
			continue
		}
		if strings.HasPrefix(t, "-o") {
			continue
		}
		out = append(out, t)
	}
	return strings.Join(out, " ")
}
