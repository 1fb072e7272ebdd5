package webui

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// mainConfigPageData is the Data of views/mainconfig.html.
type mainConfigPageData struct {
	Text      string
	Version   string // what the form's save is based on
	Error     string // the validation error, next to the editor
	ErrorLine int    // its line, 0 when it has none
	// OpenRelay offers the "allow an open relay" checkbox: the save was
	// refused because Postfix would relay mail for strangers.
	OpenRelay bool
}

// pageMainConfig is GET /mta/settings/mainconfig, the Edit Main Config
// page (MTA > Settings > Actions > Edit Main Config).
func (s *Server) pageMainConfig(c *fiber.Ctx) error {
	doc, err := s.admin.MainConfig(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return s.render(c, "mainconfig", "Edit Main Config", mainConfigPageData{Text: doc.Text, Version: doc.Version})
}

// pageMainConfigPost saves the document: validated by postdeck and by
// Postfix, applied, and rolled back with Postfix's words when the reload
// fails. The typed text is kept on every error.
func (s *Server) pageMainConfigPost(c *fiber.Ctx) error {
	text := strings.ReplaceAll(c.FormValue("text"), "\r\n", "\n")
	version := c.FormValue("version")
	allow := c.FormValue("allow_open_relay") != ""
	res, err := s.admin.SaveMainConfig(c.UserContext(), who(c), admin.MainConfigDoc{Text: text, Version: version, AllowOpenRelay: allow})
	s.forgetStatus()
	if err == nil {
		return s.flashAndRedirect(c, appliedFlash(res.Applied), "/mta/settings/mainconfig")
	}
	data := mainConfigPageData{Text: text, Version: version}
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
		flash = &Flash{Kind: "error", Message: "The main config was not saved: correct the error shown under the editor."}
		if fe.Line > 0 {
			flash.Message = "The main config was not saved: correct line " + strconv.Itoa(fe.Line) + "."
		}
	}
	return s.renderStatus(c, status, "mainconfig", "Edit Main Config", data, flash)
}
