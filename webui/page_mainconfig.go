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
	configEditor
	// Confirm offers the box that confirms a risky document (the save was
	// refused for the risk alone).
	Confirm bool
}

// configEditor is what the Edit Main Config and Edit Master Config pages
// show in and around their editor.
type configEditor struct {
	Text      string
	Version   string // what the form's save is based on
	Error     string // the validation error, next to the editor
	ErrorLine int    // its line, 0 when it has none
	// OpenRelay offers the "allow an open relay" checkbox: the save was
	// refused because Postfix (main.cf, or a listener in master.cf) would
	// relay mail for strangers.
	OpenRelay bool
}

// refused takes a save's error that is not the form's (formError): a
// stale version becomes the version the next save is based on, a
// validation error is shown under the editor with a flash naming its
// line in doc ("main config"). It reports whether err was a validation
// error; flash is returned unchanged for any other error.
func (e *configEditor) refused(err error, doc string, flash *Flash) (*Flash, bool) {
	if v, ok := staleVersion(err); ok {
		e.Version = v
		return flash, false
	}
	var fe *store.UserError
	if !errors.As(err, &fe) {
		return flash, false
	}
	e.Error, e.ErrorLine = fe.Msg, fe.Line
	e.OpenRelay = errors.Is(err, admin.ErrOpenRelay)
	if fe.Line > 0 {
		return &Flash{Kind: "error", Message: "The " + doc + " was not saved: correct line " + strconv.Itoa(fe.Line) + "."}, true
	}
	return &Flash{Kind: "error", Message: "The " + doc + " was not saved: correct the error shown under the editor."}, true
}

// pageMainConfig is GET /mta/settings/mainconfig, the Edit Main Config
// page (MTA > Settings > Actions > Edit Main Config).
func (s *Server) pageMainConfig(c *fiber.Ctx) error {
	doc, err := s.admin.MainConfig(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return s.render(c, "mainconfig", "Edit Main Config", mainConfigPageData{configEditor: configEditor{Text: doc.Text, Version: doc.Version}})
}

// pageMainConfigPost saves the document: validated by postdeck and by
// Postfix, applied, and rolled back with Postfix's words when the reload
// fails. The typed text is kept on every error.
func (s *Server) pageMainConfigPost(c *fiber.Ctx) error {
	text := strings.ReplaceAll(c.FormValue("text"), "\r\n", "\n")
	version := c.FormValue("version")
	allow := c.FormValue("allow_open_relay") != ""
	confirm := c.FormValue("confirm") != ""
	res, err := s.admin.SaveMainConfig(c.UserContext(), who(c), admin.MainConfigDoc{Text: text, Version: version, AllowOpenRelay: allow, Confirm: confirm})
	s.forgetStatus()
	if err == nil {
		return s.flashAndRedirect(c, appliedFlash(res.Applied), "/mta/settings/mainconfig")
	}
	data := mainConfigPageData{configEditor: configEditor{Text: text, Version: version}}
	flash, status, ferr := s.formError(err)
	if ferr != nil {
		return ferr
	}
	flash, invalid := data.refused(err, "main config", flash)
	if invalid && errors.Is(err, store.ErrConfirm) {
		data.Confirm = true
		flash = &Flash{Kind: "warning", Message: "The main config was not saved yet: the change shown under the editor is risky. Confirm it below the editor to apply it."}
	}
	return s.renderStatus(c, status, "mainconfig", "Edit Main Config", data, flash)
}
