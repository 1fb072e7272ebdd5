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
	// SentID is the queue id Postfix gave the last message sent (after
	// the redirect), SentSender its envelope sender, for the links.
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

// pageSendmail is GET /sendmail: the form. After a successful send
// (?sent=ID) it also shows the queue id and where to find the message.
func (s *Server) pageSendmail(c *fiber.Ctx) error {
	d := sendmailPageData{Errors: map[string]string{}}
	if id := c.Query("sent"); admin.ValidQueueID(id) {
		d.SentID = strings.Clone(id)
		d.SentSender = strings.Clone(c.Query("sender"))
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
		// with one change), with one box that says what happened.
		d := sendmailPageData{Form: form, Errors: map[string]string{}, SentID: id, SentSender: envelopeSender(req)}
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
