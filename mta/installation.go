package mta

import (
	"slices"
	"strings"

	"postdeck/store"
)

// docDirectories are installation parameters that only say where
// Postfix's documentation and samples lie. The Edit Main Config guard lets
// them be (Debian's own main.cf sets readme_directory = no); an import keeps
// them with the installation's part like the parameters of
// InstallationParams.
var docDirectories = []string{"html_directory", "manpage_directory", "sample_directory", "readme_directory"}

// isInstallationParam reports whether an import keeps name apart, in
// store.State's Installation part (rendered into main.cf as written):
// every parameter the Edit Main Config guard refuses (InstallationParams)
// and the documentation directories.
func isInstallationParam(name string) bool {
	_, fixed := InstallationParams[name]
	return fixed || slices.Contains(docDirectories, name)
}

// installationOnPrivate reports whether a private instance renders an
// installation parameter. A private instance runs this machine's Postfix
// with its own queue and data: where the imported installation kept its
// programs and files does not apply to it, so only the local delivery
// command and environment are kept.
func installationOnPrivate(name string) bool {
	return name == "mailbox_command" || name == "import_environment" || name == "export_environment"
}

// installationLines returns the Installation part's lines as main.cf gets
// them: as written, with comments, except on a private instance the
// definitions of parameters it does not take (installationOnPrivate).
func installationLines(text string, private bool) string {
	if text == "" {
		return ""
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	skip := map[int]bool{}
	if private {
		params, err := ParseMainConfig(text)
		if err == nil {
			for _, p := range params {
				if !installationOnPrivate(p.Name) {
					for i := p.Line; i <= p.End; i++ {
						skip[i] = true
					}
				}
			}
		}
	}
	var b strings.Builder
	for i, line := range lines {
		if !skip[i+1] {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// checkInstallationPart refuses a document that sets a parameter the
// Installation part holds: main.cf would set it twice, and Postfix takes
// the last.
func checkInstallationPart(text string, doc []Param) error {
	if text == "" {
		return nil
	}
	inst, err := ParseMainConfig(text)
	if err != nil {
		return err
	}
	for _, p := range doc {
		for _, q := range inst {
			if p.Name == q.Name {
				return store.InvalidLine(FieldMainConfig, p.Line, "Parameter %s is fixed by the installation (imported as %s = %s); it is kept as imported and cannot be set here", p.Name, q.Name, truncate(q.Value, 60))
			}
		}
	}
	return nil
}
