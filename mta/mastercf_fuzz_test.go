package mta

import (
	"strings"
	"testing"

	"postdeck/postfix"
)

// FuzzParseMasterCF checks the master.cf reader on any text: it never
// panics; every service starts on a line that begins with neither white
// space nor '#' and spans lines in order; its name and type are its first
// two words; every -o it reports is on a line of the service.
func FuzzParseMasterCF(f *testing.F) {
	for _, s := range []string{
		"", "\n", DefaultMasterConfig(Instance{SMTPListen: ":25"}),
		"smtp inet n - n - - smtpd\n  -o a=b -o c=\n  -o\n",
		"x unix - - n - - smtp\n  -o { a = b c }\n  -oname=value\n",
		"  -o x=y\nsmtp inet n - n - - smtpd\n",
		"a b\n# c\n\td\n\ve\n",
		"smtp inet n - n - - smtpd -o {unclosed\n",
		postfix.DebianServices,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		lines := strings.Split(text, "\n")
		prevEnd := 0
		for _, s := range parseMasterCF(text) {
			if s.Line < 1 || s.Line > s.End || s.End > len(lines) || s.Line <= prevEnd {
				t.Fatalf("service %q of %q spans lines %d-%d (previous ended %d)", s.Name, text, s.Line, s.End, prevEnd)
			}
			prevEnd = s.End
			first := lines[s.Line-1]
			if first == "" || isContinuation(first[0]) || strings.HasPrefix(strings.TrimSpace(first), "#") {
				t.Fatalf("service %q of %q starts on line %d (%q)", s.Name, text, s.Line, first)
			}
			if s.Name != "" && !strings.Contains(first, s.Name) {
				t.Fatalf("service name %q is not on its first line %q", s.Name, first)
			}
			for _, o := range s.Opts {
				if o.Line < s.Line || o.Line > s.End {
					t.Fatalf("-o %q of service %q on line %d, outside %d-%d", o.Raw, s.Name, o.Line, s.Line, s.End)
				}
				if !o.Bad && (o.Name == "" || strings.ContainsAny(o.Name, " \t{}$")) {
					t.Fatalf("-o %q accepted with name %q", o.Raw, o.Name)
				}
			}
		}
	})
}
