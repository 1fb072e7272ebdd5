package mta

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"postdeck/postfix"
	"postdeck/store"
)

// ImportWith imports srcDir for the instance of opts and checks the
// result the way the first apply will: the document against Postfix's
// parameter catalog and against what the instance manages, so that an
// import is refused now, with the line to change, rather than by the apply
// after it was stored. With the MPA wired, it places the MPA where nothing
// of the configuration listens or sends (moving it to free loopback ports
// unless the addresses were given explicitly) and chains it to the
// configuration's content filter.
func ImportWith(ctx context.Context, srcDir string, opts ImportOptions) (*ImportResult, error) {
	if opts.SbinDir == "" {
		opts.SbinDir = postfix.DefaultSbinDir
	}
	res, err := importFrom(ctx, srcDir, opts)
	if err != nil {
		return nil, err
	}
	if res.Instance.MPAListen != "" {
		if err := wireMPA(res, opts); err != nil {
			return nil, err
		}
	}
	res.Chain = describeChain(res.Instance, res.State.MasterConfig)
	scratch, err := os.MkdirTemp("", "postdeck-import-catalog-")
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer os.RemoveAll(scratch)
	cat, err := loadCatalog(ctx, postfix.Runner{SbinDir: opts.SbinDir, ConfigDir: scratch})
	if err != nil {
		return nil, err
	}
	master, err := renderMaster(res.Instance, res.State.MasterConfig)
	if err != nil {
		return nil, importWrap(srcDir+"/master.cf", err)
	}
	if _, err := validateDocument(res.State.MainConfig, res.Instance, cat, master, externalRefs(res.State.Settings, master)); err != nil {
		return nil, importWrap(srcDir+"/main.cf (line numbers of the imported document)", err)
	}
	if _, err := Render(res.Instance, res.State); err != nil {
		return nil, importWrap(srcDir, err)
	}
	return res, nil
}

// ImportForInstance is ImportWith for inst, its MPA addresses free to move.
func ImportForInstance(ctx context.Context, inst Instance, sbinDir, srcDir string) (*ImportResult, error) {
	return ImportWith(ctx, srcDir, ImportOptions{SbinDir: sbinDir, Instance: inst})
}

// portRe finds the ports a value names (host:port, [host]:port, inet:...).
var portRe = regexp.MustCompile(`:([0-9]{2,5})\b`)

// takenPorts maps every port the configuration listens on or sends to (a
// master.cf listener, a content filter, a policy service, a tcp table) to
// where it is used.
func takenPorts(st store.State, filter string) map[int]string {
	taken := map[int]string{}
	add := func(port, where string) {
		if n, err := strconv.Atoi(port); err == nil && taken[n] == "" {
			taken[n] = where
		}
	}
	for _, s := range parseMasterCF(st.MasterConfig) {
		if s.Type == "inet" {
			_, port, err := net.SplitHostPort(s.Name)
			if err != nil {
				port = s.Name
				if s.Name == "smtp" {
					port = "25"
				}
			}
			add(port, fmt.Sprintf("master.cf line %d (service %s listens there)", s.Line, s.Name))
		}
		for _, o := range s.Opts {
			for _, m := range portRe.FindAllStringSubmatch(o.Value, -1) {
				add(m[1], fmt.Sprintf("master.cf line %d (-o %s)", o.Line, o.Name))
			}
		}
	}
	params, _ := ParseMainConfig(st.MainConfig)
	for _, p := range params {
		for _, m := range portRe.FindAllStringSubmatch(p.Value, -1) {
			add(m[1], fmt.Sprintf("main.cf parameter %s", p.Name))
		}
	}
	for _, m := range portRe.FindAllStringSubmatch(filter, -1) {
		add(m[1], "content_filter "+filter)
	}
	return taken
}

// wireMPA places the MPA and its reinjection listener where the imported
// configuration uses nothing, and chains the MPA to the content filter it
// found (State.Wiring.Filter).
func wireMPA(res *ImportResult, opts ImportOptions) error {
	taken := takenPorts(res.State, res.State.Wiring.Filter)
	w := &res.State.Wiring
	var err error
	if w.MPAListen, err = placeListener("--mpa-listen", res.Instance.MPAListen, opts.FixedMPAListen, taken, res); err != nil {
		return err
	}
	_, p, _ := net.SplitHostPort(w.MPAListen)
	if n, err := strconv.Atoi(p); err == nil {
		taken[n] = "the MPA (" + w.MPAListen + ")"
	}
	if w.ReinjectListen, err = placeListener("--reinject-listen", res.Instance.ReinjectListen, opts.FixedReinjectListen, taken, res); err != nil {
		return err
	}
	res.Instance.MPAListen, res.Instance.ReinjectListen = w.MPAListen, w.ReinjectListen
	res.Instance.ChainFilter, res.Instance.ChainOrder = w.Filter, w.Order
	if w.Filter != "" && w.Order != ChainBefore && len(filterReturns(parseMasterCF(res.State.MasterConfig))) == 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("content_filter %s stays in front of the MPA, but master.cf has no listener for the mail it returns (a loopback smtpd with -o content_filter=), so the MPA would see no mail: add that listener with Edit Master Config, or import with --chain-order before", w.Filter))
	}
	return nil
}

// placeListener keeps addr when nothing uses its port and it can be
// bound; otherwise it takes the next free port on the same host, or, when
// the address was given explicitly, refuses.
func placeListener(flag, addr string, fixed bool, taken map[int]string, res *ImportResult) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", importFix("give it as host:port, such as 127.0.0.1:10025", "%s %s: %v", flag, addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return "", importFix("give it as host:port, such as 127.0.0.1:10025", "%s %s: the port is not a number", flag, addr)
	}
	why := taken[n]
	if why == "" && !canListen(addr) {
		why = "another program listens there now"
	}
	if why == "" {
		return addr, nil
	}
	if fixed {
		return "", importFix("give another address (or leave the flag out and the import picks a free port)", "%s %s collides with the imported configuration: port %d is used by %s", flag, addr, n, why)
	}
	for p := n + 10; p < 65535; p++ {
		cand := net.JoinHostPort(host, strconv.Itoa(p))
		if taken[p] == "" && canListen(cand) {
			res.Notes = append(res.Notes, fmt.Sprintf("%s %s: port %d is used by %s, so postdeck uses %s instead (the daemon keeps it; its %s flag chooses otherwise)", flag, addr, n, why, cand, flag))
			return cand, nil
		}
	}
	return "", importFix("give "+flag+" an address on a port with free ports after it", "%s %s: port %d is used by %s and no free port follows it", flag, addr, n, why)
}

// canListen reports whether a TCP address can be bound now.
func canListen(addr string) bool {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// describeChain says where mail goes once the state is live.
func describeChain(in Instance, master string) string {
	if in.MPAListen == "" {
		return "no MPA (--mpa-listen is empty): content_filter stays as the main config document sets it"
	}
	services := parseMasterCF(master)
	mpa := "the MPA (" + in.MPAListen + ") → reinjection smtpd " + in.ReinjectListen
	var returns []string
	for _, r := range filterReturns(services) {
		if r.Name != reinjectName(in) {
			returns = append(returns, r.Name)
		}
	}
	var b strings.Builder
	switch {
	case in.ChainFilter != "" && in.ChainOrder == ChainBefore:
		fmt.Fprintf(&b, "smtpd → %s → content_filter %s (kept from the import) → its return listener%s → delivery", mpa, in.ChainFilter, listSuffix(returns))
	case in.ChainFilter != "":
		fmt.Fprintf(&b, "smtpd → content_filter %s (kept from the import) → its return listener%s → %s → delivery", in.ChainFilter, listSuffix(returns), mpa)
	default:
		fmt.Fprintf(&b, "smtpd → %s → delivery", mpa)
		if len(returns) > 0 {
			verb := "clear"
			if len(returns) == 1 {
				verb = "clears"
			}
			fmt.Fprintf(&b, "; mail arriving on the loopback listener%s (which %s content_filter) also goes to the MPA", listSuffix(returns), verb)
		}
	}
	for _, s := range services {
		if v, ok := s.Opt("content_filter"); ok && v != "" && !strings.HasPrefix(v, "mpa:") {
			fmt.Fprintf(&b, "; %s hands its mail to %s itself (its -o content_filter)", s.Key(), v)
		}
	}
	return b.String()
}

func listSuffix(names []string) string {
	switch len(names) {
	case 0:
		return " (none in master.cf)"
	case 1:
		return " " + names[0]
	}
	return "s " + strings.Join(names, ", ")
}

// BackupConfig copies the configuration Import read into dst (created 0700,
// must not exist): every regular file under src, keeping relative paths and
// modes, and the table sources (with their .db) that live outside src under
// dst/external/ABSOLUTE/PATH.
func BackupConfig(src, dst string, res *ImportResult) error {
	src, dst = filepath.Clean(src), filepath.Clean(dst)
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("back up %s: %s already exists", src, dst)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return fmt.Errorf("back up %s: %w", src, err)
	}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == dst || strings.HasPrefix(d.Name(), ".postdeck-") {
				return filepath.SkipDir
			}
			if rel == "." {
				return nil
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
	if err != nil {
		return fmt.Errorf("back up %s: %w", src, err)
	}
	if res == nil {
		return nil
	}
	for _, m := range res.Maps {
		if rel, err := filepath.Rel(src, m.Source); err == nil && !strings.HasPrefix(rel, "..") {
			continue
		}
		for _, p := range []string{m.Source, m.Source + ".db"} {
			if _, err := os.Stat(p); err != nil {
				continue
			}
			to := filepath.Join(dst, "external", strings.TrimPrefix(p, "/"))
			if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
				return fmt.Errorf("back up %s: %w", p, err)
			}
			if err := copyFile(p, to); err != nil {
				return fmt.Errorf("back up %s: %w", p, err)
			}
		}
	}
	return nil
}

// copyFile copies a regular file with its permission bits and fsyncs it.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
