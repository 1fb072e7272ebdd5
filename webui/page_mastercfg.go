package webui

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// masterConfigPageData is the Data of views/mastercfg.html.
type masterConfigPageData struct {
	Text      string
	Version   string // what the form's save is based on
	Default   bool   // the text is postdeck's own table, not stored yet
	Managed   string // what postdeck adds (the MPA's services)
	Error     string // the validation error, next to the editor
	ErrorLine int    // its line, 0 when it has none
	// OpenRelay offers the "allow an open relay" checkbox, as the Edit
	// Main Config page does: the save was refused because a listener
	// would relay mail for strangers.
	OpenRelay bool
}

// pageMasterConfig is GET /mta/settings/mastercfg, the Edit Master Config
// page (MTA > Settings > Actions > Edit Master Config).
func (s *Server) pageMasterConfig(c *fiber.Ctx) error {
	doc, err := s.admin.MasterConfig(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return s.render(c, "mastercfg", "Edit Master Config", masterConfigPageData{Text: doc.Text, Version: doc.Version, Default: doc.Default, Managed: doc.Managed})
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
	data := masterConfigPageData{Text: text, Version: version}
	if doc, lerr := s.admin.MasterConfig(c.UserContext(), who(c)); lerr == nil {
		data.Managed = doc.Managed
	}
	flash, status, ferr := s.formError(err)
	if ferr != nil {
		return ferr
	}
	var fe *store.UserError
	if v, ok := staleVersion(err); ok {
		data.Version = v
	} else if errors.As(err, &fe) {
		data.Error, data.ErrorLine = fe.Msg, fe.Line
		data.OpenRelay = errors.Is(err, admin.ErrOpenRelay)
		flash = &Flash{Kind: "error", Message: "The master config was not saved: correct the error shown under the editor."}
		if fe.Line > 0 {
			flash.Message = "The master config was not saved: correct line " + strconv.Itoa(fe.Line) + "."
		}
	}
	return s.renderStatus(c, status, "mastercfg", "Edit Master Config", data, flash)
}
