package webui

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

// masterConfigPageData is the Data of views/mastercfg.html.
type masterConfigPageData struct {
	configEditor
	Default bool   // the text is postdeck's own table, not stored yet
	Managed string // what postdeck adds (the MPA's services)
}

// pageMasterConfig is GET /mta/settings/mastercfg, the Edit Master Config
// page (MTA > Settings > Actions > Edit Master Config).
func (s *Server) pageMasterConfig(c *fiber.Ctx) error {
	doc, err := s.admin.MasterConfig(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return s.render(c, "mastercfg", "Edit Master Config", masterConfigPageData{configEditor: configEditor{Text: doc.Text, Version: doc.Version}, Default: doc.Default, Managed: doc.Managed})
}

// pageMasterConfigPost saves the document: checked by postdeck and by
// Postfix (postconf -M, -F, -P), applied, and rolled back with Postfix's
// words when the reload fails. The typed text is kept on every error.
func (s *Server) pageMasterConfigPost(c *fiber.Ctx) error {
	text := strings.ReplaceAll(c.FormValue("text"), "\r\n", "\n")
	version := c.FormValue("version")
	allow := c.FormValue("allow_open_relay") != ""
	res, err := s.admin.SaveMasterConfig(c.UserContext(), who(c), admin.MasterConfigDoc{Text: text, Version: version, AllowOpenRelay: allow})
	s.forgetStatus()
	if err == nil {
		return s.flashAndRedirect(c, appliedFlash(res.Applied), "/mta/settings/mastercfg")
	}
	data := masterConfigPageData{configEditor: configEditor{Text: text, Version: version}}
	if doc, lerr := s.admin.MasterConfig(c.UserContext(), who(c)); lerr == nil {
		data.Managed = doc.Managed
	}
	flash, status, ferr := s.formError(err)
	if ferr != nil {
		return ferr
	}
	flash, _ = data.refused(err, "master config", flash)
	return s.renderStatus(c, status, "mastercfg", "Edit Master Config", data, flash)
}
