package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

// postfixActionWords are the flash sentences of the dashboard's buttons.
var postfixActionWords = map[string]string{
	"start":   "Postfix started.",
	"stop":    "Postfix stopped: no mail is received or delivered until you start it again.",
	"restart": "Postfix restarted.",
}

// pagePostfixControl is POST /postfix/{start,stop,restart}, the dashboard's
// buttons: act, then back to the dashboard with what happened.
func (s *Server) pagePostfixControl(c *fiber.Ctx) error {
	action := param(c, "action")
	err := s.admin.ControlPostfix(c.UserContext(), who(c), action)
	s.forgetStatus()
	if err != nil {
		flash, _, ferr := s.formError(err)
		if ferr != nil {
			return ferr
		}
		return s.flashAndRedirect(c, flash, "/")
	}
	return s.flashAndRedirect(c, &Flash{Kind: "success", Message: postfixActionWords[action]}, "/")
}

// postfixLogPageData is the Data of views/postfix_log.html.
type postfixLogPageData struct {
	Lines []admin.LogLine
	Error string
}

// pagePostfixLog is GET /mta/log: Postfix's recent warnings, errors, fatal
// errors and panics, newest first.
func (s *Server) pagePostfixLog(c *fiber.Ctx) error {
	lines, err := s.admin.PostfixLog(c.UserContext(), who(c), 200)
	d := postfixLogPageData{}
	if err != nil {
		code, body := errorStatus(err)
		if code != fiber.StatusServiceUnavailable {
			return err
		}
		d.Error = body.Error // the log is elsewhere (syslog): say where
	}
	for i := len(lines) - 1; i >= 0; i-- {
		d.Lines = append(d.Lines, lines[i])
	}
	return s.render(c, "postfix_log", "Postfix log", d)
}
