package mta

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"postdeck/store"
)

// InstallationParams are the Postfix parameters that decide which programs
// Postfix runs (as root, or as the users it delivers for), as whom, and
// with what environment. They belong to the installation (the package, the
// system administrator's master.cf and accounts), not to a document edited
// in a web console: the Edit Main Config document may not change them, so
// that an administrator of postdeck cannot make Postfix run a program of
// their choosing (daemon_directory = /some/dir made master run the
// programs there as root).
//
// A document may still name one at the installation's own value (what
// `postconf -d` says, see installationValue): that changes nothing, and an
// imported main.cf often spells such values out (RHEL's main.cf sets
// daemon_directory, sendmail_path and their like). An import is checked
// with validateDocument too (ImportForInstance), so an imported parameter
// at another value is refused there with the same sentence; how import
// keeps such parameters is its own decision.
//
// The list comes from postconf(5): the directories of Postfix's programs
// and files, the paths of its commands, the multi-instance wrapper, the
// environment, the accounts, and local(8)'s commands, shell and file
// deliveries. Each value says what the parameter decides.
var InstallationParams = map[string]string{
	"daemon_directory":                     "where Postfix's daemon programs are, which master runs as root",
	"command_directory":                    "where Postfix's commands are",
	"shlib_directory":                      "where Postfix's shared libraries and table plug-ins are",
	"meta_directory":                       "where Postfix's installation files (postfix-files, dynamicmaps.cf) are",
	"queue_directory":                      "where Postfix's queue is",
	"data_directory":                       "where Postfix keeps its data files",
	"sendmail_path":                        "where Postfix's sendmail command is",
	"mailq_path":                           "where Postfix's mailq command is",
	"newaliases_path":                      "where Postfix's newaliases command is",
	"openssl_path":                         "the openssl command `postfix tls` runs",
	"multi_instance_wrapper":               "the command postfix(1) runs as root to manage several instances",
	"multi_instance_directories":           "the other instances postfix(1) manages",
	"alternate_config_directories":         "the configuration directories Postfix's set-gid commands accept from any user",
	"import_environment":                   "the environment Postfix's processes keep",
	"export_environment":                   "the environment Postfix passes to the commands it runs",
	"mail_owner":                           "the account Postfix runs as",
	"setgid_group":                         "the group of Postfix's set-gid commands",
	"default_privs":                        "the account local delivery runs commands and file deliveries as",
	"debugger_command":                     "the command master runs as root to debug a daemon",
	"tls_config_file":                      "the OpenSSL configuration file, which can load code into Postfix's processes",
	"mailbox_command":                      "the command local delivery runs for every mailbox",
	"mailbox_command_maps":                 "the commands local delivery runs for mailboxes",
	"local_command_shell":                  "the shell local delivery runs commands with",
	"command_execution_directory":          "the working directory of the commands local delivery runs",
	"command_expansion_filter":             "the characters local delivery lets into the commands it runs",
	"execution_directory_expansion_filter": "the characters local delivery lets into a command's working directory",
	"forward_expansion_filter":             "the characters local delivery lets into .forward paths",
	"forward_path":                         "the .forward files local delivery reads, which may run commands",
	"allow_mail_to_commands":               "whether aliases and .forward files may run commands",
	"allow_mail_to_files":                  "whether aliases and .forward files may write to files",
}

// installationParam returns what an installation parameter decides; names
// compare without case, so that an upper-case spelling cannot slip past.
func installationParam(name string) (string, bool) {
	what, ok := InstallationParams[strings.ToLower(name)]
	return what, ok
}

// installationValue reports whether value is the installation's own value
// of name (postconf -d): the same list elements, with $name references to
// other parameters replaced by their installation values.
func installationValue(cat *paramCatalog, name, value string) bool {
	if cat == nil {
		return false
	}
	def, ok := cat.defaults[strings.ToLower(name)]
	if !ok {
		return false
	}
	return slices.Equal(listTokensFold(cat.expandDefaults(value)), listTokensFold(cat.expandDefaults(def)))
}

// expandDefaults replaces $name, ${name} and $(name) by the installation's
// values, a few levels deep.
func (c *paramCatalog) expandDefaults(v string) string {
	for range 5 {
		next := refRe.ReplaceAllStringFunc(v, func(ref string) string {
			m := refRe.FindStringSubmatch(ref)
			for _, g := range m[1:] {
				if d, ok := c.defaults[g]; ok && g != "" {
					return d
				}
			}
			return ref
		})
		if next == v {
			break
		}
		v = next
	}
	return v
}

func listTokensFold(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// fixedByInstallation reports whether a document line changes an
// installation parameter (validateDocument refuses it).
func fixedByInstallation(cat *paramCatalog, p Param) bool {
	_, ok := installationParam(p.Name)
	return ok && !installationValue(cat, p.Name, p.Value)
}

// checkInstallation refuses a document line that hands local mail to a
// pipe(8) service, or switches off the smtpd listeners postdeck needs.
func checkInstallation(p Param, inst Instance, services []masterService) error {
	switch strings.ToLower(p.Name) {
	case "mailbox_transport", "fallback_transport":
		transport, _, _ := strings.Cut(strings.TrimSpace(p.Value), ":")
		for _, s := range services {
			if s.Name == transport && s.Type == "unix" && s.Command() == "pipe" {
				return store.InvalidLine(FieldMainConfig, p.Line, "Parameter %s hands local mail to %s, a pipe service that runs a program; the programs Postfix runs are fixed by the installation: remove it here", p.Name, transport)
			}
		}
	case "master_service_disable":
		for _, listen := range []string{inst.SMTPListen, inst.ReinjectListen} {
			if listen == "" || (listen == inst.ReinjectListen && inst.MPAListen == "") {
				continue
			}
			name, err := listenService(listen)
			if err != nil {
				continue
			}
			for _, tok := range listTokensFold(p.Value) {
				if strings.EqualFold(tok, "inet") || strings.EqualFold(tok, name+".inet") {
					return store.InvalidLine(FieldMainConfig, p.Line, "Parameter master_service_disable switches off the smtpd listener %s, which postdeck needs to receive mail: remove it here", listen)
				}
			}
		}
	}
	return nil
}

// filesParam reports whether a Postfix parameter names files Postfix reads
// and needs: TLS certificates, keys, chains, CA files and directories, DH
// parameters, the bounce templates (postconf -d names ending in _file,
// _files, _CAfile and _CApath), and whether they name private keys (a
// chain file or a certificate file may hold one too: checkNamedFile looks).
// maillog_file is written, not read; tls_config_file is an installation
// parameter.
func filesParam(name string) (files, key bool) {
	n := strings.ToLower(name)
	if n == "maillog_file" || n == "tls_config_file" {
		return false, false
	}
	if !strings.HasSuffix(n, "_file") && !strings.HasSuffix(n, "_files") && !strings.HasSuffix(n, "_cafile") && !strings.HasSuffix(n, "_capath") {
		return false, false
	}
	return true, strings.HasSuffix(n, "key_file")
}

// maxKeyScan bounds how much of a named file is read to find a private key.
const maxKeyScan = 1 << 20

// checkFiles checks the files that the staged main.cf names (postconf -n
// -x output, so $names are expanded; the staging directory stands for the
// live one): each must be an absolute path to a readable file (a
// directory for *_CApath), and a file that holds a private key (a
// *key_file, or any file with a PEM private key in it, such as a chain
// file) must not be readable by every user of the machine. Group read is allowed: Debian gives keys to the ssl-cert
// group (0640 root:ssl-cert), and Postfix reads them as root.
func (m *Manager) checkFiles(expanded, staging string, params []Param) error {
	for _, line := range strings.Split(expanded, "\n") {
		name, value, ok := strings.Cut(line, " = ")
		if !ok {
			continue
		}
		files, key := filesParam(name)
		if !files || (m.catalog != nil && !m.catalog.known(name, nil) && !strings.Contains(name, "_tls_")) {
			continue
		}
		for _, path := range listTokensFold(value) {
			if msg := checkNamedFile(name, m.livePath(staging, path), key); msg != "" {
				return refError(params, name, msg)
			}
		}
	}
	return nil
}

// checkNamedFile returns what is wrong with the file a parameter names, or "".
func checkNamedFile(name, path string, key bool) string {
	if !filepath.IsAbs(path) {
		return fmt.Sprintf("Parameter %s names %q, which is not an absolute path", name, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Sprintf("Parameter %s names %s, which does not exist or cannot be reached", name, path)
	}
	dir := strings.HasSuffix(strings.ToLower(name), "_capath")
	switch {
	case dir && !fi.IsDir():
		return fmt.Sprintf("Parameter %s names %s, which is not a directory", name, path)
	case !dir && !fi.Mode().IsRegular():
		return fmt.Sprintf("Parameter %s names %s, which is not a regular file", name, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("Parameter %s names %s, which cannot be read: %v", name, path, err)
	}
	defer f.Close()
	if dir {
		return ""
	}
	head, err := io.ReadAll(io.LimitReader(f, maxKeyScan))
	if err != nil {
		return fmt.Sprintf("Parameter %s names %s, which cannot be read: %v", name, path, err)
	}
	if (key || bytes.Contains(head, []byte("PRIVATE KEY-----"))) && fi.Mode().Perm()&0o004 != 0 {
		return fmt.Sprintf("Parameter %s names %s, which holds a private key and is readable by every user of this machine (mode %04o); make it readable by root (and a group such as ssl-cert) only, for example with chmod o-r", name, path, fi.Mode().Perm())
	}
	if what, block := pemWanted(name); block != "" && !(bytes.Contains(head, []byte("-----BEGIN ")) && bytes.Contains(head, []byte(block+"-----"))) {
		return fmt.Sprintf("Parameter %s names %s, which holds no PEM %s (no \"-----BEGIN %s-----\" line); Postfix reads TLS files in PEM form only, and smtpd would answer STARTTLS with \"TLS not available due to local problem\"", name, path, what, block)
	}
	return ""
}

// pemWanted is what a TLS file parameter's file must hold for OpenSSL to
// load it, and the PEM block type that holds it; "" for the others (DH
// parameters, bounce templates). A readable file of another kind
// (smtpd_tls_cert_file = /etc/shadow) passes postconf and reload, and
// smtpd then switches TLS off.
func pemWanted(name string) (what, marker string) {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, "cert_file"), strings.HasSuffix(n, "_cafile"):
		return "certificate", "CERTIFICATE"
	case strings.HasSuffix(n, "key_file"):
		return "private key", "PRIVATE KEY"
	}
	return "", ""
}

// tableAllowed reports whether a table that parameter name references
// (the live path) may be used: under the Postfix configuration directory,
// under a directory of --table-dirs, a cache Postfix creates under its
// data or queue directory, or a table the installation's own default of
// the parameter names (alias_maps = hash:/etc/aliases). Paths are compared
// with symbolic links resolved, so a link in the configuration directory
// cannot point at /etc/shadow.
func (m *Manager) tableAllowed(name, typ, path, dataDir, queueDir string) bool {
	if m.catalog != nil {
		for _, mm := range tableRefRe.FindAllStringSubmatch(m.catalog.expandDefaults(m.catalog.defaults[name]), -1) {
			if mm[1] == typ && filepath.Clean(mm[2]) == filepath.Clean(path) {
				return true
			}
		}
	}
	dirs := append([]string{m.inst.ConfigDir}, m.inst.TableDirs...)
	if createdByPostfix(name) {
		dirs = append(dirs, dataDir, queueDir)
	}
	candidates := []string{filepath.Clean(path)}
	for _, p := range []string{path, path + ".db", path + ".lmdb", path + ".cdb"} {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, real)
		}
	}
	if real, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
		candidates = append(candidates, filepath.Join(real, filepath.Base(path)))
	}
	for _, c := range candidates {
		if !underAny(c, dirs) {
			return false
		}
	}
	return true
}

// underAny reports whether path lies inside one of dirs (each also with
// its symbolic links resolved).
func underAny(path string, dirs []string) bool {
	for _, d := range dirs {
		if d == "" {
			continue
		}
		for _, dd := range []string{filepath.Clean(d), resolved(d)} {
			if rel, err := filepath.Rel(dd, path); err == nil && rel != "." && !strings.HasPrefix(rel, "..") && !filepath.IsAbs(rel) {
				return true
			}
		}
	}
	return false
}

func resolved(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}
