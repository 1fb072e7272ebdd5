package mta

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"postdeck/store"
)

// Header and body checks that match every message.
//
// A REJECT or DISCARD rule of header_checks or body_checks that matches
// every message rejects or throws away all mail, and passes every other
// check: the table is valid, Postfix loads it, smtpd serves. The usual
// cause is a pattern pasted or typed wrong: an empty alternative
// (/^Subject:.*spam|/ matches every line, measured with postmap -q), a
// pattern of one header name (/^Subject:/), or .* where a word was meant.
// The check asks Postfix itself: the staged table, with each rule's
// result replaced by its line number, is looked up (postmap -q -) with
// the header lines and body lines of three ordinary messages that differ
// in every value; a REJECT or DISCARD rule that decides in all three is
// refused on its line. HOLD, REDIRECT, FILTER and BCC are left alone
// (a test gateway may send all mail to one mailbox on purpose).

// contentCheckParams are cleanup's header and body checks (main.cf).
var contentCheckParams = []string{"header_checks", "mime_header_checks", "nested_header_checks", "body_checks"}

// ordinaryMessages are the test messages: header lines, unfolded, and
// body lines. Senders, recipients, subjects, dates, ids, agents and
// content types all differ.
var ordinaryMessages = [3]struct{ headers, body []string }{
	{[]string{
		"Received: from mail.example.org (mail.example.org [192.0.2.10]) by mx.example.com (Postfix) with ESMTPS id 4QxYz1 for <bob@example.com>; Mon, 7 Dec 2026 09:15:02 +0000 (UTC)",
		"From: Alice Smith <alice@example.org>",
		"To: Bob Jones <bob@example.com>",
		"Subject: Meeting on Monday",
		"Date: Mon, 7 Dec 2026 10:15:00 +0100",
		"Message-ID: <20261207091500.4711@mail.example.org>",
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Transfer-Encoding: 8bit",
	}, []string{"Hi Bob,", "shall we meet on Monday at ten?", "Alice"}},
	{[]string{
		"Received: from out-12.smtp.example.net (out-12.smtp.example.net [198.51.100.7]) by mx.example.com (Postfix) with ESMTPS id 7ABcd9 for <sales@example.com>; Tue, 8 Dec 2026 14:02:41 +0000 (UTC)",
		"DKIM-Signature: v=1; a=rsa-sha256; d=example.net; s=s1; h=from:to:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdA==",
		"From: \"Orders\" <orders@shop.example.net>",
		"To: sales@example.com",
		"Cc: Carol <carol@example.com>",
		"Subject: =?UTF-8?Q?Invoice_2026-114_f=C3=BCr_Bestellung?=",
		"Date: Tue, 8 Dec 2026 15:02:39 +0100",
		"Message-ID: <CAF=k2+9xQ@shop.example.net>",
		"MIME-Version: 1.0",
		"Content-Type: multipart/mixed; boundary=\"b1_5a2\"",
	}, []string{"--b1_5a2", "Content-Type: text/html; charset=iso-8859-1", "<p>Please find your invoice attached.</p>", "--b1_5a2--"}},
	{[]string{
		"Return-Path: <>",
		"Received: by relay.internal.example.com (Postfix, from userid 0) id 12F0A; Wed, 9 Dec 2026 03:00:00 +0000 (UTC)",
		"From: MAILER-DAEMON@relay.internal.example.com (Mail Delivery System)",
		"To: root@relay.internal.example.com",
		"Subject: Undelivered Mail Returned to Sender",
		"Auto-Submitted: auto-replied",
		"Date: Wed, 9 Dec 2026 04:00:00 +0100",
		"Message-Id: <12F0A.1765249200@relay.internal.example.com>",
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"12F0A.1765249200/relay\"",
	}, []string{"This is the mail system at host relay.internal.example.com.", "I'm sorry to have to inform you that your message could not", "be delivered to one or more recipients."}},
}

// maxEveryMatchTables bounds the tables looked up in one apply.
const maxEveryMatchTables = 8

// everyMatch is a rule that decides for every ordinary message.
type everyMatch struct {
	param, table string // the parameter that names the table, its path
	line         int
	rule         string   // the rule as written: pattern and result
	action       string   // REJECT or DISCARD
	matched      []string // what it matched, one line of each message
}

// everyMatchRules finds, for each pcre or regexp table that main's content
// checks name (expanded values; at most maxEveryMatchTables), the REJECT
// and DISCARD rules that decide for all of ordinaryMessages. read reads a
// table's source by path; lookup runs postmap -q - on a table file of
// that type with the keys, one per line, and returns its output.
func everyMatchRules(ctx context.Context, main map[string]string, read func(path string) ([]byte, bool), lookup func(ctx context.Context, typ, path, keys string) (string, error)) ([]everyMatch, error) {
	var out []everyMatch
	seen := map[string]bool{}
	for _, param := range contentCheckParams {
		for _, tok := range refTokens(main[param]) {
			typ, path, ok := strings.Cut(tok, ":")
			if !ok || (typ != "pcre" && typ != "regexp") || !strings.HasPrefix(path, "/") || seen[param+" "+path] || len(seen) >= maxEveryMatchTables {
				continue
			}
			seen[param+" "+path] = true
			data, ok := read(path)
			if !ok {
				continue
			}
			found, err := everyMatchIn(ctx, typ, string(data), strings.HasPrefix(param, "body"), lookup)
			if err != nil {
				return nil, err
			}
			for _, f := range found {
				f.param, f.table = param, path
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// everyMatchIn is everyMatchRules for one table's content: its rules'
// results are replaced by their line numbers, and the copy is looked up
// with the messages' header lines (body lines for body).
func everyMatchIn(ctx context.Context, typ, content string, body bool, lookup func(ctx context.Context, typ, path, keys string) (string, error)) ([]everyMatch, error) {
	entries, lerr := parseTable(typ, content, true)
	if lerr != nil {
		return nil, nil // the table's own checks say
	}
	// Every rule stays (an earlier DUNNO decides before a later REJECT),
	// with its line number as its result.
	all, byLine := map[int]mapEntry{}, map[int]mapEntry{}
	for _, e := range entries {
		all[e.line] = e
		action, _ := splitRule(e.value)
		if a := strings.ToUpper(action); a == "REJECT" || a == "DISCARD" {
			byLine[e.line] = e
		}
	}
	if len(byLine) == 0 {
		return nil, nil
	}
	var numbered strings.Builder
	_ = logicalLines(content, nil, func(n int, text string) *lineError {
		if e, ok := all[n]; ok {
			fmt.Fprintf(&numbered, "%s %d\n", e.key, n)
		} else if kw, _ := keyword(text); kw != "" {
			numbered.WriteString(text + "\n")
		}
		return nil
	})
	f, err := os.CreateTemp("", "postdeck-everymatch-*."+typ)
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(numbered.String()); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	type key struct {
		text string
		msg  int
	}
	var keys []key
	var input strings.Builder
	for i, msg := range ordinaryMessages {
		lines := msg.headers
		if body {
			lines = msg.body
		}
		for _, l := range lines {
			keys = append(keys, key{l, i})
			input.WriteString(l + "\n")
		}
	}
	said, err := lookup(ctx, typ, f.Name(), input.String())
	if err != nil {
		return nil, err
	}
	// postmap -q - prints "key<TAB>result" for each key that matched, in
	// the order of the keys: each answer belongs to the next key that
	// has its text.
	matched := map[int][]string{} // line -> the first key it matched, per message
	hits := map[int]map[int]bool{}
	next := 0
	for _, l := range strings.Split(said, "\n") {
		text, result, ok := strings.Cut(l, "\t")
		if !ok {
			continue
		}
		for next < len(keys) && keys[next].text != text {
			next++
		}
		if next == len(keys) {
			break
		}
		k := keys[next]
		next++
		n, err := strconv.Atoi(strings.TrimSpace(result))
		if err != nil || byLine[n].line == 0 {
			continue
		}
		if hits[n] == nil {
			hits[n] = map[int]bool{}
		}
		if !hits[n][k.msg] {
			hits[n][k.msg] = true
			matched[n] = append(matched[n], k.text)
		}
	}
	var out []everyMatch
	for _, e := range entries {
		if len(hits[e.line]) == len(ordinaryMessages) {
			action, _ := splitRule(e.value)
			out = append(out, everyMatch{line: e.line, rule: e.key + " " + e.value, action: strings.ToUpper(action), matched: matched[e.line]})
		}
	}
	return out, nil
}

// checkEveryMatch refuses a staged configuration whose header or body
// checks have an everyMatchRules rule that the running configuration
// does not have: on the map's line when only maps change, else on the
// line of the parameter that names the table.
func (m *Manager) checkEveryMatch(ctx context.Context, p plan, staging string, sc stagedConfig, params []Param) error {
	named := false
	for _, param := range contentCheckParams {
		named = named || strings.TrimSpace(sc.main[param]) != ""
	}
	if !named || len(p.changed) == 0 {
		return nil
	}
	lookup := func(ctx context.Context, typ, path, keys string) (string, error) {
		out, _, err := m.pfStaging(staging).Run(ctx, strings.NewReader(keys), "postmap", "-q", "-", typ+":"+path)
		if err != nil && len(out) == 0 {
			return "", nil // no key matched (exit 1), or postmap failed: the table's own checks say
		}
		return string(out), nil
	}
	found, err := everyMatchRules(ctx, sc.main, m.stagedTable(p, staging), lookup)
	if err != nil {
		// No room for the numbered copy: the check cannot tell, and an
		// apply does not fail for it.
		m.log.Warn("the check of header and body checks that match every message could not run", "err", err)
		return nil
	}
	if len(found) == 0 {
		return nil
	}
	live := map[string]bool{}
	if lv, ok := m.liveExpanded(ctx); ok {
		lfound, _ := everyMatchRules(ctx, lv, readBounded, lookup)
		for _, f := range lfound {
			live[f.param+" "+f.rule] = true
		}
	}
	for _, f := range found {
		if live[f.param+" "+f.rule] {
			continue
		}
		what := "reject"
		if f.action == "DISCARD" {
			what = "throw away"
		}
		quoted := make([]string, len(f.matched))
		for i, k := range f.matched {
			quoted[i] = strconv.Quote(truncate(k, 80))
		}
		msg := fmt.Sprintf("%s matches every message: in three ordinary test messages it matched %s, so Postfix's cleanup would %s all mail (%s). An empty alternative (a | at either end of a group or the pattern, or ||) matches every line; so does a pattern of a header name alone", truncate(f.rule, 120), strings.Join(quoted, ", "), what, f.param)
		rel, inStaging := strings.CutPrefix(f.table, staging+"/")
		if !slices.Contains(p.changed, "main.cf") && inStaging && slices.Contains(p.changed, rel) {
			if base := strings.TrimPrefix(rel, "maps.d/"); managedMapFile(base) {
				return store.InvalidLine(FieldMapContent, f.line, "map %s: %s", tableName(base), msg)
			}
		}
		if !slices.Contains(p.changed, "main.cf") {
			return store.Invalid(FieldMapContent, "after this change %s", msg)
		}
		table := f.table
		if inStaging {
			table = rel
		}
		return refError(params, f.param, fmt.Sprintf("Parameter %s: the table %s, line %d: %s", f.param, table, f.line, msg))
	}
	return nil
}
