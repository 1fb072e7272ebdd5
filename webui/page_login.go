package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"

	"github.com/gofiber/fiber/v2"

	"postdeck/store"
)

// loginCookie holds the token of the login form (double submit): a form on
// another site cannot log a browser in to an account of the attacker's.
const (
	loginCookie = "postdeck_login"
	loginField  = "login_token"
)

// loginPageData is the Data of views/login.html.
type loginPageData struct {
	Username string
	Next     string
	Token    string
	Error    string
}

// pageLogin is GET /login.
func (s *Server) pageLogin(c *fiber.Ctx) error {
	if id, ok := identity(c); ok {
		return c.Redirect(afterLogin(id.MustChangePassword, safeNext(c.Query("next"))), fiber.StatusSeeOther)
	}
	token, err := s.loginToken(c)
	if err != nil {
		return err
	}
	return s.render(c, "login", "Log in", loginPageData{Next: safeNext(c.Query("next")), Token: token})
}

// pageLoginPost is POST /login, the login form. Its fields are read from
// the body only, never from the query string.
func (s *Server) pageLoginPost(c *fiber.Ctx) error {
	data := loginPageData{Username: postValue(c, "username"), Next: safeNext(postValue(c, "next"))}
	token, err := s.loginToken(c)
	if err != nil {
		return err
	}
	data.Token = token
	sent := postValue(c, loginField)
	if sent == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(token)) != 1 {
		data.Error = "The login form expired. Please log in again."
		return s.renderStatus(c, fiber.StatusForbidden, "login", "Log in", data, nil)
	}
	password := postValue(c, "password")
	if data.Username == "" || password == "" {
		data.Error = "Enter your username and password."
		return s.renderStatus(c, fiber.StatusBadRequest, "login", "Log in", data, nil)
	}
	u, err := s.checkLogin(c, channelConsole, data.Username, password)
	var ce *clientError
	if errors.As(err, &ce) {
		data.Error = store.Sentence("%s", ce.msg)
		return s.renderStatus(c, ce.code, "login", "Log in", data, nil)
	}
	if err != nil {
		return err
	}
	if _, err := s.startSession(c, u); err != nil {
		return err
	}
	c.Cookie(&fiber.Cookie{Name: loginCookie, Path: "/login", MaxAge: -1, HTTPOnly: true, Secure: s.overHTTPS(c), SameSite: fiber.CookieSameSiteStrictMode})
	return c.Redirect(afterLogin(u.MustChangePassword, data.Next), fiber.StatusSeeOther)
}

// afterLogin is where a login goes: next, or first the password page for
// a user who must replace a one-time password (then next).
func afterLogin(mustChange bool, next string) string {
	if !mustChange {
		return next
	}
	if next == "/" {
		return passwordPath
	}
	return passwordPath + "?next=" + url.QueryEscape(next)
}

// loginToken returns the login form token of the browser's login cookie,
// or sets a new one. Reusing it keeps the page for a wrong password and an
// unknown user byte for byte the same.
func (s *Server) loginToken(c *fiber.Ctx) (string, error) {
	if t := c.Cookies(loginCookie); len(t) == 43 {
		return string([]byte(t)), nil
	}
	t, err := randomToken()
	if err != nil {
		return "", err
	}
	c.Cookie(&fiber.Cookie{Name: loginCookie, Value: t, Path: "/login", HTTPOnly: true, Secure: s.overHTTPS(c), SameSite: fiber.CookieSameSiteStrictMode})
	return t, nil
}

// pageLogoutPost is POST /logout, the button in the header.
func (s *Server) pageLogoutPost(c *fiber.Ctx) error {
	s.endSession(c)
	return c.Redirect("/login", fiber.StatusSeeOther)
}

// randomToken is 32 random bytes, base64url without padding (43
// characters): session ids, CSRF and login form tokens.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
