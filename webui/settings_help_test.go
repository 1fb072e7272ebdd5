package webui

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"postdeck/mta"
	"postdeck/store"
)

// TestSettingsHelpNamesExclusions: the help of Relay domains and My
// Networks says that an entry may exclude with "!" (Postfix's match
// lists; the settings take it), with an example exclusion and the entry
// it is carved out of, which the settings accept in that order. The
// help did not mention it, so the way to leave one host of a trusted
// network out was not to be found on the page.
func TestSettingsHelpNamesExclusions(t *testing.T) {
	v := loadViews(loadStatic())
	st := store.DefaultSettings()
	page := renderView(t, v, "settings", settingsPageData{Form: settingsFormOf(st), Errors: map[string]string{}, RejectCodes: rejectCodes})
	example := regexp.MustCompile(`<code>(![^<]+)</code> on the line before <code>([^<]+)</code>`)
	for _, field := range []string{"relay_domains", "my_networks"} {
		start := strings.Index(page, `id="field-`+field+`"`)
		if start < 0 {
			t.Fatalf("no field %s", field)
		}
		help := page[start:]
		if end := strings.Index(help[1:], `id="field-`); end > 0 {
			help = help[:end+1]
		}
		m := example.FindStringSubmatch(help)
		if m == nil {
			t.Errorf("the help of %s does not show an exclusion with \"!\"", field)
			continue
		}
		s := st
		if field == "relay_domains" {
			s.RelayDomains = []string{m[1], m[2]}
		} else {
			s.MyNetworks = append(slices.Clone(s.MyNetworks), m[1], m[2])
		}
		if _, _, err := mta.ValidateSettings(s); err != nil {
			t.Errorf("the example of %s's help (%s before %s) is refused: %v", field, m[1], m[2], err)
		}
	}
}
