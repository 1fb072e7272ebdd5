package webui

import (
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/bytebufferpool"

	"postdeck/admin"
	"postdeck/assets"
	"postdeck/store"
)

// Flash is a one-time message at the top of a page: the result of the
// action the user just took.
type Flash struct {
	Kind    string   // "success", "error", "warning" or "info"
	Message string   // one sentence
	Details []string // optional list under it (warnings, Postfix's words)
	// Diff shows a stale save's conflict: how the typed document differs
	// from the one saved meanwhile.
	Diff string
}

// Page is the dot of every view. Handlers fill Data; render fills the rest.
type Page struct {
	Title string        // <title> and the page heading
	User  Identity      // the caller; empty on the login page
	CSRF  string        // the session's token; forms include {{template "csrf" .}}
	Flash *Flash        // from the previous request (Post/Redirect/Get) or this one
	Nav   template.HTML // the menu for the user's role, current entry marked
	Path  string        // the request path
	Data  any           // the handler's own values
	// Banners are the conditions every page shows (Postfix stopped, a
	// change Postfix refused, an SPF source failing).
	Banners []admin.Banner
	// KeepaliveMS is, for a console session's page, how often at most
	// the console's script renews the session while its user types
	// (keepaliveEvery), in milliseconds; 0 elsewhere.
	KeepaliveMS int64
}

// Can reports whether the caller's role reaches level "read", "operate" or
// "admin": views show or hide buttons with it ({{if .Can "admin"}}). The
// server enforces the same rule on every route; hiding is a courtesy.
func (p Page) Can(level string) bool {
	switch level {
	case "read":
		return permRead.Allows(p.User.Role)
	case "operate":
		return permOperate.Allows(p.User.Role)
	case "admin":
		return permAdmin.Allows(p.User.Role)
	}
	return false
}

// views are the parsed templates: one set per page, each the layout plus
// that page's file, parsed once at start.
type views struct {
	pages map[string]*template.Template
	nav   *template.Template

	// navCache holds the rendered menu per role and current entry: the
	// same few dozen strings for every request.
	navCache sync.Map // role + " " + current path -> template.HTML
}

func loadViews(static *staticFiles) *views {
	funcs := template.FuncMap{
		"bytes":      admin.SizeText,
		"when":       formatTime,
		"ago":        ago,
		"duration":   humanDuration,
		"quotaNear":  quotaNear,
		"add":        func(a, b int) int { return a + b },
		"sub":        func(a, b int) int { return max(a-b, 0) },
		"inc":        func(a int) int { return a + 1 },
		"min":        func(a, b int) int { return min(a, b) },
		"lastPage":   func(total, per int) int { return max((total-1)/max(per, 1)*per, 0) },
		"badge":      resultBadge,
		"diffClass":  diffLineClass,
		"lines":      func(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") },
		"join":       strings.Join,
		"upperFirst": upperFirst,
		"role":       roleLabel,
		// readable is for every text that comes from mail (addresses,
		// reasons, headers, bodies, Postfix's log): a sender's
		// bidirectional controls would make it read as something else.
		"readable": admin.Readable,
	}
	base := template.Must(template.New("layout.html").Funcs(funcs).Parse(viewSource(static, "views/layout.html")))
	names, err := fs.Glob(assets.Views, "views/*.html")
	if err != nil {
		panic(err)
	}
	v := &views{pages: map[string]*template.Template{}, nav: base.Lookup("nav")}
	if v.nav == nil {
		panic("views/layout.html defines no \"nav\" template")
	}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		t := template.Must(template.Must(base.Clone()).New(path.Base(n)).Parse(viewSource(static, n)))
		v.pages[name] = t
	}
	return v
}

// assetRef is how a view names a static file: {{asset "app.css"}}.
var assetRef = regexp.MustCompile(`\{\{asset "([^"]+)"\}\}`)

// viewSource reads a view and writes its static files' content-hash URLs
// into the text, once at start: the names are constants, and a template
// function would cost a reflective call on every page view. An unknown
// name is a bug in a view and stops the start.
func viewSource(static *staticFiles, name string) string {
	raw, err := fs.ReadFile(assets.Views, name)
	if err != nil {
		panic(err) // embedded at build time
	}
	return assetRef.ReplaceAllStringFunc(string(raw), func(ref string) string {
		u, err := static.url(assetRef.FindStringSubmatch(ref)[1])
		if err != nil {
			panic(name + ": " + err.Error())
		}
		return template.HTMLEscapeString(u)
	})
}

// render shows views/<view>.html inside the layout with status 200. It is
// the one call a console page handler needs:
//
//	return s.render(c, "maps", "Maps", mapsData{...})
//
// The view defines {{define "content"}} and reads its values from .Data;
// the layout adds the menu, the user, the flash message and the CSRF token.
func (s *Server) render(c *fiber.Ctx, view, title string, data any) error {
	return s.renderPage(c, fiber.StatusOK, view, title, func() any { return data }, nil, nil)
}

// renderKeyed is render for a page whose data is wholly told by key (a
// version of what it shows, or the shown values themselves): the
// rendered page is kept (pageCache) and served again, with the caller's
// CSRF token, while the key, the caller, the path and the banners stay
// the same. A key that misses something the view shows would serve a
// stale page: put every shown value, or its version, in it. The key goes
// back to its pool. data is called for a page that is not kept: a page
// served from the cache does not box its data into an interface (for the
// dashboard that was 450 bytes a view, and every collection marks the
// queue index).
func (s *Server) renderKeyed(c *fiber.Ctx, view, title string, key *pageKey, data func() any) error {
	defer key.release()
	return s.renderPage(c, fiber.StatusOK, view, title, data, nil, key)
}

// renderStatus is render with a status code and a flash message shown on
// this very page (for a form shown again with its errors). A flash stored
// by the previous request is shown when flash is nil.
func (s *Server) renderStatus(c *fiber.Ctx, status int, view, title string, data any, flash *Flash) error {
	return s.renderPage(c, status, view, title, func() any { return data }, flash, nil)
}

// renderingHook, when set (by tests only), runs when a request starts
// rendering a page that the page cache is to keep.
var renderingHook func()

func (s *Server) renderPage(c *fiber.Ctx, status int, view, title string, data func() any, flash *Flash, key *pageKey) error {
	t, ok := s.ui.views.pages[view]
	if !ok {
		return fmt.Errorf("render: no view %q", view)
	}
	p := Page{Title: title, Path: c.Path(), Flash: flash}
	var bannersGen uint64
	// The menu follows from the role and the path (both in a cached page's
	// key): it is looked up only for a rendering.
	menu := false
	if id, ok := identity(c); ok && id.MustChangePassword {
		p.User = id // no menu: nothing but the password page is open yet
	} else if ok {
		p.User = id
		menu = true
		p.Banners, bannersGen = s.ui.banners.get(c.UserContext(), s.admin.Banners)
	}
	se := currentSession(c)
	if se != nil {
		p.KeepaliveMS = keepaliveEvery(s.ui.sessions.idle).Milliseconds()
		p.CSRF = se.csrf
		if stored := s.ui.sessions.takeFlash(se); p.Flash == nil {
			p.Flash = stored
		}
	}
	// Only a session's page without a flash message is kept: the rest of
	// the page is the key's.
	var full *pageKey
	if key != nil && se != nil && se.csrf != "" && p.Flash == nil && status == fiber.StatusOK {
		full = newPageKey()
		defer full.release()
		full.str(view).str(title).str(p.Path).str(p.User.Name).str(p.User.Role).flag(p.User.MustChangePassword).num(int64(bannersGen)).key(key)
		page, ok, wait, mine := s.ui.pages.lookup(full)
		if wait != nil {
			timer := time.NewTimer(fillWait)
			select {
			case <-wait:
			case <-timer.C:
			case <-c.UserContext().Done():
			}
			timer.Stop()
			page, ok = s.ui.pages.get(full)
		}
		if ok {
			return s.sendCached(c, status, page, se.csrf)
		}
		defer s.ui.pages.done(full, mine) // before full's release: deferred later
		if renderingHook != nil {
			renderingHook()
		}
		p.CSRF = string(s.ui.pages.placeholder)
	}
	if menu {
		nav, err := s.ui.views.menu(p.User.Role, p.Path)
		if err != nil {
			return err
		}
		p.Nav = nav
	}
	buf := bytebufferpool.Get()
	defer bytebufferpool.Put(buf)
	p.Data = data()
	if err := t.ExecuteTemplate(buf, "layout.html", p); err != nil {
		return fmt.Errorf("render %s: %w", view, err)
	}
	if full != nil {
		return s.sendCached(c, status, s.ui.pages.put(full, buf.Bytes()), se.csrf)
	}
	return s.sendPage(c, status, buf.Bytes())
}

// sendCached answers with a cached page and the session's CSRF token.
func (s *Server) sendCached(c *fiber.Ctx, status int, page cachedPage, csrf string) error {
	buf := bytebufferpool.Get()
	defer bytebufferpool.Put(buf)
	s.ui.pages.fill(buf, page, csrf)
	return s.sendPage(c, status, buf.Bytes())
}

// sendPage answers with a rendered page.
func (s *Server) sendPage(c *fiber.Ctx, status int, page []byte) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	// SetBody copies: fiber's Send keeps the slice (SetBodyRaw), and the
	// page is a pooled buffer that goes back before fasthttp writes it.
	c.Status(status).Response().SetBody(page)
	return nil
}

// menu renders the navigation of a role with the entry of path marked,
// once per role and entry.
func (v *views) menu(role, path string) (template.HTML, error) {
	key := role + " " + currentNavPath(path)
	if h, ok := v.navCache.Load(key); ok {
		return h.(template.HTML), nil
	}
	var b strings.Builder
	if err := v.nav.Execute(&b, navFor(role, path)); err != nil {
		return "", fmt.Errorf("render menu: %w", err)
	}
	h := template.HTML(b.String()) // produced by html/template: escaped
	v.navCache.Store(key, h)
	return h, nil
}

// flashAndRedirect stores f for the next page and redirects there (303),
// the end of a successful form post. Without a session (trusted socket) it
// cannot carry the message; the redirect still shows the saved state.
func (s *Server) flashAndRedirect(c *fiber.Ctx, f *Flash, to string) error {
	if se := currentSession(c); se != nil {
		s.ui.sessions.setFlash(se, f)
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func ago(t time.Time) string {
	switch unit, n := agoOf(t); unit {
	case agoNever:
		return ""
	case agoJustNow:
		return "just now"
	case agoMinutes:
		return fmt.Sprintf("%d min ago", n)
	case agoHours:
		return fmt.Sprintf("%d h ago", n)
	default:
		return fmt.Sprintf("%d days ago", n)
	}
}

// The units of ago's texts.
const (
	agoNever = iota
	agoJustNow
	agoMinutes
	agoHours
	agoDays
)

// agoOf is what ago(t) says, as its unit and number: a page key takes
// these (pageKey.ago) instead of the text, which would be formatted anew
// at every view.
func agoOf(t time.Time) (unit int, n int64) {
	if t.IsZero() {
		return agoNever, 0
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return agoJustNow, 0
	case d < time.Hour:
		return agoMinutes, int64(d.Minutes())
	case d < 48*time.Hour:
		return agoHours, int64(d.Hours())
	}
	return agoDays, int64(d.Hours() / 24)
}

// quotaNear reports whether the MPA's error repository passed 80% of
// either of its quotas.
func quotaNear(c *admin.MPACounts) bool {
	return c.ErrorQuotaEntries > 0 && c.Errors*5 >= c.ErrorQuotaEntries*4 ||
		c.ErrorQuotaBytes > 0 && c.ErrorBytes*5 >= c.ErrorQuotaBytes*4
}

// humanDuration writes how long something has waited: "42 s", "17 min",
// "5 h 3 min", "3 days 4 h".
func humanDuration(d time.Duration) string {
	switch unit, n := durationOf(d); unit {
	case durSeconds:
		return fmt.Sprintf("%d s", n)
	case durMinutes:
		return fmt.Sprintf("%d min", n)
	case durHours:
		return fmt.Sprintf("%d h %d min", n/60, n%60)
	default:
		return fmt.Sprintf("%d days %d h", n/24, n%24)
	}
}

// The units of humanDuration's texts.
const (
	durSeconds = iota
	durMinutes
	durHours // and minutes
	durDays  // and hours
)

// durationOf is what humanDuration(d) says, as its unit and a number in
// the unit's smallest part (whole minutes for hours and minutes, whole
// hours for days and hours): equal for two durations exactly when their
// texts are (pageKey.duration).
func durationOf(d time.Duration) (unit int, n int64) {
	switch {
	case d < time.Minute:
		return durSeconds, int64(d.Seconds())
	case d < time.Hour:
		return durMinutes, int64(d.Minutes())
	case d < 48*time.Hour:
		return durHours, int64(d.Minutes())
	}
	return durDays, int64(d.Hours())
}

// resultBadge is the CSS class of an apply or audit result.
func resultBadge(result string) string {
	switch result {
	case "applied", "unchanged", "saved", "created", "running", "logged in":
		return "badge ok"
	case "refused", "unavailable", "unknown", "throttled", "login failed", "revoked", "warning":
		return "badge warn"
	case "rolled back", "failed", "stopped", "error", "fatal", "panic":
		return "badge bad"
	}
	return "badge"
}

func diffLineClass(line string) string {
	switch {
	case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
		return "diff-file"
	case strings.HasPrefix(line, "+"):
		return "diff-add"
	case strings.HasPrefix(line, "-"):
		return "diff-del"
	case strings.HasPrefix(line, "@@"):
		return "diff-hunk"
	}
	return ""
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// roleLabel is how a role is shown next to the user name.
func roleLabel(role string) string {
	switch role {
	case store.RoleAdmin:
		return "Administrator"
	case store.RoleOperator:
		return "Operator"
	case store.RoleAuditor:
		return "Auditor"
	}
	return role
}
