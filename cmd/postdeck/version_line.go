package main

import (
	"fmt"
	"strings"
)

// versionPrefix starts the first line `mainconfig get`, `mastercfg get` and `maps get`
// print: the version of the document, so that the file an administrator
// edits carries what it was based on, and `set` refuses it (409, with the
// difference) when someone saved meanwhile.
const versionPrefix = "# postdeck-version: "

// withVersionLine puts the version line before text.
func withVersionLine(version, text string) string {
	if version == "" {
		return text
	}
	return versionPrefix + version + "\n" + text
}

// baseOf takes the version line off text. Without one, the save is
// refused unless force: a file that was not read with get could undo
// someone else's change unseen.
func baseOf(text string, force bool) (version, rest string, err error) {
	// An editor's UTF-8 byte order mark (which the daemon drops) stands
	// before the version line `get` wrote.
	text = strings.TrimPrefix(text, "\ufeff")
	first, tail, _ := strings.Cut(text, "\n")
	v, ok := strings.CutPrefix(strings.TrimSpace(first), strings.TrimSpace(versionPrefix))
	if ok {
		rest = tail
		version = strings.TrimSpace(v)
	} else {
		rest = text
	}
	switch {
	case force:
		return "", rest, nil
	case version == "":
		return "", "", fmt.Errorf("the file has no %q line (get writes it first); save with --force to replace the stored document regardless", strings.TrimSpace(versionPrefix))
	}
	return version, rest, nil
}
