package webui

import (
	"errors"
	"net/mail"
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// sendmailForm is the Send Mail form as typed, kept when it is refused.
type sendmailForm struct {
	Subject    string
	From       string
	Sender     string
	Recipients string
	BodyIsMIME bool
	Body       string
}

// sendmailPageData is the Data of views/sendmail.html.
type sendmailPageData struct {
	Form   sendmailForm
	Errors map[string]string // field (as in the API) -> sentence
	// SentID is the queue id Postfix gave the last message sent (shown
	// after the redirect), SentSender its envelope sender, for the links.
	SentID     string
	SentSender string
}

func sendmailFormFrom(c *fiber.Ctx) sendmailForm {
	return sendmailForm{
		Subject:    strings.Clone(c.FormValue("subject")),
		From:       strings.Clone(c.FormValue("from")),
		Sender:     strings.Clone(c.FormValue("sender")),
		Recipients: strings.Clone(c.FormValue("recipients")),
		BodyIsMIME: c.FormValue("body_is_mime") != "",
		Body:       strings.ReplaceAll(c.FormValue("body"), "\r\n", "\n"),
	}
}

// pageSendmail is GET /sendmail: the form. After a successful send (the
// redirect of pageSendmailPost) it is the form as typed with the queue id
// and where to find the message, kept in the session for this one page:
// a reload of it shows the empty form and sends nothing.
func (s *Server) pageSendmail(c *fiber.Ctx) error {
	d := sendmailPageData{Errors: map[string]string{}}
	if se := currentSession(c); se != nil {
		if sent := s.ui.sessions.takeSent(se); sent != nil {
			d = *sent
		}
	}
	return s.render(c, "sendmail", "Send Mail", d)
}

// pageSendmailPost is POST /sendmail: compose and submit the test mail to
// the local Postfix (queue.SendMail, as POST /api/v1/sendmail), then back
// to the form with the queue id; or the form again, as typed, with the
// error next to its field.
func (s *Server) pageSendmailPost(c *fiber.Ctx) error {
	form := sendmailFormFrom(c)
	req := admin.SendMailRequest{
		Subject: form.Subject, From: form.From, Sender: strings.TrimSpace(form.Sender),
		Recipients: admin.ParseAddressList(form.Recipients), BodyIsMIME: form.BodyIsMIME, Body: form.Body,
	}
	id, err := s.admin.SendMail(c.UserContext(), who(c), req)
	if err == nil {
		// The form stays as typed (a second test mail is often the same
		// with one change), with one box that says what happened, on
		// the page the redirect leads to: the page answered to the post
		// itself was posted again by a reload, which sent the mail
		// again. Without a session (the trusted socket) there is
		// nowhere to keep it: the page is the answer.
		d := sendmailPageData{Form: form, Errors: map[string]string{}, SentID: id, SentSender: envelopeSender(req)}
		if se := currentSession(c); se != nil {
			s.ui.sessions.setSent(se, &d)
			return c.Redirect("/sendmail", fiber.StatusSeeOther)
		}
		return s.renderStatus(c, fiber.StatusOK, "sendmail", "Send Mail", d, nil)
	}
	d := sendmailPageData{Form: form, Errors: map[string]string{}}
	flash, status, ferr := s.formError(err)
	if ferr != nil {
		return ferr
	}
	flash.Message = "The mail was not sent: " + flash.Message
	var fe *store.UserError
	if errors.As(err, &fe) && fe.Kind == store.ErrInvalid {
		field := fe.Field
		if field == "" {
			field = "body"
		}
		d.Errors[field] = fe.Msg
		flash.Message = "The mail was not sent: correct the field marked below."
	}
	return s.renderStatus(c, status, "sendmail", "Send Mail", d, flash)
}

// envelopeSender is the MAIL FROM a request used: Sender, or From's
// address; "" when neither parses (a MIME body's own From).
func envelopeSender(req admin.SendMailRequest) string {
	if req.Sender != "" {
		return req.Sender
	}
	if a, err := mail.ParseAddress(req.From); err == nil {
		return a.Address
	}
	return ""
}
