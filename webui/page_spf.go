package webui

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// spfPageData is the Data of views/spf.html.
type spfPageData struct {
	Sources []admin.SPFSourceStatus
	Form    admin.SPFSourceInput
	Errors  map[string]string
}

// pageSPF is GET /mta/spf: the SPF-derived cidr maps with their schedule,
// last run and success, prefix count, last error and recent changes.
func (s *Server) pageSPF(c *fiber.Ctx) error {
	return s.renderSPF(c, fiber.StatusOK, admin.SPFSourceInput{}, nil, nil)
}

func (s *Server) renderSPF(c *fiber.Ctx, status int, form admin.SPFSourceInput, errs map[string]string, flash *Flash) error {
	sources, err := s.admin.SPFSources(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	if errs == nil {
		errs = map[string]string{}
	}
	return s.renderStatus(c, status, "spf", "SPF sources", spfPageData{Sources: sources, Form: form, Errors: errs}, flash)
}

// pageSPFRefresh is POST /mta/spf/:name/refresh: Refresh now.
func (s *Server) pageSPFRefresh(c *fiber.Ctx) error {
	res, err := s.admin.RefreshSPF(c.UserContext(), who(c), param(c, "name"))
	if err != nil {
		return err
	}
	f := &Flash{Kind: "success", Message: "Refreshed " + res.Map + ": " + res.Outcome + "."}
	switch res.Outcome {
	case "failed":
		f = &Flash{Kind: "error", Message: "The refresh of " + res.Map + " failed; the last good map stays live.", Details: []string{res.Error}}
		if res.Kept == "empty" {
			f.Message = "The refresh of " + res.Map + " failed; no refresh has filled its map yet, so it stays empty."
		}
	case "updated":
		f.Details = []string{fmtPrefixChange(len(res.Added), len(res.Removed), res.PrefixCount)}
	}
	f.Details = append(f.Details, res.Warnings...)
	return s.flashAndRedirect(c, f, "/mta/spf")
}

// pageSPFAdd is POST /mta/spf: add a source (domain, map, schedule, value).
func (s *Server) pageSPFAdd(c *fiber.Ctx) error {
	in := admin.SPFSourceInput{Domain: c.FormValue("domain"), Map: c.FormValue("map"), Schedule: c.FormValue("schedule"), Value: c.FormValue("value")}
	added, err := s.admin.AddSPFSource(c.UserContext(), who(c), in)
	if err != nil {
		f, code, ferr := s.formError(err)
		if ferr != nil {
			return ferr
		}
		errs := map[string]string{}
		if fe, ok := asFieldError(err); ok {
			errs[fe.Field] = fe.Msg
		}
		return s.renderSPF(c, code, in, errs, f)
	}
	st, res := added.Source, added.Refresh
	f := &Flash{Kind: "success", Message: "Added the source " + st.Domain + " for map " + st.Map + "; first refresh: " + res.Outcome + "."}
	if res.Error != "" {
		f.Kind = "warning"
		f.Details = []string{res.Error}
	}
	return s.flashAndRedirect(c, f, "/mta/spf")
}

// pageSPFRemove is POST /mta/spf/:name/delete: remove an added source; its
// map is handed to the administrators with its last content.
func (s *Server) pageSPFRemove(c *fiber.Ctx) error {
	name := param(c, "name")
	if err := s.admin.RemoveSPFSource(c.UserContext(), who(c), name); err != nil {
		f, _, ferr := s.formError(err)
		if ferr != nil {
			return ferr
		}
		return s.flashAndRedirect(c, f, "/mta/spf")
	}
	return s.flashAndRedirect(c, &Flash{Kind: "success", Message: "Removed the source of map " + name + "; the map stays, now edited by administrators."}, "/mta/spf")
}

func asFieldError(err error) (*store.UserError, bool) {
	var fe *store.UserError
	if errors.As(err, &fe) {
		return fe, true
	}
	return nil, false
}

func fmtPrefixChange(added, removed, total int) string {
	return fmt.Sprintf("+%d / -%d prefixes, %d in all.", added, removed, total)
}
