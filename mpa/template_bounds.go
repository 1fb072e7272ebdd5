package mpa

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// Bounds of every template execution (footers in the MPA, previews): a
// template is administrator input, and a hostile or careless one must not
// exhaust the daemon or stall a worker.
const (
	// MaxFooterBytes is the most a template may write.
	MaxFooterBytes = 64 << 10
	// MaxTemplateTime is the longest a template may run.
	MaxTemplateTime = 100 * time.Millisecond
	// maxFormatWidth bounds printf widths and precisions ("%999999999d").
	maxFormatWidth = 1000
)

// errTemplateBound is a template execution stopped by a bound.
var errTemplateBound = errors.New("template exceeds its bounds")

// errTemplateSlow is errTemplateBound for the time bound alone: wall
// clock, so a busy moment of the machine, not the template, may be its
// cause, and the worker retries the message (maxSlowAttempts).
var errTemplateSlow = fmt.Errorf("%w", errTemplateBound)

// errTemplateBig is errTemplateBound for the output bound alone.
var errTemplateBig = fmt.Errorf("%w", errTemplateBound)

// boundedFuncs override the builtins that could allocate without bound in
// one call: printf with a huge width or precision.
var boundedFuncs = template.FuncMap{
	"printf": func(format string, args ...any) (string, error) {
		if err := checkFormat(format); err != nil {
			return "", err
		}
		return fmt.Sprintf(format, args...), nil
	},
}

// checkFormat refuses a printf format with a width or precision over
// maxFormatWidth, or taken from an argument (*).
func checkFormat(format string) error {
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("+-# 0", format[j]) >= 0 {
			j++
		}
		for j < len(format) {
			c := format[j]
			switch {
			case c == '*':
				return fmt.Errorf("printf: a width or precision from an argument (*) is not allowed: %w", errTemplateBound)
			case c >= '0' && c <= '9':
				k := j
				for j < len(format) && format[j] >= '0' && format[j] <= '9' {
					j++
				}
				if n, err := strconv.Atoi(format[k:j]); err != nil || n > maxFormatWidth {
					return fmt.Errorf("printf: a width or precision over %d: %w", maxFormatWidth, errTemplateBound)
				}
				continue
			case c == '.' || c == '[' || c == ']':
				j++
				continue
			}
			break
		}
		i = j
	}
	return nil
}

// checkTree refuses template constructs whose work does not depend on the
// message: a range over anything but a field or variable (range 1000000,
// range over a function's result), ranges inside ranges, and calls of other
// templates (recursion). Ranging over .Recipients is bounded by the
// recipient limit.
func checkTree(t *template.Template) error {
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		if tt.Name() != t.Name() {
			return fmt.Errorf("defining other templates (%q) is not supported: write one template", tt.Name())
		}
		if err := checkNode(tt.Tree, tt.Tree.Root, 0); err != nil {
			return err
		}
	}
	return nil
}

func checkNode(tr *parse.Tree, n parse.Node, ranges int) error {
	at := func(n parse.Node, format string, args ...any) error {
		loc, _ := tr.ErrorContext(n)
		return fmt.Errorf("template: %s: %s", loc, fmt.Sprintf(format, args...))
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkNode(tr, c, ranges); err != nil {
				return err
			}
		}
	case *parse.RangeNode:
		if ranges > 0 {
			return at(n, "a range inside a range is not supported")
		}
		if !rangesOverData(n.Pipe) {
			return at(n, "range works over a list of the message, such as .Recipients, not over a number or a function's result")
		}
		if err := checkNode(tr, n.List, ranges+1); err != nil {
			return err
		}
		return checkNode(tr, n.ElseList, ranges)
	case *parse.IfNode:
		if err := checkNode(tr, n.List, ranges); err != nil {
			return err
		}
		return checkNode(tr, n.ElseList, ranges)
	case *parse.WithNode:
		if err := checkNode(tr, n.List, ranges); err != nil {
			return err
		}
		return checkNode(tr, n.ElseList, ranges)
	case *parse.TemplateNode:
		return at(n, "calling template %q is not supported: write one template", n.Name)
	}
	return nil
}

// rangesOverData reports whether a range pipeline is one field or
// variable (".Recipients", "$r"), with no function call.
func rangesOverData(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode, *parse.VariableNode, *parse.ChainNode:
		return true
	}
	return false
}

// addTicks puts an empty text node before every node of every list of a
// parsed template (range bodies included). Executing one writes nothing
// but calls the boundedWriter, which checks the deadline: a template that
// works without writing (variables, conditions) inside a range over
// 1,000 recipients otherwise ran for seconds past MaxTemplateTime, until
// its first write.
func addTicks(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		nodes := make([]parse.Node, 0, 2*len(n.Nodes)+1)
		for _, c := range n.Nodes {
			addTicks(c)
			nodes = append(nodes, &parse.TextNode{NodeType: parse.NodeText, Pos: c.Position(), Text: []byte{}}, c)
		}
		n.Nodes = append(nodes, &parse.TextNode{NodeType: parse.NodeText, Pos: n.Position(), Text: []byte{}})
	case *parse.RangeNode:
		addTicks(n.List)
		addTicks(n.ElseList)
	case *parse.IfNode:
		addTicks(n.List)
		addTicks(n.ElseList)
	case *parse.WithNode:
		addTicks(n.List)
		addTicks(n.ElseList)
	}
}

// boundedWriter stops a template that writes too much or runs too long:
// text/template stops executing at the first write error.
type boundedWriter struct {
	b        strings.Builder
	deadline time.Time
}

func (w *boundedWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > MaxFooterBytes {
		return 0, fmt.Errorf("it writes more than %d bytes: %w", MaxFooterBytes, errTemplateBig)
	}
	if time.Now().After(w.deadline) {
		return 0, fmt.Errorf("it runs longer than %v: %w", MaxTemplateTime, errTemplateSlow)
	}
	return w.b.Write(p)
}

// execute runs a compiled template on data within the bounds.
func execute(tpl *templateT, data any) (string, error) {
	w := &boundedWriter{deadline: time.Now().Add(MaxTemplateTime)}
	if err := tpl.Execute(w, data); err != nil {
		return "", err
	}
	if time.Now().After(w.deadline) {
		return "", fmt.Errorf("it ran longer than %v: %w", MaxTemplateTime, errTemplateSlow)
	}
	return w.b.String(), nil
}
