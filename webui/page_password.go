package webui

import (
	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
)

// passwordPath is the page where every console user sets their own
// password, and where a user who logged in with a one-time password is
// sent before anything else.
const passwordPath = "/account/password"

// passwordPageData is the Data of views/password.html.
type passwordPageData struct {
	Next       string
	MustChange bool
	// Session is false for callers without a password of their own
	// (bearer tokens, root on the socket).
	Session bool
	Errors  map[string]string
}

// pagePassword is GET /account/password.
func (s *Server) pagePassword(c *fiber.Ctx) error {
	return s.renderPassword(c, fiber.StatusOK, nil, nil)
}

func (s *Server) renderPassword(c *fiber.Ctx, status int, errs map[string]string, flash *Flash) error {
	id := who(c)
	if errs == nil {
		errs = map[string]string{}
	}
	next := c.Query("next")
	if c.Method() == fiber.MethodPost {
		next = postValue(c, "next")
	}
	d := passwordPageData{Next: safeNext(next), MustChange: id.MustChangePassword, Session: id.Via == ViaSession, Errors: errs}
	return s.renderStatus(c, status, "password", "Change password", d, flash)
}

// pagePasswordPost is POST /account/password: the current password, the
// new one twice. On success the session is rotated (every other session
// of the user ends) and the browser goes on to next.
func (s *Server) pagePasswordPost(c *fiber.Ctx) error {
	in := admin.PasswordChange{CurrentPassword: postValue(c, "current_password"), NewPassword: postValue(c, "new_password")}
	if in.NewPassword != postValue(c, "confirm_password") {
		return s.renderPassword(c, fiber.StatusBadRequest, map[string]string{"confirm_password": "The two new passwords differ: type the same new password twice."},
			&Flash{Kind: "error", Message: "The two new passwords differ."})
	}
	u, err := s.changeOwnPassword(c, channelConsole, in)
	if err != nil {
		f, code, ferr := s.formError(err)
		if ferr != nil {
			return ferr
		}
		errs := map[string]string{}
		if fe, ok := asFieldError(err); ok && fe.Field != "" {
			errs[fe.Field] = fe.Msg
		}
		return s.renderPassword(c, code, errs, f)
	}
	se, err := s.startSession(c, u)
	if err != nil {
		return err
	}
	s.ui.sessions.setFlash(se, &Flash{Kind: "success", Message: "Your password was changed; your other sessions have ended."})
	return c.Redirect(safeNext(postValue(c, "next")), fiber.StatusSeeOther)
}
