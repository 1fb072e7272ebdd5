package webui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// rulesPageData is the Data of views/rules.html: the MPA pipeline as
// typed, its errors, the help, and a preview.
type rulesPageData struct {
	Version    string // what the form's save is based on
	Processors []rulesProcessorForm
	Rules      string
	Templates  []rulesTemplateForm
	// RulesError is the rules document's error and its line (0: none).
	RulesError     string
	RulesErrorLine int
	// OtherError is an error not tied to the rules or one template
	// (processors, template names, sizes).
	OtherError string
	Syntax     []string // admin.RulesSyntax, line by line
	Variables  []string // {{.Sender}} ...
	Updated    time.Time
	// The preview's inputs (kept as typed) and result.
	Sample, Sender, Recipients string
	SampleError                string
	Preview                    *rulesPreview
}

// rulesProcessorForm is one processor checkbox.
type rulesProcessorForm struct {
	Name, About string
	On          bool
}

// rulesTemplateForm is one template editor; Index is its place in the
// form, which the preview and remove fields name.
type rulesTemplateForm struct {
	Index     int
	Name      string
	Text      string
	Error     string
	ErrorLine int
	New       bool // the empty slot for a new template
}

// rulesPreview is a template rendered against the sample message.
type rulesPreview struct {
	Name    string
	Footer  string
	Message string
}

// rulesProcessorAbout explains the processors the MPA ships.
var rulesProcessorAbout = map[string]string{
	"trace": "Adds a Received header for the MPA hop and an " + admin.TraceHeader + " header with the spool id (left out of a message within a few kilobytes of Postfix's message size limit, which Postfix would otherwise refuse at reinjection).",
	"rules": "Applies the rules below: add a header, tag the subject, append a footer from a template.",
}

// rulesProcessorOrder is the order processors are offered in when the
// stored pipeline does not name them.
var rulesProcessorOrder = []string{"trace", "rules"}

func rulesHelp(d *rulesPageData) {
	d.Syntax = strings.Split(admin.RulesSyntax, "\n")
	for _, v := range admin.TemplateVariables {
		d.Variables = append(d.Variables, "{{."+v+"}}")
	}
}

// rulesDataOf is the page for the stored pipeline.
func rulesDataOf(doc admin.PipelineDoc) rulesPageData {
	p := doc.MPAPipeline
	d := rulesPageData{Rules: p.Rules, Updated: p.Updated, Version: doc.Version}
	d.Processors = rulesProcessors(p.Processors)
	for i, t := range p.Templates {
		d.Templates = append(d.Templates, rulesTemplateForm{Index: i, Name: t.Name, Text: t.Text})
	}
	rulesHelp(&d)
	return d
}

// rulesProcessors lists the processors in the given order (the enabled
// ones, as stored), then the others, switched off.
func rulesProcessors(on []string) []rulesProcessorForm {
	var out []rulesProcessorForm
	seen := map[string]bool{}
	for _, n := range on {
		if _, known := rulesProcessorAbout[n]; known && !seen[n] {
			out = append(out, rulesProcessorForm{Name: n, About: rulesProcessorAbout[n], On: true})
			seen[n] = true
		}
	}
	for _, n := range rulesProcessorOrder {
		if !seen[n] {
			out = append(out, rulesProcessorForm{Name: n, About: rulesProcessorAbout[n]})
		}
	}
	return out
}

// rulesForm is the submitted page: the pipeline as typed, and the raw
// template pairs by form index (for the preview button).
type rulesForm struct {
	pipeline  store.MPAPipeline
	templates []rulesTemplateForm // kept, in form order, Index = form index
	rawNames  []string
	rawTexts  []string
}

func formLines(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

func rulesFormFrom(c *fiber.Ctx) (rulesForm, error) {
	args := c.Request().PostArgs()
	var f rulesForm
	f.pipeline.Processors = []string{}
	f.pipeline.Rules = formLines(string(args.Peek("rules")))
	// Counted before anything is copied: the page draws one checkbox per
	// processor the MPA ships and at most admin.MaxTemplates editors
	// (withNewSlot), so more is not a form the page sent.
	if n := formCount(args, "processor"); n > len(rulesProcessorOrder) {
		return f, store.Invalid("processors", "The form sent %d processors; the MPA has %d.", n, len(rulesProcessorOrder))
	}
	for _, key := range []string{"tpl_name", "tpl_text", "tpl_remove"} {
		if n := formCount(args, key); n > admin.MaxTemplates {
			return f, store.Invalid("templates", "The form sent %d values of %s; there may be at most %d templates.", n, key, admin.MaxTemplates)
		}
	}
	for _, v := range args.PeekMulti("processor") {
		f.pipeline.Processors = append(f.pipeline.Processors, string(v))
	}
	for _, v := range args.PeekMulti("tpl_name") {
		f.rawNames = append(f.rawNames, strings.TrimSpace(string(v)))
	}
	for _, v := range args.PeekMulti("tpl_text") {
		f.rawTexts = append(f.rawTexts, formLines(string(v)))
	}
	if len(f.rawNames) != len(f.rawTexts) {
		return f, store.Invalid("templates", "The form sent %d template names and %d texts; reload the page and try again.", len(f.rawNames), len(f.rawTexts))
	}
	removed := map[int]bool{}
	for _, v := range args.PeekMulti("tpl_remove") {
		if i, err := strconv.Atoi(string(v)); err == nil {
			removed[i] = true
		}
	}
	f.pipeline.Templates = []store.MPATemplate{}
	for i := range f.rawNames {
		name, text := f.rawNames[i], f.rawTexts[i]
		if removed[i] || name == "" && strings.TrimSpace(text) == "" {
			continue
		}
		f.pipeline.Templates = append(f.pipeline.Templates, store.MPATemplate{Name: name, Text: text})
		f.templates = append(f.templates, rulesTemplateForm{Index: len(f.templates), Name: name, Text: text})
	}
	return f, nil
}

// data is the page showing the form as typed.
func (f rulesForm) data() rulesPageData {
	d := rulesPageData{Rules: f.pipeline.Rules, Templates: f.templates}
	d.Processors = rulesProcessors(f.pipeline.Processors)
	rulesHelp(&d)
	return d
}

// withNewSlot adds the empty editor for a new template (administrators),
// unless there are admin.MaxTemplates already: the page never draws more
// editors than rulesFormFrom takes back.
func (d *rulesPageData) withNewSlot(isAdmin bool) {
	if isAdmin && len(d.Templates) < admin.MaxTemplates {
		d.Templates = append(d.Templates, rulesTemplateForm{Index: len(d.Templates), New: true})
	}
}

// setError puts a validation error where it belongs and returns the
// flash sentence.
func (d *rulesPageData) setError(fe *store.UserError) string {
	where := ""
	switch {
	case fe.Field == "rules":
		d.RulesError, d.RulesErrorLine = fe.Msg, fe.Line
		where = "the rules"
	case strings.HasPrefix(fe.Field, "templates."):
		name := strings.TrimPrefix(fe.Field, "templates.")
		for i := range d.Templates {
			if d.Templates[i].Name == name && !d.Templates[i].New {
				d.Templates[i].Error, d.Templates[i].ErrorLine = fe.Msg, fe.Line
				where = fmt.Sprintf("template %q", name)
				break
			}
		}
		if where == "" {
			d.OtherError = fe.Msg
		}
	case fe.Field == "sample" || fe.Field == "sender" || fe.Field == "recipients":
		d.SampleError = fe.Msg
		where = "the sample message"
	default:
		d.OtherError = fe.Msg
	}
	if where == "" {
		return "correct the error shown below"
	}
	if fe.Line > 0 {
		return fmt.Sprintf("correct %s at line %d", where, fe.Line)
	}
	return "correct " + where
}

// pageRules is GET /queues/mpa/rules: the Rules and Templates page.
func (s *Server) pageRules(c *fiber.Ctx) error {
	p, err := s.admin.Pipeline(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	d := rulesDataOf(p)
	d.withNewSlot(identityCan(c, permAdmin))
	return s.render(c, "rules", "Rules and Templates", d)
}

// pageRulesPost is POST /queues/mpa/rules: check the rules and templates
// (syntax, names, a run against a sample message), store them and use
// them for the next message; or the form again, as typed, with the error
// at its line (400).
func (s *Server) pageRulesPost(c *fiber.Ctx) error {
	f, err := rulesFormFrom(c)
	if err == nil {
		_, err = s.admin.SavePipeline(c.UserContext(), who(c), admin.PipelineDoc{MPAPipeline: f.pipeline, Version: c.FormValue("version")})
	}
	if err == nil {
		n := len(f.pipeline.Templates)
		msg := fmt.Sprintf("Saved the rules and %d %s; the MPA uses them for the next message.", n, repoPlural(n, "template", "templates"))
		return s.flashAndRedirect(c, &Flash{Kind: "success", Message: msg}, "/queues/mpa/rules")
	}
	var fe *store.UserError
	if !errors.As(err, &fe) {
		return err
	}
	d := f.data()
	d.withNewSlot(true)
	d.Updated = s.pipelineUpdated(c)
	d.Version = c.FormValue("version")
	if v, ok := staleVersion(err); ok {
		d.Version = v
		flash := &Flash{Kind: "error", Message: fe.Msg, Diff: fe.Diff}
		return s.renderStatus(c, fiber.StatusConflict, "rules", "Rules and Templates", d, flash)
	}
	flash := &Flash{Kind: "error", Message: "The rules and templates were not saved: " + d.setError(fe) + "."}
	return s.renderStatus(c, fiber.StatusBadRequest, "rules", "Rules and Templates", d, flash)
}

// pageRulesPreview is POST /queues/mpa/rules/preview: render one template
// of the form, as typed (saved or not), against the sample message and
// show the page again with the result. It saves nothing.
func (s *Server) pageRulesPreview(c *fiber.Ctx) error {
	isAdmin := identityCan(c, permAdmin)
	f, err := rulesFormFrom(c)
	if err != nil {
		return err
	}
	d := f.data()
	d.Version = c.FormValue("version")
	d.Updated = s.pipelineUpdated(c)
	d.Sample = formLines(strings.Clone(c.FormValue("sample")))
	d.Sender = strings.TrimSpace(c.FormValue("sender"))
	d.Recipients = strings.Clone(c.FormValue("recipients"))
	i, perr := strconv.Atoi(c.FormValue("preview"))
	if perr != nil || i < 0 || i >= len(f.rawNames) {
		return store.Invalid("preview", "Choose a template to preview with its Preview button.")
	}
	name, text := f.rawNames[i], f.rawTexts[i]
	if name == "" {
		name = "preview"
	}
	if len(d.Recipients) > maxListField {
		d.Recipients = ""
		return store.Invalid("recipients", "The preview's recipients may be at most 1 MiB of text")
	}
	req := admin.PreviewRequest{Template: text, Name: name, Sample: d.Sample, Sender: d.Sender, Recipients: splitList(d.Recipients)}
	res, err := s.admin.Preview(c.UserContext(), who(c), req)
	d.withNewSlot(isAdmin)
	if err != nil {
		var fe *store.UserError
		if !errors.As(err, &fe) {
			return err
		}
		if fe.Field == "name" {
			fe = &store.UserError{Kind: store.ErrInvalid, Field: "templates", Msg: fe.Msg}
		}
		flash := &Flash{Kind: "error", Message: "The preview failed: " + d.setError(fe) + "."}
		return s.renderStatus(c, fiber.StatusBadRequest, "rules", "Rules and Templates", d, flash)
	}
	d.Preview = &rulesPreview{Name: name, Footer: res.Footer, Message: res.Message}
	flash := &Flash{Kind: "info", Message: fmt.Sprintf("Preview of template %q against the sample message; nothing was saved.", name)}
	return s.renderStatus(c, fiber.StatusOK, "rules", "Rules and Templates", d, flash)
}

// identityCan reports whether the caller's role reaches p.
func identityCan(c *fiber.Ctx, p perm) bool {
	id, ok := identity(c)
	return ok && p.Allows(id.Role)
}

// pipelineUpdated is when the stored pipeline was saved, for a page that
// shows the form as typed (zero when unknown).
func (s *Server) pipelineUpdated(c *fiber.Ctx) time.Time {
	p, err := s.admin.Pipeline(c.UserContext(), who(c))
	if err != nil {
		return time.Time{}
	}
	return p.Updated
}
