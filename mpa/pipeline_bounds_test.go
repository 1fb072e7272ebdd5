package mpa

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"postdeck/store"
)

// TestValidatePipelineBounds: the limits of a pipeline an administrator
// saves, each refused naming its field (and line): at most MaxTemplates
// templates (that many pass), a template of at most MaxTemplateBytes, a
// rules document of at most MaxRulesBytes, no template name twice, no
// footer naming a template that does not exist, known processors once.
func TestValidatePipelineBounds(t *testing.T) {
	templates := func(n int) []store.MPATemplate {
		out := make([]store.MPATemplate, n)
		for i := range out {
			out[i] = store.MPATemplate{Name: fmt.Sprintf("t%d", i), Text: "-- footer {{.Sender}}"}
		}
		return out
	}
	ok := store.MPAPipeline{Processors: []string{"trace", "rules"}, Rules: "recipient * footer t99\n", Templates: templates(MaxTemplates)}
	if err := ValidatePipeline(ok); err != nil {
		t.Fatalf("%d templates: %v", MaxTemplates, err)
	}
	for _, tc := range []struct {
		name, field, says string
		line              int
		edit              func(p *store.MPAPipeline)
	}{
		{"one template too many", "templates", "the limit is 100", 0, func(p *store.MPAPipeline) { p.Templates = templates(MaxTemplates + 1) }},
		{"a template too long", "templates.t3", "the limit is 65536", 0, func(p *store.MPAPipeline) { p.Templates[3].Text = strings.Repeat("x", MaxTemplateBytes+1) }},
		{"rules too long", "rules", "the limit is 65536", 0, func(p *store.MPAPipeline) { p.Rules = strings.Repeat("# comment\n", MaxRulesBytes/10+1) }},
		{"a name twice", "templates", "used twice", 0, func(p *store.MPAPipeline) { p.Templates[5].Name = "t4" }},
		{"a footer without its template", "rules", "does not exist", 2, func(p *store.MPAPipeline) { p.Rules = "# x\nsender * footer nosuch\n" }},
		{"an unknown processor", "processors", "Unknown processor", 0, func(p *store.MPAPipeline) { p.Processors = []string{"trace", "virus"} }},
		{"a processor twice", "processors", "listed twice", 0, func(p *store.MPAPipeline) { p.Processors = []string{"rules", "rules"} }},
	} {
		p := ok
		p.Templates = templates(MaxTemplates)
		tc.edit(&p)
		err := ValidatePipeline(p)
		var ue *store.UserError
		if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &ue) || ue.Field != tc.field || ue.Line != tc.line || !strings.Contains(ue.Msg, tc.says) {
			t.Errorf("%s: %v (%+v), want %s line %d saying %q", tc.name, err, ue, tc.field, tc.line, tc.says)
		}
	}
}
