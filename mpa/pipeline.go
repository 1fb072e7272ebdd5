package mpa

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"postdeck/store"
)

// Processor is one step of the pipeline. Process changes m in place; an
// error sends the message (for m's recipients) to the error repository
// with the error's text as the reason.
type Processor interface {
	Name() string
	Process(ctx context.Context, m *Message) error
}

// splitter is a Processor that needs recipients grouped by outcome: the
// message is split into one delivery per group before Process runs.
type splitter interface {
	Groups(env store.MPAEnvelope) [][]int
}

// Limits of the pipeline configuration.
const (
	MaxTemplateBytes = 64 << 10
	MaxTemplates     = 100
	MaxRulesBytes    = 64 << 10
)

// pipeline is a compiled store.MPAPipeline.
type pipeline struct {
	procs []Processor
}

// processorNames are the processors the MPA ships.
var processorNames = []string{"trace", "rules"}

// compilePipeline builds the processors. It does not fail on a template
// that does not parse (one saved before validation existed): messages that
// use it fail at run time with the parse error, as the documentation says.
// Rules that do not parse are a hard error: PutPipeline never stores them.
func compilePipeline(p store.MPAPipeline, hostname string) (*pipeline, error) {
	out := &pipeline{}
	for _, name := range p.Processors {
		switch name {
		case "trace":
			out.procs = append(out.procs, traceProcessor{hostname: hostname})
		case "rules":
			rules, err := parseRules(p.Rules)
			if err != nil {
				return nil, err
			}
			rp := &rulesProcessor{rules: rules, templates: map[string]*templateT{}, parseErr: map[string]error{}}
			for _, t := range p.Templates {
				tpl, err := parseTemplate(t.Name, t.Text)
				if err != nil {
					rp.parseErr[t.Name] = err
					continue
				}
				rp.templates[t.Name] = tpl
			}
			out.procs = append(out.procs, rp)
		default:
			return nil, store.Invalid("processors", "Unknown processor %s; the MPA has %s.", shownName(name), strings.Join(processorNames, ", "))
		}
	}
	return out, nil
}

// run applies the pipeline to m and returns one message per delivery
// group. A processor error fails only the group it happened in: failed
// holds those groups' recipients with the reason.
func (p *pipeline) run(ctx context.Context, m *Message) (ok []*Message, failed []failure) {
	groups := [][]int{seq(len(m.Envelope.Recipients))}
	for _, pr := range p.procs {
		if s, isS := pr.(splitter); isS {
			groups = refine(groups, s.Groups(m.Envelope))
		}
	}
	for _, g := range groups {
		gm := m.clone()
		gm.Envelope.Recipients = gm.Envelope.Recipients[:0]
		for _, i := range g {
			gm.Envelope.Recipients = append(gm.Envelope.Recipients, m.Envelope.Recipients[i])
		}
		// Past the run's deadline (Config.ProcessTimeout) the remaining
		// groups fail with its cause: each footer is bounded, but not
		// how many a rules document applies to how many groups.
		if ctx.Err() != nil {
			failed = append(failed, failure{rcpts: gm.Envelope.Recipients, reason: context.Cause(ctx).Error(), slow: true})
			continue
		}
		var err error
		for _, pr := range p.procs {
			if err = safeProcess(ctx, pr, gm); err != nil {
				err = fmt.Errorf("%s: %w", pr.Name(), err)
				break
			}
		}
		if err != nil {
			slow := errors.Is(err, errTemplateSlow) || ctx.Err() != nil
			failed = append(failed, failure{rcpts: gm.Envelope.Recipients, reason: err.Error(), slow: slow})
			continue
		}
		ok = append(ok, gm)
	}
	return ok, failed
}

type failure struct {
	rcpts  []store.MPARecipient
	reason string
	slow   bool // past MaxTemplateTime or ProcessTimeout: worth another try
}

// safeProcess turns a processor panic into an error (and counts it).
func safeProcess(ctx context.Context, pr Processor, m *Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			countPanic()
			err = fmt.Errorf("processor panicked: %v", r)
		}
	}()
	return pr.Process(ctx, m)
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// refine intersects two partitions of recipient indexes.
func refine(a, b [][]int) [][]int {
	if len(b) == 1 && !slices.ContainsFunc(a, func(g []int) bool { return len(g) == 0 }) {
		return a // b's one group holds every recipient: a stays as it is
	}
	cls := map[int]int{}
	for gi, g := range b {
		for _, i := range g {
			cls[i] = gi
		}
	}
	var out [][]int
	for _, g := range a {
		sub := map[int][]int{}
		var order []int
		for _, i := range g {
			c := cls[i]
			if _, seen := sub[c]; !seen {
				order = append(order, c)
			}
			sub[c] = append(sub[c], i)
		}
		for _, c := range order {
			out = append(out, sub[c])
		}
	}
	return out
}

// traceProcessor adds the MPA hop's Received header and the spool id.
type traceProcessor struct{ hostname string }

// TraceHeader names the header that carries the spool id.
const TraceHeader = "X-Postdeck-MPA-Id"

func (traceProcessor) Name() string { return "trace" }

func (t traceProcessor) Process(_ context.Context, m *Message) error {
	// "from HELO (CLIENT) by HOST (postdeck MPA) with ESMTP id ID for
	// <RCPT>; DATE", written at once (this runs for every message).
	helo := m.Envelope.Helo
	if helo == "" {
		helo = "unknown"
	}
	b := make([]byte, 0, 128+len(helo)+len(m.Envelope.Client)+len(t.hostname)+len(m.SpoolID))
	b = append(b, "from "...)
	b = append(b, helo...)
	if m.Envelope.Client != "" {
		b = append(b, " ("...)
		b = append(b, m.Envelope.Client...)
		b = append(b, ')')
	}
	b = append(b, " by "...)
	b = append(b, t.hostname...)
	b = append(b, " (postdeck MPA) with "...)
	if m.Envelope.SMTPUTF8 {
		b = append(b, "UTF8SMTP"...)
	} else {
		b = append(b, "ESMTP"...)
	}
	b = append(b, " id "...)
	b = append(b, m.SpoolID...)
	if len(m.Envelope.Recipients) == 1 {
		// As Postfix writes it: the address's own bytes (escapeAddress).
		b = append(b, " for <"...)
		b = append(b, unescapeAddress(m.Envelope.Recipients[0].Address)...)
		b = append(b, '>')
	}
	b = append(b, "; "...)
	b = m.Received.AppendFormat(b, time.RFC1123Z)
	value := string(b)
	// Postfix takes back at reinjection what it took in, and little more:
	// a message within a few hundred bytes of message_size_limit was
	// refused 552 for these two fields alone and parked for good. It goes
	// on without them.
	add := int64(len("Received: ") + len(value) + len(TraceHeader) + len(": ") + len(m.SpoolID) + 2*len(m.NL))
	if m.MaxBytes > 0 && m.size()+add > m.MaxBytes-reinjectionOverhead(m.Envelope) {
		return nil
	}
	m.Header.Set(TraceHeader, m.SpoolID, m.NL)
	m.Header.Prepend("Received", value, m.NL)
	return nil
}

// rule is one line of the rules document.
type rule struct {
	line    int
	field   string // sender | recipient
	pattern string // "*", "@domain", ".domain" (subdomains), "user@domain"
	action  string // header | subject | footer
	arg     string
	hname   string // header action: name
	hvalue  string // header action: value
}

var (
	headerNameRE = regexp.MustCompile(`^[!-9;-~]+$`)
	ruleRE       = regexp.MustCompile(`^\S+\s+\S+\s+\S+\s*(.*)$`)
)

// RulesSyntax documents the rules document for the console's help text.
const RulesSyntax = `One rule per line: MATCH PATTERN ACTION ARGUMENT. Blank lines and lines starting with # are ignored.
MATCH is sender or recipient. PATTERN is * (anyone), a domain (example.org or @example.org),
.example.org (its subdomains), or an address (user@example.org); case does not matter.
ACTION is one of: header Name: value | subject [TAG] | footer TEMPLATE-NAME.
Every matching rule applies, in order. Recipients with different matching rules get separate copies.`

// parseRules parses the rules document; errors are *store.UserError with
// the line number.
func parseRules(text string) ([]rule, error) {
	if len(text) > MaxRulesBytes {
		return nil, store.Invalid("rules", "The rules are %d bytes; the limit is %d.", len(text), MaxRulesBytes)
	}
	var out []rule
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return nil, store.InvalidLine("rules", n, "expected MATCH PATTERN ACTION ARGUMENT, got %s.", shownName(line))
		}
		r := rule{line: n, field: strings.ToLower(f[0]), pattern: strings.ToLower(f[1]), action: strings.ToLower(f[2])}
		if mm := ruleRE.FindStringSubmatch(line); mm != nil {
			r.arg = strings.TrimSpace(mm[1])
		}
		if r.field != "sender" && r.field != "recipient" {
			return nil, store.InvalidLine("rules", n, "match %s is neither sender nor recipient.", shownName(f[0]))
		}
		if !validPattern(r.pattern) {
			return nil, store.InvalidLine("rules", n, "pattern %s is not *, a domain, .domain or an address.", shownName(f[1]))
		}
		switch r.action {
		case "header":
			name, value, ok := strings.Cut(r.arg, ":")
			name = strings.TrimSpace(name)
			if !ok || !headerNameRE.MatchString(name) {
				return nil, store.InvalidLine("rules", n, "header action needs \"Name: value\", got %s.", shownName(r.arg))
			}
			r.hname, r.hvalue = name, strings.TrimSpace(value)
		case "subject":
			if r.arg == "" {
				return nil, store.InvalidLine("rules", n, "subject action needs a tag, for example [EXTERNAL].")
			}
		case "footer":
			if r.arg == "" || strings.ContainsAny(r.arg, " \t") {
				return nil, store.InvalidLine("rules", n, "footer action needs one template name, got %s.", shownName(r.arg))
			}
		default:
			return nil, store.InvalidLine("rules", n, "action %s is not header, subject or footer.", shownName(f[2]))
		}
		out = append(out, r)
	}
	return out, nil
}

func validPattern(p string) bool {
	if p == "*" {
		return true
	}
	if strings.ContainsAny(p, " \t<>,;\"") || strings.Count(p, "@") > 1 {
		return false
	}
	local, domain, hasAt := strings.Cut(p, "@")
	if hasAt && local == "" && domain == "" {
		return false
	}
	d := strings.TrimPrefix(domain, ".")
	if !hasAt {
		d = strings.TrimPrefix(p, ".")
	}
	return d != "" && !strings.Contains(d, "..") && !strings.HasPrefix(d, ".") && !strings.HasSuffix(d, ".")
}

// checkRulesForSave refuses what parseRules takes but no administrator
// means. A control character (but tab) in a rule: a document pasted
// with old Mac line breaks (CR alone) read as one rule whose header
// value held the next rules, and a NUL or an escape went into every
// message's header, where RFC 5322 allows none. A pattern that could
// never match an address as meant: a regular expression or a wildcard
// pasted from elsewhere (pcre maps, a spam filter) is compared as a
// literal domain or address, so its rule was silently dead. It runs
// where a pipeline is saved (PutPipeline), not in parseRules: a
// pipeline stored before it keeps working as it did, and its backups
// restore.
func checkRulesForSave(text string) error {
	rules, err := parseRules(text)
	if err != nil {
		return err
	}
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			// A comment may hold anything but a CR alone: a document
			// of old Mac line breaks that begins with a comment, as most
			// do, was that one comment, and not one rule applied.
			if strings.Contains(line, "\r") {
				return store.InvalidLine("rules", i+1, "a comment holds a line break of the old Mac kind (CR alone), which makes the rules after it part of the comment; rules are lines of text (each ends with a line break, CR LF or LF).")
			}
			continue
		}
		for _, r := range line {
			if r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
				return store.InvalidLine("rules", i+1, "a rule holds the control character U+%04X; rules are lines of text (each ends with a line break, CR LF or LF).", r)
			}
		}
	}
	for _, r := range rules {
		// RFC 5322's 998: Postfix's SMTP client breaks a longer line
		// where it reaches it, in the middle of a word.
		if r.action == "header" && len(r.hname)+2+len(r.hvalue) > 998 {
			return store.InvalidLine("rules", r.line, "the header %s would be a line of %d bytes; a header line is at most 998.", r.hname, len(r.hname)+2+len(r.hvalue))
		}
		p := r.pattern
		if p == "*" {
			continue
		}
		local, domain, hasAt := strings.Cut(p, "@")
		if !hasAt {
			local, domain = "", strings.TrimPrefix(p, ".")
		}
		switch {
		case hasAt && local == "*" && validDomain(domain):
			return store.InvalidLine("rules", r.line, "pattern %s is a wildcard, which patterns are not: for every address of %s write %s.", shownName(p), domain, domain)
		case strings.HasPrefix(domain, "*.") && validDomain(domain[2:]):
			return store.InvalidLine("rules", r.line, "pattern %s is a wildcard, which patterns are not: for the subdomains of %s write .%s.", shownName(p), domain[2:], domain[2:])
		case strings.Contains(domain, "*"):
			return store.InvalidLine("rules", r.line, "pattern %s is a wildcard, which patterns are not: write * (every address), a domain, .domain or an address.", shownName(p))
		case !validDomain(domain) || strings.ContainsAny(local, `\()[]`) || strings.Contains(local, ".*") || strings.Contains(local, ".+"):
			return store.InvalidLine("rules", r.line, "pattern %s looks like a regular expression; a pattern is not a regular expression but *, a domain, .domain or an address.", shownName(p))
		}
	}
	return nil
}

// matches reports whether address a matches the rule's pattern.
func (r rule) matches(a string) bool {
	a = strings.ToLower(a)
	if r.pattern == "*" {
		return true
	}
	domain := a
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		domain = a[i+1:]
	}
	switch {
	case strings.HasPrefix(r.pattern, "@"):
		return domain == r.pattern[1:]
	case strings.HasPrefix(r.pattern, "."):
		return strings.HasSuffix(domain, r.pattern)
	case strings.Contains(r.pattern, "@"):
		return a == r.pattern
	}
	return domain == r.pattern
}

// rulesProcessor applies rules; recipients with different sets of
// matching rules are split into separate deliveries.
type rulesProcessor struct {
	rules     []rule
	templates map[string]*templateT
	parseErr  map[string]error
}

func (*rulesProcessor) Name() string { return "rules" }

// matching returns the indexes of rules that apply to recipient rcpt of a
// message from sender.
func (p *rulesProcessor) matching(sender, rcpt string) []int {
	var out []int
	for i, r := range p.rules {
		if r.field == "sender" && r.matches(sender) || r.field == "recipient" && r.matches(rcpt) {
			out = append(out, i)
		}
	}
	return out
}

func (p *rulesProcessor) Groups(env store.MPAEnvelope) [][]int {
	if len(env.Recipients) > 0 && (len(p.rules) == 0 || len(env.Recipients) == 1) {
		return [][]int{seq(len(env.Recipients))} // one group: nothing to tell apart
	}
	idx := map[string]int{}
	var out [][]int
	for i, r := range env.Recipients {
		key := fmt.Sprint(p.matching(env.Sender, r.Address))
		g, ok := idx[key]
		if !ok {
			g = len(out)
			idx[key] = g
			out = append(out, nil)
		}
		out[g] = append(out[g], i)
	}
	return out
}

func (p *rulesProcessor) Process(ctx context.Context, m *Message) error {
	if len(m.Envelope.Recipients) == 0 {
		return nil
	}
	// Groups made every recipient of m match the same rules.
	for _, i := range p.matching(m.Envelope.Sender, m.Envelope.Recipients[0].Address) {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		r := p.rules[i]
		switch r.action {
		case "header":
			m.Header.Add(r.hname, r.hvalue, m.NL)
		case "subject":
			// The subject a reader sees: a reply's client may have
			// encoded the tag with the rest (non-ASCII text), and
			// looking in the raw field tagged it once more per reply.
			subj := m.Header.Get("Subject")
			if d, err := subjectDecoder.DecodeHeader(subj); err == nil {
				subj = d
			}
			if !strings.Contains(strings.ToLower(subj), strings.ToLower(r.arg)) {
				m.Header.Prefix("Subject", r.arg, m.NL)
			}
		case "footer":
			text, err := p.render(r.arg, m)
			if errors.Is(err, errTemplateBig) {
				// The template passed its check when saved: this
				// message (its recipients) made it write too much.
				// The mail goes on without this footer, as where a
				// footer does not fit the size limit, and the worker
				// logs it; parking it would hold it for a person.
				m.footersLeftOut = append(m.footersLeftOut, r.arg)
				continue
			}
			if err != nil {
				return err
			}
			AddFooter(m, text)
		}
	}
	return nil
}

func (p *rulesProcessor) render(name string, m *Message) (string, error) {
	if err := p.parseErr[name]; err != nil {
		return "", fmt.Errorf("template %q does not parse: %w", name, err)
	}
	tpl := p.templates[name]
	if tpl == nil {
		return "", fmt.Errorf("template %q does not exist", name)
	}
	out, err := execute(tpl, templateData(m))
	if err != nil {
		return "", fmt.Errorf("template %q: %w", name, err)
	}
	return out, nil
}

// TemplateVariables are the keys templates can use ({{.Sender}} ...).
var TemplateVariables = []string{"Sender", "Recipients", "Subject", "Date", "MessageID", "SpoolID"}

// subjectDecoder decodes encoded-words in every charset the footer
// itself writes (charsetInfo: the WHATWG Encoding Standard's, as mail
// readers know them); mime.WordDecoder alone knows UTF-8, US-ASCII and
// ISO-8859-1 only, and {{.Subject}} of a windows-1252 or ISO-2022-JP
// subject was its raw =?...?= text. A charset without a codec fails the
// decoding: the Subject stays as written. One serves every message:
// DecodeHeader does not change it.
var subjectDecoder = &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	class, codec := charsetInfo(charset)
	if class == csUTF8 || class == csASCII {
		return input, nil // an alias of those mime knows ("utf8", "ascii")
	}
	if codec == nil {
		return nil, fmt.Errorf("unhandled charset %q", charset)
	}
	return codec.NewDecoder().Reader(input), nil
}}

func templateData(m *Message) map[string]any {
	subj := m.Header.Get("Subject")
	if d, err := subjectDecoder.DecodeHeader(subj); err == nil {
		subj = d
	}
	date := m.Header.Get("Date")
	if date == "" {
		date = m.Received.Format(time.RFC1123Z)
	}
	rcpts := m.Envelope.Addresses()
	for i, a := range rcpts {
		rcpts[i] = displayAddress(a)
	}
	return map[string]any{
		"Sender":     displayAddress(m.Envelope.Sender),
		"Recipients": rcpts,
		"Subject":    clipValue(subj),
		"Date":       clipValue(date),
		"MessageID":  clipValue(m.Header.Get("Message-Id")),
		"SpoolID":    m.SpoolID,
	}
}

// maxTemplateValue bounds each value a template takes from the header.
// Postfix passes a field of up to header_size_limit (100 KB): a
// stranger's Subject of 96 KB in "Original subject: {{.Subject}}" made
// the footer pass MaxFooterBytes, and the message went to the error
// repository, whose quota, once full, stops all mail.
const maxTemplateValue = 998

// clipValue cuts s to maxTemplateValue bytes at a character boundary,
// with "..." to show that it was cut.
func clipValue(s string) string {
	if len(s) <= maxTemplateValue {
		return s
	}
	cut := maxTemplateValue - len("...")
	for i := 0; i < utf8.UTFMax-1 && !utf8.RuneStart(s[cut]); i++ {
		cut--
	}
	return s[:cut] + "..."
}

// shownName quotes a name for an error, at most 64 bytes of it: a name
// of megabytes (a file pasted into the wrong field) was quoted whole in
// the answer and in the audit entry, which the log keeps 10,000 of.
func shownName(s string) string {
	const most = 64
	if len(s) <= most {
		return strconv.Quote(s)
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

var templateNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
var templateLineRE = regexp.MustCompile(`^template: [^:]*:(\d+):`)

// templateError turns a text/template error into a UserError with the
// template's line.
func templateError(name string, err error) error {
	line := 0
	if mm := templateLineRE.FindStringSubmatch(err.Error()); mm != nil {
		line, _ = strconv.Atoi(mm[1])
	}
	msg := fmt.Sprintf("Template %q: %s", name, err)
	if line > 0 {
		msg = fmt.Sprintf("Template %q line %d: %s", name, line, err)
	}
	return &store.UserError{Kind: store.ErrInvalid, Field: "templates." + name, Line: line, Msg: store.Sentence("%s", msg)}
}

// ValidatePipeline checks a pipeline configuration the way PutPipeline
// does: known processors, rules that parse and name existing templates,
// templates within the size limits that parse and run against a sample
// message (missingkey=error). Errors are *store.UserError (ErrInvalid).
func ValidatePipeline(p store.MPAPipeline) error {
	seen := map[string]bool{}
	for _, name := range p.Processors {
		if name != "trace" && name != "rules" {
			return store.Invalid("processors", "Unknown processor %s; the MPA has %s.", shownName(name), strings.Join(processorNames, ", "))
		}
		if seen[name] {
			return store.Invalid("processors", "The processor %q is listed twice.", name)
		}
		seen[name] = true
	}
	if len(p.Templates) > MaxTemplates {
		return store.Invalid("templates", "There are %d templates; the limit is %d.", len(p.Templates), MaxTemplates)
	}
	names := map[string]bool{}
	sample := sampleMessage()
	for _, t := range p.Templates {
		if !templateNameRE.MatchString(t.Name) {
			return store.Invalid("templates", "Template name %s must be 1 to 64 letters, digits, '.', '_' or '-'.", shownName(t.Name))
		}
		if names[t.Name] {
			return store.Invalid("templates", "Template name %q is used twice.", t.Name)
		}
		names[t.Name] = true
		if err := checkTemplate(t.Name, t.Text, sample); err != nil {
			return err
		}
	}
	rules, err := parseRules(p.Rules)
	if err != nil {
		return err
	}
	for _, r := range rules {
		if r.action == "footer" && !names[r.arg] {
			return store.InvalidLine("rules", r.line, "footer template %s does not exist.", shownName(r.arg))
		}
	}
	return nil
}

// checkTemplate parses and executes one template against a sample message.
func checkTemplate(name, text string, sample *Message) error {
	if len(text) > MaxTemplateBytes {
		return &store.UserError{Kind: store.ErrInvalid, Field: "templates." + name,
			Msg: fmt.Sprintf("Template %q is %d bytes; the limit is %d.", name, len(text), MaxTemplateBytes)}
	}
	tpl, err := parseTemplate(name, text)
	if err != nil {
		return templateError(name, err)
	}
	if _, err := execute(tpl, templateData(sample)); err != nil {
		return templateError(name, err)
	}
	return nil
}

// checkTemplatesForSave runs each template on a sparse message too: no
// Subject, Message-ID or Date, the null sender (a bounce), an empty
// body. A template that ran on the built-in sample but not on ordinary
// mail ({{slice .Subject 0 10}} on a shorter subject, {{index .Sender
// 0}} on a bounce) was saved, and every such message went to the error
// repository at delivery. It runs where a pipeline is saved
// (PutPipeline), not in ValidatePipeline: a pipeline stored before it
// keeps working as it did, and its backups restore.
func checkTemplatesForSave(p store.MPAPipeline) error {
	sparse := sparseSample()
	for _, t := range p.Templates {
		tpl, err := parseTemplate(t.Name, t.Text)
		if err != nil {
			return templateError(t.Name, err) // ValidatePipeline refused it first
		}
		if _, err := execute(tpl, templateData(sparse)); err != nil {
			ue := templateError(t.Name, err).(*store.UserError)
			where := fmt.Sprintf("Template %q", t.Name)
			if ue.Line > 0 {
				where = fmt.Sprintf("Template %q line %d", t.Name, ue.Line)
			}
			ue.Msg = store.Sentence("%s fails on a message without a Subject, Message-ID or Date, from the null sender as bounces are (%s); "+
				"such mail would go to the error repository. Guard what may be empty or short with if, for example "+
				"{{if ge (len .Subject) 10}}{{slice .Subject 0 10}}{{else}}{{.Subject}}{{end}}", where, err)
			return ue
		}
	}
	return nil
}

// sparseSample is a message with as little as mail can have.
func sparseSample() *Message {
	m := ParseMessage([]byte("From: <>\r\nTo: bob@example.org\r\n\r\n"))
	m.SpoolID = "0000000000000000sparse"
	m.Received = time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
	m.Envelope = store.MPAEnvelope{Recipients: []store.MPARecipient{{Address: "bob@example.org"}}}
	return m
}

// sampleMessage is what previews and validation render against.
func sampleMessage() *Message {
	m := ParseMessage([]byte("From: Alice <alice@example.com>\r\nTo: bob@example.org\r\n" +
		"Subject: Quarterly report\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
		"Message-ID: <sample@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Hello Bob,\r\n\r\nplease find the report below.\r\n"))
	m.SpoolID = "0000000000000000sample"
	m.Received = time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
	m.Envelope = store.MPAEnvelope{Sender: "alice@example.com", Recipients: []store.MPARecipient{{Address: "bob@example.org"}}}
	return m
}

// templateT is a compiled template.
type templateT = template.Template

// parseTemplate compiles a template the way every template runs: a missing
// key is an error, not "<no value>"; printf is bounded; and constructs
// whose work does not depend on the message are refused (checkTree).
func parseTemplate(name, text string) (*templateT, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(boundedFuncs).Parse(text)
	if err != nil {
		return nil, err
	}
	if err := checkTree(t); err != nil {
		return nil, err
	}
	addTicks(t.Tree.Root)
	return t, nil
}
